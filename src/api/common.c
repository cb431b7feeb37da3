#include <jansson.h>

#include "issuerhook/api.h"
#include "issuerhook/jsonutil.h"
#include "issuerhook/metrics.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"

json_t *api_parse_body(struct request *r, enum dialect d, const char *route)
{
    size_t len;
    const char *body = request_body(r, &len);
    struct jsonutil_error err;
    json_t *root = NULL;
    if (len == 0) {
        metrics_inc(M_VALIDATION_FAILURES, route);
        respond_error(r, d, 400, "Malformed JSON", "the body is empty", NULL);
        return NULL;
    }
    if (jsonutil_parse_strict(body, len, &root, &err) != IH_OK) {
        metrics_inc(M_VALIDATION_FAILURES, route);
        respond_error(r, d, 400, "Malformed JSON", err.message, NULL);
        return NULL;
    }
    return root;
}
