#include <jansson.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/jsonutil.h"
#include "issuerhook/metrics.h"
#include "issuerhook/panscan.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"

json_t *api_parse_body(struct request *r, const struct app *app, enum dialect d, const char *route,
                       struct jsonutil_numbers **nums)
{
    size_t len;
    const char *body = request_body(r, &len);
    struct jsonutil_error err;
    json_t *root = NULL;
    *nums = NULL;
    if (len == 0) {
        metrics_inc(M_VALIDATION_FAILURES, route);
        respond_error(r, d, 400, "Malformed JSON", "the body is empty", NULL);
        return NULL;
    }
    ih_status rc = jsonutil_parse_strict(body, len, &root, nums, &err);
    if (rc == IH_EINVAL) {
        metrics_inc(M_VALIDATION_FAILURES, route);
        respond_error(r, d, 400, "Malformed JSON", err.message, NULL);
        return NULL;
    }
    if (rc != IH_OK) {
        respond_unavailable(r, d, app->cfg->retry_after_s);
        return NULL;
    }
    return root;
}

bool api_mask_card_numbers(struct request *r, const struct app *app, enum dialect d, const char *route, json_t *v,
                           const char *const *skip)
{
    size_t n = 0;
    ih_status rc = panscan_json(v, skip, &n);
    for (size_t i = 0; i < n; i++)
        metrics_inc(M_CARD_NUMBERS_MASKED, route);
    if (rc == IH_EINVAL) {
        metrics_inc(M_VALIDATION_FAILURES, route);
        respond_error(r, d, 400, "Bad Request",
                      "two property names of one object hold card numbers that mask alike; send card numbers as "
                      "values, not as names", NULL);
    } else if (rc != IH_OK) {
        respond_unavailable(r, d, app->cfg->retry_after_s);
    }
    return rc == IH_OK;
}
