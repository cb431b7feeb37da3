/* The Apiture System Card Activity webhook: POST /system/incomingCardActivity.
 * check -> tokenize card data (here, before anything is queued, logged or stored) ->
 * one atomic batch -> 200 with no body, or problem+json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "issuerhook/api.h"
#include "issuerhook/app.h"
#include "issuerhook/cards.h"
#include "issuerhook/check_card_activity.h"
#include "issuerhook/config.h"
#include "issuerhook/jsonutil.h"
#include "issuerhook/metrics.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"
#include "issuerhook/timefmt.h"

#define ROUTE "/system/incomingCardActivity"
#define SOURCE "apiture.card_activity"
#define IDEM_MAX 255
#define ITEM_HINT 1024 /* the first item's canonical text is sized for this (a full one is ~600 bytes); each
                         * next one for the one before it and a little more */

struct card_ctx {
    struct card_batch_job job; /* first */
    struct request *req;
    const struct app *app;
};

static void ctx_free(void *p)
{
    struct card_ctx *c = p;
    card_batch_clear(&c->job);
    free(c);
}

/* Overwrites a string member in place before it is replaced or freed: jansson frees
 * without wiping, and the tree must not leave card data in freed memory. */
static void wipe_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        crypto_wipe((char *)json_string_value(v), json_string_length(v));
}

/* Wipes every PAN and tax id of the document (valid or not) before it is freed. */
static void wipe_card_data(json_t *root)
{
    json_t *items = json_object_get(root, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        wipe_member(json_array_get(items, i), "pan");
        wipe_member(json_array_get(items, i), "customerTaxId");
    }
}

static void on_stored(struct writer_job *wj, ih_status rc)
{
    struct card_ctx *c = (struct card_ctx *)wj;
    struct card_batch_job *b = &c->job;
    struct request *r = c->req;
    if (rc != IH_OK) {
        request_note(r, "store_unavailable");
        respond_unavailable(r, DIALECT_APITURE, c->app->cfg->retry_after_s);
    } else if (b->outcome == CARDS_IDEM_CONFLICT) {
        metrics_inc(M_CONFLICTS, SOURCE);
        request_note(r, "conflict");
        respond_error(r, DIALECT_APITURE, 409, "Conflict",
                      "this Idempotency-Key was already used with a different body; nothing was stored", NULL);
    } else if (b->outcome == CARDS_IDEM_REPLAY) {
        metrics_inc(M_DUPLICATES, SOURCE);
        request_note(r, "replay");
        request_reply(r, b->stored_status, NULL, NULL, 0);
    } else {
        for (size_t i = 0; i < b->inserted; i++)
            metrics_inc(M_RECORDS_STORED, SOURCE);
        for (size_t i = 0; i < b->duplicates; i++)
            metrics_inc(M_DUPLICATES, SOURCE);
        if (b->duplicates)
            request_note(r, b->inserted ? "partly_replayed" : "replay");
        request_reply(r, 200, NULL, NULL, 0);
    }
    request_resume(r);
}

/* The identity of an item: its canonical form with its card data tokenized, i.e. the PAN's
 * token where the stored form (text) has the masked PAN and the tax id's token as member
 * customerTaxId where the stored form has none. Hashed from the stored text and the two
 * changes (jsonutil_canonical_spans says where), in order, rather than written twice: the
 * same bytes as the canonical form of the item with the tokens in it. */
static ih_status identity_hash(const char *text, size_t len, const struct jsonutil_span *tax,
                               const struct jsonutil_span *pan, const struct card_item *it,
                               unsigned char h[CRYPTO_SHA256_LEN])
{
    struct crypto_piece p[9];
    size_t n = 0, at = 0;
    const struct jsonutil_span *first = tax->start <= pan->start ? tax : pan, *second = first == tax ? pan : tax;
    for (int k = 0; k < 2; k++) {
        const struct jsonutil_span *e = k ? second : first;
        p[n++] = (struct crypto_piece){text + at, e->start - at};
        if (e == pan) {
            p[n++] = (struct crypto_piece){"\"", 1};
            p[n++] = (struct crypto_piece){it->pan.token, strlen(it->pan.token)};
            p[n++] = (struct crypto_piece){"\"", 1};
        } else if (it->has_tax_id) {
            bool lead = e->start == 1; /* no member before it */
            p[n++] = (struct crypto_piece){lead ? "\"customerTaxId\":\"" : ",\"customerTaxId\":\"", lead ? 17 : 18};
            p[n++] = (struct crypto_piece){it->tax_id_token, strlen(it->tax_id_token)};
            p[n++] = (struct crypto_piece){lead && text[1] != '}' ? "\"," : "\"", lead && text[1] != '}' ? 2 : 1};
        }
        at = e->end;
    }
    p[n++] = (struct crypto_piece){text + at, len - at};
    return crypto_sha256_pieces(p, n, h);
}

/* Replaces the item's card data: PAN -> token for the dedup hash, then -> masked PAN
 * for the stored item; tax id -> token, dropped from the stored item. IH_EINVAL (with
 * a violation in res) for card data the pattern lets through but that has too few
 * digits to be one, e.g. "4            2". */
static ih_status map_item(const struct app *app, struct request *r, const char *institution, json_t *item,
                          const struct jsonutil_numbers *nums, size_t index, size_t *hint, struct card_item *out,
                          struct check_result *res)
{
    const struct tokenizer *tk = app->tokenizer;
    json_t *pan = json_object_get(item, "pan"), *tax = json_object_get(item, "customerTaxId");
    struct check_ctx ctx;
    check_init(&ctx, res);
    check_push_key(&ctx, "items");
    check_push_index(&ctx, index);
    size_t at;
    ih_status rc = tokenizer_pan(tk, json_string_value(pan), json_string_length(pan), &out->pan);
    if (rc == IH_EINVAL) {
        at = check_push_key(&ctx, "pan");
        check_fail(&ctx, "format", "must hold 12 to 19 digits");
        check_pop(&ctx, at);
    }
    if (tax) {
        ih_status trc = tokenizer_tax_id(tk, json_string_value(tax), json_string_length(tax), out->tax_id_token);
        if (trc == IH_EINVAL) {
            at = check_push_key(&ctx, "customerTaxId");
            check_fail(&ctx, "format", "must hold digits or letters, not only dashes and spaces");
            check_pop(&ctx, at);
        }
        if (rc == IH_OK)
            rc = trc;
        out->has_tax_id = true;
    }
    if (rc != IH_OK)
        return rc;
    wipe_member(item, "pan");
    wipe_member(item, "customerTaxId");
    json_object_set_new(item, "institutionId", json_string(institution));
    /* what is stored: the masked PAN, no tax id */
    json_object_set_new(item, "pan", json_string(out->pan.masked));
    json_object_del(item, "customerTaxId");
    struct store_event *ev = &out->ev;
    struct jsonutil_span spans[2] = {{.key = "customerTaxId"}, {.key = "pan"}};
    if ((rc = jsonutil_canonical_spans(item, nums, *hint, spans, 2, &ev->payload, &ev->payload_len)) != IH_OK)
        return rc;
    *hint = ev->payload_len + 32;
    unsigned char h[CRYPTO_SHA256_LEN];
    if (!spans[1].found) /* it was set just above */
        return IH_EIO;
    if ((rc = identity_hash(ev->payload, ev->payload_len, &spans[0], &spans[1], out, h)) != IH_OK)
        return rc;
    ev->job.kind = WRITER_JOB_EVENT;
    ev->source = SOURCE;
    const char *occurred = json_string_value(json_object_get(item, "occurredAt"));
    if (!occurred || !timefmt_parse_rfc3339_utc(occurred, strlen(occurred), &ev->occurred_ms))
        ev->occurred_ms = -1;
    cards_item_key(ev->occurred_ms, h, ev->key);
    memcpy(ev->hash, h, sizeof(h));
    snprintf(ev->tracing_id, sizeof(ev->tracing_id), "%s", request_tracing_id(r));
    ev->received_ms = request_received_ms(r);
    ev->type = strdup(json_string_value(json_object_get(item, "activityType")));
    ev->status = 200;
    ev->response = strdup("");
    /* the record's payload hash is the identity's hash (ev->hash); its text the stored form */
    return ev->type && ev->response ? IH_OK : IH_ENOMEM;
}

static bool idem_key_ok(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++)
        if ((unsigned char)k[n] < 0x21 || (unsigned char)k[n] > 0x7e)
            return false;
    return n >= 1 && n <= IDEM_MAX;
}

/* The request's identity for Idempotency-Key: institution and the items' hashes
 * (never a hash of the clear body, which would be a hash of card numbers). */
static void request_hash(struct card_batch_job *b, const char *institution)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
        EVP_DigestUpdate(c, institution, strlen(institution) + 1);
        for (size_t i = 0; i < b->n; i++)
            EVP_DigestUpdate(c, b->items[i].ev.hash, CRYPTO_SHA256_LEN);
        EVP_DigestFinal_ex(c, b->request_hash, &n);
    }
    EVP_MD_CTX_free(c);
}

/* Masks card numbers in every string but the items' own card data, which map_item
 * tokenizes. */
static bool mask_free_text(struct request *r, const struct app *app, json_t *root)
{
    static const char *const items_only[] = {"items", NULL}, *const card_data[] = {"pan", "customerTaxId", NULL};
    json_t *items = json_object_get(root, "items");
    if (!api_mask_card_numbers(r, app, DIALECT_APITURE, ROUTE, root, items_only))
        return false;
    for (size_t i = 0; i < json_array_size(items); i++)
        if (!api_mask_card_numbers(r, app, DIALECT_APITURE, ROUTE, json_array_get(items, i), card_data))
            return false;
    return true;
}

/* The batch job of a checked document, or NULL with the answer set. */
static struct card_ctx *map_batch(struct request *r, const struct app *app, json_t *root,
                                  const struct jsonutil_numbers *nums, const char *idem)
{
    const char *institution = json_string_value(json_object_get(root, "institutionId"));
    json_t *items = json_object_get(root, "items");
    struct check_result res = {0};
    struct card_ctx *c = calloc(1, sizeof(*c));
    ih_status rc = IH_ENOMEM;
    if (c && (c->job.items = calloc(json_array_size(items), sizeof(*c->job.items)))) {
        rc = IH_OK;
        size_t hint = ITEM_HINT;
        for (size_t i = 0; i < json_array_size(items) && (rc == IH_OK || rc == IH_EINVAL); i++) {
            ih_status irc =
                map_item(app, r, institution, json_array_get(items, i), nums, i, &hint, &c->job.items[i], &res);
            c->job.n = i + 1;
            if (rc == IH_OK)
                rc = irc;
        }
    }
    if (rc == IH_OK && idem) {
        c->job.has_idem = true;
        snprintf(c->job.idem_scope, sizeof(c->job.idem_scope), "%s %s", ROUTE,
                 request_principal(r) ? request_principal(r) : "");
        snprintf(c->job.idem_key, sizeof(c->job.idem_key), "%s", idem);
        request_hash(&c->job, institution);
        c->job.status = 200;
        if (!(c->job.response = strdup("")))
            rc = IH_ENOMEM;
    }
    if (rc == IH_EINVAL) { /* every such item reported, nothing stored */
        metrics_inc(M_VALIDATION_FAILURES, ROUTE);
        respond_error(r, DIALECT_APITURE, 400, "Bad Request", NULL, &res);
    } else if (rc != IH_OK) {
        respond_unavailable(r, DIALECT_APITURE, app->cfg->retry_after_s);
    }
    check_result_clear(&res);
    if (rc != IH_OK && c) {
        ctx_free(c);
        c = NULL;
    }
    return c;
}

void card_activity_post(struct request *r, struct app *app)
{
    struct jsonutil_numbers *nums = NULL;
    json_t *root = api_parse_body(r, app, DIALECT_APITURE, ROUTE, &nums);
    request_wipe_body(r);
    if (!root)
        return;
    struct check_result res = {0};
    struct card_ctx *c = NULL;
    const char *idem = request_header(r, "Idempotency-Key");
    check_card_activity(root, &res);
    if (res.n || res.dropped) {
        metrics_inc(M_VALIDATION_FAILURES, ROUTE);
        respond_error(r, DIALECT_APITURE, 400, "Bad Request", NULL, &res);
        check_result_clear(&res);
    } else if (idem && !idem_key_ok(idem)) {
        respond_error(r, DIALECT_APITURE, 400, "Bad Request",
                      "the Idempotency-Key header must be 1 to 255 visible ASCII characters", NULL);
    } else if (mask_free_text(r, app, root)) {
        c = map_batch(r, app, root, nums, idem);
    }
    wipe_card_data(root);
    json_decref(root);
    jsonutil_numbers_free(nums);
    if (!c)
        return;
    c->job.job.kind = WRITER_JOB_CARD_BATCH;
    c->job.job.done = on_stored;
    c->req = r;
    c->app = app;
    request_set_state(r, c, ctx_free);
    request_suspend(r);
    writer_submit(app->writer, &c->job.job);
}
