/* Riverty-style customer-account events: POST /api/v3/customer-account/{accountNumber}/event.
 * Idempotent on accountTransactionId within the account, else on the canonical body;
 * a duplicate answers the first transactionId with eventAdded false. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/check_riverty.h"
#include "issuerhook/config.h"
#include "issuerhook/events.h"
#include "issuerhook/jsonutil.h"
#include "issuerhook/metrics.h"
#include "issuerhook/panscan.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"
#include "issuerhook/timefmt.h"
#include "issuerhook/tokenize.h"

#define ROUTE "/api/v3/customer-account/{accountNumber}/event"
#define SOURCE "riverty.event"

struct riverty_job {
    struct store_event ev; /* first: the writer job */
    struct request *req;
    const struct app *app;
};

static void job_free(void *p)
{
    struct riverty_job *j = p;
    events_clear(&j->ev);
    free(j);
}

/* The first answer again, with eventAdded false. */
static char *as_duplicate(const char *first)
{
    json_t *j = json_loads(first, 0, NULL);
    char *out = NULL;
    if (j && json_object_set_new(j, "eventAdded", json_false()) == 0)
        out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return out;
}

static void on_stored(struct writer_job *wj, ih_status rc)
{
    struct riverty_job *j = (struct riverty_job *)wj;
    struct store_event *ev = &j->ev;
    struct request *r = j->req;
    char *dup;
    if (rc != IH_OK) {
        request_note(r, "store_unavailable");
        respond_unavailable(r, DIALECT_RIVERTY, j->app->cfg->retry_after_s);
    } else if (ev->outcome == EVENTS_CONFLICT) {
        metrics_inc(M_CONFLICTS, SOURCE);
        request_note(r, "conflict");
        respond_error(r, DIALECT_RIVERTY, 409, "Conflict",
                      "an event with this accountTransactionId was already added to this account with other data; "
                      "nothing was stored",
                      NULL);
    } else if (ev->outcome == EVENTS_REPLAY) {
        metrics_inc(M_DUPLICATES, SOURCE);
        request_note(r, "replay");
        if ((dup = as_duplicate(ev->stored_response)))
            request_reply(r, 200, "application/json", dup, strlen(dup));
        else
            respond_unavailable(r, DIALECT_RIVERTY, j->app->cfg->retry_after_s);
    } else {
        metrics_inc(M_RECORDS_STORED, SOURCE);
        request_reply(r, ev->status, "application/json", ev->response, strlen(ev->response));
        ev->response = NULL;
    }
    request_resume(r);
}

/* {"eventAdded":true,"transactionId","outcome":"Accepted","riskCheckMessages":[...]} */
static char *first_answer(const json_t *body)
{
    char tid[CRYPTO_UUID_STRLEN + 1];
    const char *instead = NULL;
    const char *lang = json_string_value(json_object_get(body, "conversationLanguage"));
    if (crypto_uuid4(tid) != IH_OK)
        return NULL;
    json_t *msgs = json_array();
    if (check_riverty_obsolete_language(lang, &instead)) {
        char m[160];
        snprintf(m, sizeof(m), "conversationLanguage '%s' is obsolete and will be removed; use '%s'", lang, instead);
        json_array_append_new(msgs, json_pack("{s:s, s:s, s:s, s:s}", "type", "NotificationMessage", "code",
                                              "ObsoleteConversationLanguage", "message", m, "fieldReference",
                                              "conversationLanguage"));
    }
    json_t *a = json_pack("{s:b, s:s, s:s, s:o}", "eventAdded", 1, "transactionId", tid, "outcome", "Accepted",
                          "riskCheckMessages", msgs);
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

/* The idempotency key: account and accountTransactionId, else account and the body's
 * hash; hashed so any account/id length fits. account and tx are as received (before
 * masking). When either holds a card number the key is a token of them (HMAC under the
 * PAN key), not a plain SHA-256 that could be reversed by trying the digits a stored mask
 * hides; and two ids that mask alike keep two keys. */
static ih_status key_of(const struct tokenizer *tk, const char *account, const char *tx,
                        const unsigned char body_hash[CRYPTO_SHA256_LEN], char out[EVENTS_KEY_MAX + 1])
{
    char *material = NULL;
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    crypto_hex(body_hash, CRYPTO_SHA256_LEN, hex);
    int n = tx ? asprintf(&material, "%s\ntx\n%s", account, tx) : asprintf(&material, "%s\nbody\n%s", account, hex);
    if (n < 0)
        return IH_ENOMEM;
    ih_status rc = IH_OK;
    if (panscan_has(account, strlen(account)) || (tx && panscan_has(tx, strlen(tx)))) {
        rc = tokenizer_token(tk, "riverty-key:", material, (size_t)n, out);
    } else {
        unsigned char h[CRYPTO_SHA256_LEN];
        crypto_sha256(material, (size_t)n, h);
        crypto_hex(h, sizeof(h), out);
    }
    crypto_wipe(material, (size_t)n);
    free(material);
    return rc;
}

static void fail_account(struct request *r)
{
    struct check_result res = {0};
    struct check_ctx ctx;
    check_init(&ctx, &res);
    check_push_key(&ctx, "accountNumber");
    check_fail(&ctx, "format", "must be 1 to 64 letters, digits, '-' or '_'");
    metrics_inc(M_VALIDATION_FAILURES, ROUTE);
    respond_error(r, DIALECT_RIVERTY, 400, "Model validation failed.", NULL, &res);
    check_result_clear(&res);
}

/* The event's record: its canonical form (card numbers masked, the masked account
 * number added) and its key (from the account and transaction id as received). */
static ih_status map_event(const struct app *app, json_t *root, const struct jsonutil_numbers *nums,
                           const char *account, const char *masked_account, const char *tx, struct request *r,
                           struct store_event *ev)
{
    size_t len;
    (void)request_body(r, &len);
    json_object_set_new(root, "accountNumber", json_string(masked_account)); /* stored with the event */
    ih_status rc = jsonutil_canonical_hash(root, nums, len + 64, ev->hash, &ev->payload, &ev->payload_len);
    if (rc != IH_OK || (rc = key_of(app->tokenizer, account, tx, ev->hash, ev->key)) != IH_OK)
        return rc;
    ev->job.kind = WRITER_JOB_EVENT;
    ev->job.done = on_stored;
    ev->source = SOURCE;
    snprintf(ev->tracing_id, sizeof(ev->tracing_id), "%s", request_tracing_id(r));
    ev->received_ms = request_received_ms(r);
    const char *t = json_string_value(json_object_get(root, "time"));
    if (!t || !timefmt_parse_rfc3339(t, strlen(t), &ev->occurred_ms))
        ev->occurred_ms = -1;
    ev->type = strdup(json_string_value(json_object_get(root, "eventType")));
    ev->status = 200;
    ev->response = first_answer(root);
    return ev->type && ev->response ? IH_OK : IH_ENOMEM;
}

void riverty_post_event(struct request *r, struct app *app)
{
    const char *account = request_param(r, 0);
    if (!account || !check_riverty_account(account, strlen(account))) {
        fail_account(r);
        return;
    }
    char masked_account[65], *tx = NULL;
    snprintf(masked_account, sizeof(masked_account), "%s", account);
    struct jsonutil_numbers *nums = NULL;
    struct riverty_job *j = NULL;
    json_t *root = api_parse_body(r, app, DIALECT_RIVERTY, ROUTE, &nums);
    if (!root)
        return;
    struct check_result res = {0};
    check_riverty_event(root, &res);
    if (res.n || res.dropped) {
        metrics_inc(M_VALIDATION_FAILURES, ROUTE);
        respond_error(r, DIALECT_RIVERTY, 400, "Model validation failed.", NULL, &res);
        check_result_clear(&res);
        goto done;
    }
    const char *t = json_string_value(json_object_get(root, "accountTransactionId"));
    if (t && !(tx = strdup(t))) {
        respond_unavailable(r, DIALECT_RIVERTY, app->cfg->retry_after_s);
        goto done;
    }
    /* the account number too: it is stored with the event */
    for (size_t i = panscan_mask(masked_account, strlen(masked_account)); i > 0; i--)
        metrics_inc(M_CARD_NUMBERS_MASKED, ROUTE);
    if (!api_mask_card_numbers(r, app, DIALECT_RIVERTY, ROUTE, root, NULL))
        goto done;
    j = calloc(1, sizeof(*j));
    if (!j || map_event(app, root, nums, account, masked_account, tx, r, &j->ev) != IH_OK) {
        respond_unavailable(r, DIALECT_RIVERTY, app->cfg->retry_after_s);
        goto done;
    }
    j->req = r;
    j->app = app;
    request_set_state(r, j, job_free);
    request_suspend(r);
    writer_submit(app->writer, &j->ev.job);
    j = NULL; /* the request's now */
done:
    if (j)
        job_free(j);
    if (tx)
        crypto_wipe(tx, strlen(tx));
    free(tx);
    json_decref(root);
    jsonutil_numbers_free(nums);
}
