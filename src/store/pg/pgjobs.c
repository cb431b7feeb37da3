/* Writer jobs and the job functions of migrations/postgresql/: each kind's parameters from
 * its struct (pgstmts.h gives their order), and its outcome row back into the struct's
 * outputs, as src/store/sqlite/{events,bookings,cards,outbox}.c set them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/cards.h"
#include "issuerhook/crypto.h"
#include "issuerhook/events.h"
#include "issuerhook/log.h"
#include "pginternal.h"
#include "pgstmts.h"

static void set_call(struct pgbatch_call *call, const struct pgstmt *stmt, int n, struct pg_job_params *p)
{
    memset(call, 0, sizeof(*call));
    call->stmt = stmt;
    call->nparams = n;
    call->values = p->values;
    call->lengths = p->lengths;
    call->formats = p->formats;
}

/* p->num[slot] = v; its address. */
static const char *num(struct pg_job_params *p, int slot, long long v)
{
    snprintf(p->num[slot], sizeof(p->num[slot]), "%lld", v);
    return p->num[slot];
}

static void hash_at(struct pg_job_params *p, int i, const unsigned char *hash)
{
    p->values[i] = (const char *)hash;
    p->lengths[i] = CRYPTO_SHA256_LEN;
    p->formats[i] = 1; /* bytea, binary */
}

/* ih_put_record's first ten parameters from ev, at p->values[at..at+9] (hash at at+2). */
static void record_params(struct pg_job_params *p, int at, const struct store_event *ev)
{
    const char **v = p->values + at;
    v[0] = ev->source;
    v[1] = ev->key;
    hash_at(p, at + 2, ev->hash);
    v[3] = ev->type;
    v[4] = ev->tracing_id;
    v[5] = num(p, 0, ev->received_ms);
    v[6] = ev->occurred_ms >= 0 ? num(p, 1, ev->occurred_ms) : NULL;
    v[7] = ev->payload;
    v[8] = num(p, 2, ev->status);
    v[9] = ev->response;
}

static void event_call(struct store_event *ev, struct pg_job_params *p, struct pgbatch_call *call)
{
    record_params(p, 0, ev);
    p->values[10] = ev->has_serial ? ev->entity_type : NULL;
    p->values[11] = ev->has_serial ? ev->entity_id : NULL;
    p->values[12] = ev->has_serial ? num(p, 3, ev->serial) : NULL;
    set_call(call, &pgstmts_put_record, PGSTMTS_PUT_RECORD_NPARAMS, p);
}

/* ih_booking_result: id, status, the result's fields, the callback, then the record's
 * source, hash, type, tracing_id, received, occurred, payload, status, response. */
static void result_call(struct booking_result_job *r, struct pg_job_params *p, struct pgbatch_call *call)
{
    const struct store_event *ev = &r->rec;
    const char **v = p->values;
    v[0] = ev->key;
    v[1] = booking_status_name(r->status);
    v[2] = r->issuer_booking_id;
    v[3] = r->failure_reason;
    v[4] = r->failure_code;
    v[5] = r->callback_body;
    v[6] = ev->source;
    hash_at(p, 7, ev->hash);
    v[8] = ev->type;
    v[9] = ev->tracing_id;
    v[10] = num(p, 0, ev->received_ms);
    v[11] = ev->occurred_ms >= 0 ? num(p, 1, ev->occurred_ms) : NULL;
    v[12] = ev->payload;
    v[13] = num(p, 2, ev->status);
    v[14] = ev->response;
    set_call(call, &pgstmts_booking_result, PGSTMTS_BOOKING_RESULT_NPARAMS, p);
}

/* One card item as ih_card_batch reads it (see migrations/postgresql/0003). */
static json_t *card_item(const struct card_item *it)
{
    const struct store_event *ev = &it->ev;
    char hash[2 * CRYPTO_SHA256_LEN + 1];
    crypto_hex(ev->hash, CRYPTO_SHA256_LEN, hash);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:s%, s:i, s:s, s:s, s:s, s:s, s:s, s:o}",
                          "source", ev->source, "key", ev->key, "hash", hash, "type", ev->type, "tracing_id",
                          ev->tracing_id, "received", (json_int_t)ev->received_ms, "occurred",
                          ev->occurred_ms >= 0 ? json_integer(ev->occurred_ms) : json_null(), "payload",
                          ev->payload, ev->payload_len, "status", (int)ev->status, "response", ev->response,
                          "pan_token", it->pan.token, "pan_lead", it->pan.lead, "pan_last4", it->pan.last4,
                          "pan_key_id", it->pan.key_id, "tax_id_token",
                          it->has_tax_id ? json_string(it->tax_id_token) : json_null());
    crypto_wipe(hash, sizeof(hash));
    return o;
}

static ih_status card_call(struct card_batch_job *b, struct pg_job_params *p, struct pgbatch_call *call)
{
    json_t *items = json_array();
    for (size_t i = 0; items && i < b->n; i++)
        if (json_array_append_new(items, card_item(&b->items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    p->json = items ? json_dumps(items, JSON_COMPACT) : NULL;
    json_decref(items);
    if (!p->json)
        return IH_ENOMEM;
    p->json_len = strlen(p->json);
    const char **v = p->values;
    v[0] = p->json;
    v[1] = b->idem_scope;
    v[2] = b->has_idem ? b->idem_key : NULL;
    hash_at(p, 3, b->request_hash);
    v[4] = num(p, 0, b->status);
    v[5] = b->response ? b->response : "";
    v[6] = num(p, 1, b->n ? b->items[0].ev.received_ms : 0);
    set_call(call, &pgstmts_card_batch, PGSTMTS_CARD_BATCH_NPARAMS, p);
    return IH_OK;
}

static void mark_call(struct outbox_mark_job *m, const char *node, struct pg_job_params *p, struct pgbatch_call *call)
{
    static const char *const what[] = {[OUTBOX_DELIVERED] = "delivered", [OUTBOX_RETRY] = "retry",
                                       [OUTBOX_DEAD] = "dead"};
    const char **v = p->values;
    v[0] = num(p, 0, m->id);
    v[1] = node;
    v[2] = what[m->what];
    v[3] = num(p, 1, m->at_ms);
    v[4] = num(p, 2, m->what == OUTBOX_RETRY ? m->next_at_ms : m->at_ms);
    v[5] = m->http_status ? num(p, 3, m->http_status) : NULL;
    v[6] = m->what != OUTBOX_DELIVERED && m->error[0] ? m->error : NULL;
    set_call(call, &pgstmts_outbox_mark, PGSTMTS_OUTBOX_MARK_NPARAMS, p);
}

ih_status pg_job_call(struct writer_job *j, const char *node, struct pg_job_params *p, struct pgbatch_call *call)
{
    switch (j->kind) {
    case WRITER_JOB_EVENT: event_call((struct store_event *)j, p, call); return IH_OK;
    case WRITER_JOB_BOOKING_REQUEST:
        record_params(p, 0, &((struct booking_request_job *)j)->ev);
        set_call(call, &pgstmts_booking_request, PGSTMTS_BOOKING_REQUEST_NPARAMS, p);
        return IH_OK;
    case WRITER_JOB_BOOKING_RESULT: result_call((struct booking_result_job *)j, p, call); return IH_OK;
    case WRITER_JOB_CARD_BATCH: return card_call((struct card_batch_job *)j, p, call);
    case WRITER_JOB_OUTBOX_MARK: mark_call((struct outbox_mark_job *)j, node, p, call); return IH_OK;
    case WRITER_JOB_NONE:
    default: return IH_EINVAL; /* a job nobody said what it is: a bug, failed alone */
    }
}

void pg_job_params_clear(struct pg_job_params *p)
{
    if (p->json) {
        crypto_wipe(p->json, p->json_len); /* the items' tokens */
        free(p->json);
    }
    p->json = NULL;
    p->json_len = 0;
}
