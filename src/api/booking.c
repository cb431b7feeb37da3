/* The Amiko booking API: POST /bookings (Amiko), POST /bookings/{id}/result,
 * GET /bookings/{id} and GET /bookings?status= (ledger workers). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/bookings.h"
#include "issuerhook/callback.h"
#include "issuerhook/check_booking.h"
#include "issuerhook/config.h"
#include "issuerhook/jsonutil.h"
#include "issuerhook/metrics.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"
#include "issuerhook/timefmt.h"

#define ROUTE_BOOKINGS "/bookings"
#define ROUTE_RESULT "/bookings/{amikoBookingId}/result"
#define LIST_MAX 1000

/* The seed's response shape: {status, amikoBookingId, issuerBookingId?, failure?}. */
static json_t *state_json(const struct booking_state *s)
{
    json_t *j = json_pack("{s:s, s:s}", "status", booking_status_name(s->status), "amikoBookingId", s->id);
    if (j && s->issuer_booking_id)
        json_object_set_new(j, "issuerBookingId", json_string(s->issuer_booking_id));
    if (j && s->failure_reason)
        json_object_set_new(j, "failure", json_pack("{s:s, s:s}", "reason", s->failure_reason, "code",
                                                     s->failure_code ? s->failure_code : ""));
    return j;
}

static char *state_text(const struct booking_state *s)
{
    json_t *j = state_json(s);
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return t;
}

/* Lower-cases a UUID into out (37 bytes); false when id is not a UUID. */
static bool booking_id(const char *id, char *out)
{
    if (!id || !check_is_uuid(id, strlen(id)))
        return false;
    for (size_t i = 0; i <= 36; i++)
        out[i] = (char)tolower((unsigned char)id[i]);
    return true;
}

/* The path's {amikoBookingId} is not a UUID: 400 in Amiko's dialect. */
static void bad_booking_id(struct request *r)
{
    respond_error(r, DIALECT_AMIKO, 400, "Invalid request", "amikoBookingId in the path: must be a UUID", NULL);
}

/* Parses and checks a body and masks the card numbers in it; on failure answers 400
 * (Amiko) and returns NULL. Caller owns the result and *nums. */
static json_t *checked_body(struct request *r, const struct app *app, const char *route,
                            void (*check)(const json_t *, struct check_result *), struct jsonutil_numbers **nums)
{
    json_t *root = api_parse_body(r, app, DIALECT_AMIKO, route, nums);
    if (!root)
        return NULL;
    struct check_result res = {0};
    check(root, &res);
    if (res.n || res.dropped) {
        metrics_inc(M_VALIDATION_FAILURES, route);
        respond_error(r, DIALECT_AMIKO, 400, "Invalid request", NULL, &res);
        check_result_clear(&res);
    } else if (api_mask_card_numbers(r, app, DIALECT_AMIKO, route, root, NULL)) {
        return root;
    }
    json_decref(root);
    jsonutil_numbers_free(*nums);
    *nums = NULL;
    return NULL;
}

/* Fills the record part shared by both writes. */
static ih_status fill_record(struct store_event *ev, const char *source, const char *type, const char *id,
                             const json_t *root, const struct jsonutil_numbers *nums, struct request *r)
{
    size_t len;
    (void)request_body(r, &len);
    ev->source = source;
    snprintf(ev->key, sizeof(ev->key), "%s", id);
    snprintf(ev->tracing_id, sizeof(ev->tracing_id), "%s", request_tracing_id(r));
    ev->received_ms = request_received_ms(r);
    ev->occurred_ms = -1;
    ev->status = 200;
    ev->type = strdup(type);
    if (!ev->type)
        return IH_ENOMEM;
    return jsonutil_canonical_hash(root, nums, len, ev->hash, &ev->payload, &ev->payload_len);
}

/* ---- POST /bookings ---- */

struct request_ctx {
    struct booking_request_job job; /* first */
    struct request *req;
    const struct app *app;
};

static void request_ctx_free(void *p)
{
    struct request_ctx *c = p;
    events_clear(&c->job.ev);
    booking_state_clear(&c->job.state);
    free(c);
}

static void on_booking_stored(struct writer_job *wj, ih_status rc)
{
    struct request_ctx *c = (struct request_ctx *)wj;
    struct store_event *ev = &c->job.ev;
    struct request *r = c->req;
    if (rc != IH_OK) {
        request_note(r, "store_unavailable");
        respond_unavailable(r, DIALECT_AMIKO, c->app->cfg->retry_after_s);
    } else if (ev->outcome == EVENTS_CONFLICT) {
        metrics_inc(M_CONFLICTS, ev->source);
        request_note(r, "conflict");
        respond_error(r, DIALECT_AMIKO, 409, "Conflict",
                      "a booking with this amikoBookingId was already received with a different payload; "
                      "nothing was stored",
                      NULL);
    } else {
        if (ev->outcome == EVENTS_REPLAY) {
            metrics_inc(M_DUPLICATES, ev->source);
            request_note(r, "replay");
        } else {
            metrics_inc(M_RECORDS_STORED, ev->source);
        }
        respond_json(r, 200, state_json(&c->job.state)); /* a replay answers the current state */
    }
    request_resume(r);
}

void booking_post(struct request *r, struct app *app)
{
    struct jsonutil_numbers *nums = NULL;
    json_t *root = checked_body(r, app, ROUTE_BOOKINGS, check_booking, &nums);
    if (!root)
        return;
    struct request_ctx *c = calloc(1, sizeof(*c));
    char id[37];
    booking_id(json_string_value(json_object_get(root, "amikoBookingId")), id);
    ih_status rc = c ? fill_record(&c->job.ev, "amiko.booking", "booking_request", id, root, nums, r) : IH_ENOMEM;
    if (rc == IH_OK) {
        struct booking_state pending = {.status = BOOKING_PENDING};
        snprintf(pending.id, sizeof(pending.id), "%s", id);
        if (!(c->job.ev.response = state_text(&pending)))
            rc = IH_ENOMEM;
    }
    json_decref(root);
    jsonutil_numbers_free(nums);
    if (rc != IH_OK) {
        if (c)
            request_ctx_free(c);
        respond_unavailable(r, DIALECT_AMIKO, app->cfg->retry_after_s);
        return;
    }
    c->job.ev.job.kind = WRITER_JOB_BOOKING_REQUEST;
    c->job.ev.job.done = on_booking_stored;
    c->req = r;
    c->app = app;
    request_set_state(r, c, request_ctx_free);
    request_suspend(r);
    writer_submit(app->writer, &c->job.ev.job);
}

/* ---- POST /bookings/{id}/result ---- */

struct result_ctx {
    struct booking_result_job job; /* first */
    struct request *req;
    const struct app *app;
};

static void result_ctx_free(void *p)
{
    struct result_ctx *c = p;
    booking_result_job_clear(&c->job);
    free(c);
}

static void on_result_stored(struct writer_job *wj, ih_status rc)
{
    struct result_ctx *c = (struct result_ctx *)wj;
    struct request *r = c->req;
    if (rc != IH_OK) {
        request_note(r, "store_unavailable");
        respond_unavailable(r, DIALECT_AMIKO, c->app->cfg->retry_after_s);
    } else if (c->job.outcome == BOOKING_RESULT_NOT_FOUND) {
        respond_error(r, DIALECT_AMIKO, 404, "Not Found", "no booking has this amikoBookingId", NULL);
    } else if (c->job.outcome == BOOKING_RESULT_CONFLICT) {
        metrics_inc(M_CONFLICTS, c->job.rec.source);
        request_note(r, "conflict");
        respond_error(r, DIALECT_AMIKO, 409, "Conflict",
                      "the booking already has another result; only pending -> completed or failed is allowed",
                      NULL);
    } else {
        if (c->job.outcome == BOOKING_RESULT_APPLIED) {
            metrics_inc(M_RECORDS_STORED, c->job.rec.source);
            callback_notify(c->app->callback);
        } else {
            metrics_inc(M_DUPLICATES, c->job.rec.source);
            request_note(r, "replay");
        }
        respond_json(r, 200, state_json(&c->job.state));
    }
    request_resume(r);
}

static char *dup_opt(const json_t *v)
{
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

void booking_post_result(struct request *r, struct app *app)
{
    char id[37];
    if (!booking_id(request_param(r, 0), id)) {
        bad_booking_id(r);
        return;
    }
    struct jsonutil_numbers *nums = NULL;
    json_t *root = checked_body(r, app, ROUTE_RESULT, check_booking_result, &nums);
    if (!root)
        return;
    char echoed[37];
    if (json_object_get(root, "amikoBookingId") &&
        (!booking_id(json_string_value(json_object_get(root, "amikoBookingId")), echoed) || strcmp(echoed, id))) {
        struct check_result res = {0};
        struct check_ctx ctx;
        check_init(&ctx, &res);
        size_t saved = check_push_key(&ctx, "amikoBookingId");
        check_fail(&ctx, "const", "must be the amikoBookingId of the path");
        check_pop(&ctx, saved);
        metrics_inc(M_VALIDATION_FAILURES, ROUTE_RESULT);
        respond_error(r, DIALECT_AMIKO, 400, "Invalid request", NULL, &res);
        check_result_clear(&res);
        json_decref(root);
        jsonutil_numbers_free(nums);
        return;
    }
    struct result_ctx *c = calloc(1, sizeof(*c));
    const char *status = json_string_value(json_object_get(root, "status")); /* checked: completed | failed */
    json_object_set_new(root, "amikoBookingId", json_string(id)); /* the record names its booking */
    ih_status rc = c ? fill_record(&c->job.rec, "amiko.booking_result", status, id, root, nums, r) : IH_ENOMEM;
    if (rc == IH_OK) {
        struct booking_result_job *j = &c->job;
        const json_t *failure = json_object_get(root, "failure");
        booking_status_parse(json_string_value(json_object_get(root, "status")), &j->status);
        j->issuer_booking_id = dup_opt(json_object_get(root, "issuerBookingId"));
        j->failure_reason = dup_opt(json_object_get(failure, "reason"));
        j->failure_code = dup_opt(json_object_get(failure, "code"));
        struct booking_state s = {.status = j->status, .issuer_booking_id = j->issuer_booking_id,
                                  .failure_reason = j->failure_reason, .failure_code = j->failure_code};
        snprintf(s.id, sizeof(s.id), "%s", id);
        j->callback_body = state_text(&s); /* what Amiko gets: the seed's shape */
        j->rec.response = state_text(&s);
        if (!j->callback_body || !j->rec.response)
            rc = IH_ENOMEM;
    }
    json_decref(root);
    jsonutil_numbers_free(nums);
    if (rc != IH_OK) {
        if (c)
            result_ctx_free(c);
        respond_unavailable(r, DIALECT_AMIKO, app->cfg->retry_after_s);
        return;
    }
    c->job.job.kind = WRITER_JOB_BOOKING_RESULT;
    c->job.job.done = on_result_stored;
    c->req = r;
    c->app = app;
    request_set_state(r, c, result_ctx_free);
    request_suspend(r);
    writer_submit(app->writer, &c->job.job);
}

/* ---- GET ---- */

static json_t *view_json(const struct booking_view *v)
{
    char created[TIMEFMT_LEN], updated[TIMEFMT_LEN];
    timefmt_rfc3339_ms(v->created_at, created);
    timefmt_rfc3339_ms(v->updated_at, updated);
    json_t *j = state_json(&v->state);
    json_t *req = json_loads(v->request, 0, NULL);
    if (!j || !req) {
        json_decref(j);
        json_decref(req);
        return NULL;
    }
    json_object_set_new(j, "tracingId", json_string(v->tracing_id));
    json_object_set_new(j, "receivedAt", json_string(created));
    json_object_set_new(j, "updatedAt", json_string(updated));
    json_object_set_new(j, "request", req);
    json_t *cb = json_pack("{s:s, s:I}", "state", v->has_callback ? v->callback_state : "none", "attempts",
                           (json_int_t)v->attempts);
    if (cb && v->has_callback) {
        char t[TIMEFMT_LEN];
        if (!strcmp(v->callback_state, "pending")) {
            timefmt_rfc3339_ms(v->next_attempt_at, t);
            json_object_set_new(cb, "nextAttemptAt", json_string(t));
        }
        if (v->delivered_at) {
            timefmt_rfc3339_ms(v->delivered_at, t);
            json_object_set_new(cb, "deliveredAt", json_string(t));
        }
        if (v->last_status)
            json_object_set_new(cb, "lastStatus", json_integer(v->last_status));
        if (v->last_error)
            json_object_set_new(cb, "lastError", json_string(v->last_error));
    }
    json_object_set_new(j, "callback", cb);
    return j;
}

void booking_get(struct request *r, struct app *app)
{
    char id[37];
    struct booking_view v;
    if (!booking_id(request_param(r, 0), id)) {
        bad_booking_id(r);
        return;
    }
    ih_status rc = bookings_get(app->store, id, &v);
    if (rc == IH_ENOTFOUND) {
        respond_error(r, DIALECT_AMIKO, 404, "Not Found", "no booking has this amikoBookingId", NULL);
        return;
    }
    if (rc != IH_OK) {
        respond_read_unavailable(r, DIALECT_AMIKO, app->cfg->retry_after_s);
        return;
    }
    respond_json(r, 200, view_json(&v));
    booking_view_clear(&v);
}

/* Whole decimal number in [min, max]. */
static bool parse_num(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s || strlen(s) > 19 || strspn(s, "0123456789") != strlen(s))
        return false;
    long long v = strtoll(s, NULL, 10);
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Adds "; what" (or "what" first) to buf. */
static void append_why(char *buf, size_t cap, const char *what)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n ? "; " : "", what);
}

void booking_list(struct request *r, struct app *app)
{
    enum booking_status st = BOOKING_PENDING;
    long long after = 0, limit = 100;
    const char *qs = request_query(r, "status"), *qa = request_query(r, "after"), *ql = request_query(r, "limit");
    char why[256] = ""; /* each bad parameter, named */
    if (qs && !booking_status_parse(qs, &st))
        append_why(why, sizeof(why), "status: must be pending, completed or failed");
    if (qa && !parse_num(qa, 0, INT64_MAX, &after))
        append_why(why, sizeof(why), "after: must be a cursor from next (a whole number)");
    if (ql && !parse_num(ql, 1, LIST_MAX, &limit))
        append_why(why, sizeof(why), "limit: must be a whole number from 1 to 1000");
    if (why[0]) {
        respond_error(r, DIALECT_AMIKO, 400, "Invalid request", why, NULL);
        return;
    }
    struct booking_view *v;
    size_t n;
    if (bookings_list(app->store, st, after, (size_t)limit, &v, &n) != IH_OK) {
        respond_read_unavailable(r, DIALECT_AMIKO, app->cfg->retry_after_s);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(items, view_json(&v[i]));
        booking_view_clear(&v[i]);
    }
    json_t *body = json_pack("{s:o}", "items", items);
    if (body && n == (size_t)limit) {
        char next[24];
        snprintf(next, sizeof(next), "%lld", (long long)v[n - 1].seq);
        json_object_set_new(body, "next", json_string(next));
    } else if (body) {
        json_object_set_new(body, "next", json_null());
    }
    free(v);
    respond_json(r, 200, body);
}
