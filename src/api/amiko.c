/* Amiko event notification: POST /events and POST /domain-events.
 * check -> map to a store_event (idempotency key: header.eventId) -> writer -> answer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/check_amiko.h"
#include "issuerhook/config.h"
#include "issuerhook/events.h"
#include "issuerhook/jsonutil.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"

/* What differs between the two routes. */
struct amiko_kind {
    const char *route;
    const char *source;
    const char *type_field; /* "type" or "event_name" */
    void (*check)(const json_t *root, struct check_result *res);
    bool (*known)(const char *type);
    bool domain;
};

static const struct amiko_kind kind_event = {"/events", "amiko.event", "type", check_amiko_event,
                                             check_amiko_event_type_known, false};
static const struct amiko_kind kind_domain = {"/domain-events", "amiko.domain_event", "event_name",
                                              check_amiko_domain_event, check_amiko_domain_event_known, true};

struct amiko_job {
    struct store_event ev; /* first: the writer job */
    struct request *req;
    const struct amiko_kind *kind;
    const struct app *app;
    bool known_type;
};

static void job_free(void *p)
{
    struct amiko_job *j = p;
    events_clear(&j->ev);
    free(j);
}

static void on_stored(struct writer_job *wj, ih_status rc)
{
    struct amiko_job *j = (struct amiko_job *)wj;
    struct store_event *ev = &j->ev;
    struct request *r = j->req;
    if (rc != IH_OK) {
        request_note(r, "store_unavailable");
        respond_unavailable(r, DIALECT_AMIKO, j->app->cfg->retry_after_s);
    } else if (ev->outcome == EVENTS_CONFLICT) {
        metrics_inc(M_CONFLICTS, ev->source);
        request_note(r, "conflict");
        respond_error(r, DIALECT_AMIKO, 409, "Conflict",
                      "an event with this eventId was already received with a different payload; nothing was stored",
                      NULL);
    } else if (ev->outcome == EVENTS_REPLAY) {
        metrics_inc(M_DUPLICATES, ev->source);
        request_note(r, "replay");
        request_reply(r, ev->stored_status, "application/json", ev->stored_response, strlen(ev->stored_response));
        ev->stored_response = NULL; /* the request owns it now */
    } else {
        metrics_inc(M_RECORDS_STORED, ev->source);
        if (!j->known_type) {
            metrics_inc(M_UNKNOWN_TYPES, ev->source);
            log_msg(LOG_INFO, "stored an event of a type this version does not know", "tracing_id",
                    ev->tracing_id, "route", j->kind->route, "event_type", ev->type, NULL);
        }
        if (ev->serial_note != EVENTS_SERIAL_NONE) {
            const char *kind = ev->serial_note == EVENTS_SERIAL_STALE ? "stale" : "gap";
            char ser[24], last[24];
            snprintf(ser, sizeof(ser), "%lld", (long long)ev->serial);
            snprintf(last, sizeof(last), "%lld", (long long)ev->serial_last);
            metrics_inc(M_SERIAL_ANOMALIES, kind);
            log_msg(LOG_WARN,
                    ev->serial_note == EVENTS_SERIAL_STALE ? "domain event serial not above the last stored one"
                                                           : "domain event serials skipped",
                    "tracing_id", ev->tracing_id, "entity_type", ev->entity_type, "entity_id", ev->entity_id,
                    "serial", ser, "last_serial", last, "event_id", ev->key, NULL);
        }
        request_reply(r, ev->status, "application/json", ev->response, strlen(ev->response));
        ev->response = NULL;
    }
    request_resume(r);
}

static char *dup_string(const json_t *v)
{
    return strdup(json_string_value(v) ? json_string_value(v) : "");
}

/* Fills ev from a valid document (its card numbers already masked). */
static ih_status map_event(const struct amiko_kind *k, const json_t *root, const struct jsonutil_numbers *nums,
                           struct request *r, struct store_event *ev)
{
    const json_t *header = json_object_get(root, "header");
    const json_t *event = json_object_get(root, "event");
    const char *event_id = json_string_value(json_object_get(header, "eventId"));
    ih_status rc;
    ev->job.kind = WRITER_JOB_EVENT;
    ev->source = k->source;
    for (size_t i = 0; i <= 36; i++) /* UUIDs compare case-insensitively */
        ev->key[i] = (char)tolower((unsigned char)event_id[i]);
    snprintf(ev->tracing_id, sizeof(ev->tracing_id), "%s", request_tracing_id(r));
    ev->received_ms = request_received_ms(r);
    ev->occurred_ms = (int64_t)json_integer_value(json_object_get(header, "generatedAt"));
    ev->type = dup_string(json_object_get(event, k->type_field));
    size_t body_len;
    (void)request_body(r, &body_len);
    if ((rc = jsonutil_canonical_hash(root, nums, body_len, ev->hash, &ev->payload, &ev->payload_len)) != IH_OK)
        return rc;
    ev->status = 200;
    /* eventId is a checked UUID: nothing in it needs escaping */
    if (asprintf(&ev->response, "{\"status\":\"accepted\",\"eventId\":\"%s\"}", event_id) < 0)
        ev->response = NULL;
    if (k->domain) {
        const json_t *entity = json_object_get(header, "entity");
        ev->has_serial = true;
        ev->entity_type = dup_string(json_object_get(entity, "type"));
        ev->entity_id = dup_string(json_object_get(entity, "id"));
        ev->serial = (int64_t)json_integer_value(json_object_get(header, "serial"));
        if (!ev->entity_type || !ev->entity_id)
            return IH_ENOMEM;
    }
    return ev->type && ev->response ? IH_OK : IH_ENOMEM;
}

static void post(struct request *r, struct app *app, const struct amiko_kind *k)
{
    struct jsonutil_numbers *nums = NULL;
    json_t *root = api_parse_body(r, app, DIALECT_AMIKO, k->route, &nums);
    struct amiko_job *j = NULL;
    if (!root)
        return;
    struct check_result res = {0};
    k->check(root, &res);
    if (res.n || res.dropped) {
        metrics_inc(M_VALIDATION_FAILURES, k->route);
        respond_error(r, DIALECT_AMIKO, 400, "Invalid request", NULL, &res);
        check_result_clear(&res);
        goto done;
    }
    if (!api_mask_card_numbers(r, app, DIALECT_AMIKO, k->route, root, NULL))
        goto done;
    j = calloc(1, sizeof(*j));
    ih_status rc = j ? map_event(k, root, nums, r, &j->ev) : IH_ENOMEM;
    if (rc != IH_OK) {
        respond_unavailable(r, DIALECT_AMIKO, app->cfg->retry_after_s);
        goto done;
    }
    j->known_type = k->known(j->ev.type);
    j->req = r;
    j->kind = k;
    j->app = app;
    j->ev.job.done = on_stored;
    request_set_state(r, j, job_free);
    request_suspend(r);
    writer_submit(app->writer, &j->ev.job);
    j = NULL; /* the request's now */
done:
    if (j)
        job_free(j);
    json_decref(root);
    jsonutil_numbers_free(nums);
}

void amiko_post_event(struct request *r, struct app *app)
{
    post(r, app, &kind_event);
}

void amiko_post_domain_event(struct request *r, struct app *app)
{
    post(r, app, &kind_domain);
}
