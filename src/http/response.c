#include "issuerhook/response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "issuerhook/crypto.h"
#include "issuerhook/request.h"
#include "issuerhook/timefmt.h"

static const char JSON[] = "application/json";
static const char PROBLEM[] = "application/problem+json";

static void reply_or_fail(struct request *r, unsigned status, const char *ctype, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        static const char fallback[] =
            "{\"error\":{\"message\":\"Service temporarily unavailable\",\"description\":\"out of memory\"}}";
        request_reply(r, 503, JSON, strdup(fallback), sizeof(fallback) - 1);
        request_add_header(r, "Retry-After", "1");
        return;
    }
    request_reply(r, status, ctype, text, strlen(text));
}

void respond_json(struct request *r, unsigned status, json_t *body)
{
    reply_or_fail(r, status, JSON, body);
}

/* "/items/0/pan" -> "items[0].pan" (Riverty's fieldReference). */
static void field_reference(const char *ptr, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = ptr;
    while (*p == '/' && n + 1 < cap) {
        p++;
        size_t seg = strcspn(p, "/");
        bool index = seg > 0 && strspn(p, "0123456789") >= seg;
        int w = index ? snprintf(out + n, cap - n, "[%.*s]", (int)seg, p)
                      : snprintf(out + n, cap - n, "%s%.*s", n ? "." : "", (int)seg, p);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
        p += seg;
    }
    out[n < cap ? n : cap - 1] = '\0';
}

static char *describe(const char *detail, const struct check_result *v)
{
    size_t cap = 256 + (v ? (v->n + 1) * (CHECK_POINTER_MAX + 170) : 0);
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t n = 0;
    if (detail)
        n += (size_t)snprintf(buf, cap, "%s", detail);
    for (size_t i = 0; v && i < v->n; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s: %s", n ? "; " : "",
                              v->v[i].pointer[0] ? v->v[i].pointer : "(document)", v->v[i].message);
    if (v && v->dropped)
        snprintf(buf + n, cap - n, "; and %zu more", v->dropped);
    return buf;
}

static const char *slug(unsigned status)
{
    switch (status) {
    case 400: return "invalid-request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not-found";
    case 405: return "method-not-allowed";
    case 409: return "conflict";
    case 413: return "payload-too-large";
    case 415: return "unsupported-media-type";
    case 429: return "too-many-requests";
    case 503: return "service-unavailable";
    default: return "error";
    }
}

/* The seed's Problem Response (v0.4.1) caps these (in characters). */
#define PROBLEM_TITLE_MAX 120
#define PROBLEM_DETAIL_MAX 256

/* s cut to at most max characters (code points), with "..." when cut. */
static json_t *bounded(const char *s, size_t max)
{
    size_t n = 0, chars = 0, keep = 0;
    for (; s[n]; n++) {
        if (((unsigned char)s[n] & 0xC0) == 0x80)
            continue; /* a continuation byte */
        if (chars == max - 3)
            keep = n;
        if (++chars > max)
            break;
    }
    if (chars <= max)
        return json_string(s);
    char buf[PROBLEM_DETAIL_MAX * 4 + 4];
    snprintf(buf, sizeof(buf), "%.*s...", (int)keep, s);
    return json_string(buf);
}

/* detail with every violation when that fits the seed's 256 characters; else a short
 * count (each violation is in problems[] anyway). */
static json_t *apiture_detail(const char *summary, const char *detail, const struct check_result *v)
{
    char *d = describe(detail, v);
    json_t *out = NULL;
    if (d && (!v || !v->n || strlen(d) <= PROBLEM_DETAIL_MAX)) {
        out = bounded(d, PROBLEM_DETAIL_MAX);
    } else if (v && v->n) {
        char buf[PROBLEM_DETAIL_MAX + 1];
        snprintf(buf, sizeof(buf), "%zu violations%s, each in problems with its pointer%s%s",
                 v->n + v->dropped, v->dropped ? " (the first ones listed)" : "", detail ? ": " : "",
                 detail ? detail : "");
        out = bounded(buf, PROBLEM_DETAIL_MAX);
    } else {
        out = bounded(summary, PROBLEM_DETAIL_MAX);
    }
    free(d);
    return out;
}

/* The seed's id pattern: ^[-_:.~$a-zA-Z0-9]{6,48}$ */
static bool problem_id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 6 && n <= 48 &&
           strspn(s, "-_:.~$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

static json_t *apiture_problem(struct request *r, unsigned status, const char *summary, const char *detail,
                               const struct check_result *v)
{
    char type[96], when[TIMEFMT_LEN], id[CRYPTO_UUID_STRLEN + 1];
    snprintf(type, sizeof(type), "https://issuerhook.dev/problems/%s", slug(status));
    timefmt_rfc3339_ms(timefmt_now_ms(), when);
    if (crypto_uuid4(id) != IH_OK)
        snprintf(id, sizeof(id), "%s", problem_id_ok(request_tracing_id(r)) ? request_tracing_id(r) : "unavailable");
    json_t *p = json_pack("{s:s, s:o, s:i, s:s, s:s, s:s}", "type", type, "title", bounded(summary, PROBLEM_TITLE_MAX),
                          "status", (int)status, "instance", request_path(r), "id", id, "occurredAt", when);
    if (!p)
        return NULL;
    json_object_set_new(p, "detail", apiture_detail(summary, detail, v));
    if (v && v->n) {
        json_t *arr = json_array();
        for (size_t i = 0; i < v->n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "type", type, "title", v->v[i].rule,
                                                 "detail", v->v[i].message, "attributes", "pointer",
                                                 v->v[i].pointer, "rule", v->v[i].rule));
        json_object_set_new(p, "problems", arr);
    }
    return p;
}

static json_t *riverty_messages(unsigned status, const char *summary, const char *detail,
                                const struct check_result *v)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    char ref[CHECK_POINTER_MAX];
    for (size_t i = 0; v && i < v->n; i++) {
        field_reference(v->v[i].pointer, ref, sizeof(ref));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "type", "BusinessError", "code",
                                             v->v[i].rule, "message", v->v[i].message, "fieldReference", ref));
    }
    if (!v || !v->n)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "type", status >= 500 ? "TechnicalError" : "BusinessError",
                                             "code", slug(status), "message", detail ? detail : summary));
    return arr;
}

void respond_error(struct request *r, enum dialect d, unsigned status, const char *summary, const char *detail,
                   const struct check_result *v)
{
    if (d == DIALECT_APITURE) {
        reply_or_fail(r, status, PROBLEM, apiture_problem(r, status, summary, detail, v));
    } else if (d == DIALECT_RIVERTY) {
        if (status == 401) {
            /* the seed's wording, verbatim */
            reply_or_fail(r, status, JSON, json_pack("{s:s}", "message", "Authorization has been denied for this request."));
            return;
        }
        reply_or_fail(r, status, JSON, riverty_messages(status, summary, detail, v));
    } else {
        char *desc = describe(detail, v);
        reply_or_fail(r, status, JSON,
                      json_pack("{s:{s:s, s:s}}", "error", "message", summary, "description", desc ? desc : summary));
        free(desc);
    }
}

void respond_unavailable_because(struct request *r, enum dialect d, unsigned retry_after_s, const char *detail)
{
    char ra[16];
    snprintf(ra, sizeof(ra), "%u", retry_after_s);
    respond_error(r, d, 503, "Service temporarily unavailable", detail, NULL);
    request_add_header(r, "Retry-After", ra);
}

void respond_unavailable(struct request *r, enum dialect d, unsigned retry_after_s)
{
    respond_unavailable_because(r, d, retry_after_s,
                "the store cannot take the write right now; nothing was stored; retry after the given delay");
}

void respond_read_unavailable(struct request *r, enum dialect d, unsigned retry_after_s)
{
    respond_unavailable_because(r, d, retry_after_s, "the store cannot be read right now; retry after the given delay");
}
