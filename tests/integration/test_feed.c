/* The downstream feed against the real daemon: records of every source read back as
 * Apiture event items; a watermark poller that sees every acknowledged event exactly
 * once, in order, while four clients write; eventHistory pages (both orders) that cover
 * an interval with no gap and no repeat; filters, limits, bad parameters, scopes, and
 * GET /banking/eventTypes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "issuerhook/event_types.h"
#include "issuerhook/feedparams.h"
#include "issuerhook/timefmt.h"

#define WRITER_SECRET "feed-writer-key"
#define READER_SECRET "feed-reader-key"
#define NOREAD_SECRET "feed-no-banking-read-key"

static struct daemon D;
static char writer_key[256], reader_key[256], noread_key[256];

static const char *const READER[] = {"X-API-Key: " READER_SECRET, NULL};
static const char *const NOREAD[] = {"X-API-Key: " NOREAD_SECRET, NULL};

/* ---- HTTP through the harness (thread-safe: a handle per request) ---- */

/* GET (body NULL) or POST; false on a transport error. c is unused (kept by callers). */
static bool request(CURL *c, const char *path, const char *const *headers, const char *body, struct http_resp *out)
{
    (void)c;
    return http_request(&D, body ? "POST" : "GET", path, headers, body, body ? strlen(body) : 0, false, out);
}

/* GET path with the reader's key; asserts 200 and JSON; caller decrefs. */
static json_t *get_ok(const char *path)
{
    struct http_resp r;
    if (!request(NULL, path, READER, NULL, &r))
        fail_msg("GET %s: no answer", path);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    assert_non_null(strstr(r.content_type, "application/json"));
    json_error_t e;
    json_t *j = json_loadb(r.body, r.len, 0, &e);
    if (!j)
        fail_msg("GET %s: not JSON: %s", path, r.body);
    http_resp_free(&r);
    return j;
}

/* Appends "&name=value" to a path, value percent-encoded. */
static void add_param(char *path, size_t cap, const char *name, const char *value)
{
    size_t n = strlen(path);
    n += (size_t)snprintf(path + n, cap - n, "%s%s=", strchr(path, '?') ? "&" : "?", name);
    for (const unsigned char *p = (const unsigned char *)value; *p && n + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            path[n++] = (char)*p;
        else
            n += (size_t)snprintf(path + n, cap - n, "%%%02X", *p);
    }
    path[n] = '\0';
}

static const char *jstr(const json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

static long long item_seq(const json_t *item)
{
    const char *id = jstr(item, "id");
    assert_non_null(id);
    assert_memory_equal(id, "evt-", 4);
    return strtoll(id + 4, NULL, 10);
}

static int64_t item_ms(const json_t *item)
{
    const char *t = jstr(item, "occurredAt");
    int64_t ms = 0;
    assert_non_null(t);
    if (!timefmt_parse_rfc3339_utc(t, strlen(t), &ms))
        fail_msg("occurredAt %s is not an RFC 3339 UTC date-time", t);
    return ms;
}

/* The watermark at the current end of the feed. */
static void end_watermark(char wm[FEED_TOKEN_MAX])
{
    wm[0] = '\0';
    for (int i = 0; i < 100; i++) {
        char path[256] = "/banking/recentEventHistory?limit=10000";
        if (wm[0])
            add_param(path, sizeof(path), "watermark", wm);
        json_t *j = get_ok(path);
        snprintf(wm, FEED_TOKEN_MAX, "%s", jstr(j, "watermark"));
        bool more = json_is_true(json_object_get(j, "hasMore"));
        json_decref(j);
        if (!more)
            return;
    }
    fail_msg("the feed does not end");
}

/* The seq of the store's last record in feed order. */
static long long max_seq(void)
{
    return db_feed_last_seq(&D);
}

/* ---- bodies ---- */

static char *amiko_v1(const char *id, const char *type, long long generated_at)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"header\":{\"version\":\"2026.1.0\",\"eventId\":\"%s\",\"generatedAt\":%lld},"
                 "\"event\":{\"type\":\"%s\",\"cardholderId\":\"2bd52a45-129d-4723-9143-e1c5b5ed34e7\","
                 "\"cardId\":\"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048\",\"caseId\":\"1234\",\"caseType\":\"fraud\","
                 "\"createdVia\":\"cardholder_self_service\"}}",
                 id, generated_at, type) < 0)
        return NULL;
    return s;
}

static char *amiko_v2(const char *id, const char *event_name)
{
    char entity[37], *s = NULL;
    test_uuid(entity);
    if (asprintf(&s,
                 "{\"header\":{\"eventId\":\"%s\",\"generatedAt\":1710000000000,\"entity\":{\"type\":\"case\",\"id\":\"%s\"},"
                 "\"serial\":1,\"causedBy\":\"agent\",\"agentId\":\"61f925fa-653b-46f0-9117-d03040e9b775\"},"
                 "\"event\":{\"event_name\":\"%s\",\"caseId\":\"1234\",\"cardId\":\"c\","
                 "\"createdVia\":\"cardholder_self_service\",\"bankCaseId\":\"b\"}}",
                 id, entity, event_name) < 0)
        return NULL;
    return s;
}

#define PAN_APPROVED "4929000011112222"
#define PAN_DECLINED "5312345678904444"
#define TAX_APPROVED "987-65-4321"
#define TAX_DECLINED "123-45-6789"

static char *card_item(const char *pan, const char *tax, const char *type, const char *card_id, const char *when)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"customerId\":\"d1b95731fb029fec062c\",\"customerTaxId\":\"%s\",\"cardId\":\"%s\",\"pan\":\"%s\","
                 "\"activityType\":\"%s\",\"reasonCode\":\"transactionOccurred\",\"reason\":\"a reason\","
                 "\"amount\":{\"value\":\"12.34\",\"currency\":\"USD\"},\"merchant\":{\"category\":\"shopping.other\","
                 "\"name\":\"Amazon\",\"address\":{\"regionCode\":\"WA\",\"countryCode\":\"US\"}},"
                 "\"occurredAt\":\"%s\",\"location\":\"onlineMerchant\"}",
                 tax, card_id, pan, type, when) < 0)
        return NULL;
    return s;
}

static char *riverty(const char *event_type, const char *tx)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"eventType\":\"%s\",\"categoryType\":\"Sales\",\"time\":\"2024-10-01T09:56:02+02:00\","
                 "\"totalAmount\":10.00,\"accountTransactionId\":\"%s\",\"items\":[{\"itemId\":\"i1\","
                 "\"itemDescription\":\"coffee\",\"unitCode\":\"pcs\",\"quantity\":2,\"unitPrice\":5}],"
                 "\"currency\":\"NOK\",\"countryCode\":\"NO\",\"conversationLanguage\":\"NO\"}",
                 event_type, tx) < 0)
        return NULL;
    return s;
}

/* POSTs body with the writer's key and this tracing id; asserts the status. */
static void post_as(const char *path, const char *tracing, const char *body, long want)
{
    char th[200];
    snprintf(th, sizeof(th), "tracing-id: %s", tracing);
    const char *h[] = {"Content-Type: application/json", "X-API-Key: " WRITER_SECRET, th, NULL};
    struct http_resp r;
    if (!request(NULL, path, h, body, &r))
        fail_msg("POST %s: no answer", path);
    if (r.status != want)
        fail_msg("POST %s: %ld (want %ld): %s", path, r.status, want, r.body);
    http_resp_free(&r);
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
    key_line("WRITER", WRITER_SECRET, "amiko:events,amiko:bookings,ledger:write,cardAdapter/write,riverty:events",
             writer_key, sizeof(writer_key));
    key_line("FEEDREADER", READER_SECRET, "bankingAdmin/read", reader_key, sizeof(reader_key));
    key_line("NOREAD", NOREAD_SECRET, "ledger:read,amiko:events,cardAdapter/write", noread_key, sizeof(noread_key));
    D.extra_env[0] = writer_key;
    D.extra_env[1] = reader_key;
    D.extra_env[2] = noread_key;
    D.extra_env[3] = NULL;
    /* PostgreSQL's feed shows a commit once no older transaction is in flight anywhere in
     * its cluster (the snapshot's xmin is the cluster's, not the database's): these tests
     * read at once what they just wrote, so their store is a cluster of its own */
    D.pg_private = true;
    return daemon_start(&D) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = daemon_stop(&D, SIGTERM);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

/* ---- every source, read back ---- */

struct expected {
    const char *category, *type, *primary, *tracing;
    bool seen;
};

static void test_every_source_read_back(void **state)
{
    (void)state;
    char start[FEED_TOKEN_MAX];
    end_watermark(start);
    struct expected ex[32];
    size_t n = 0;
    char ids[8][37], path[200];
    for (size_t i = 0; i < 8; i++)
        test_uuid(ids[i]);
    char *b;

    /* Amiko v1 and v2, a known and an unknown type each */
    b = amiko_v1(ids[0], "case_created", 1710000000000LL);
    post_as("/events", "feed-v1-known", b, 200);
    free(b);
    ex[n++] = (struct expected){"amikoEvents", "caseCreated", ids[0], "feed-v1-known", false};
    b = amiko_v1(ids[1], "card_frozen_in_a_future_version", 1710000000000LL);
    post_as("/events", "feed-v1-unknown", b, 200);
    free(b);
    ex[n++] = (struct expected){"amikoEvents", "unknownEvent", ids[1], "feed-v1-unknown", false};
    b = amiko_v2(ids[2], "case_created");
    post_as("/domain-events", "feed-v2-known", b, 200);
    free(b);
    ex[n++] = (struct expected){"amikoDomainEvents", "domainCaseCreated", ids[2], "feed-v2-known", false};
    b = amiko_v2(ids[3], "case_reopened_in_a_future_version");
    post_as("/domain-events", "feed-v2-unknown", b, 200);
    free(b);
    ex[n++] = (struct expected){"amikoDomainEvents", "domainUnknownEvent", ids[3], "feed-v2-unknown", false};

    /* two bookings: one completed, one failed */
    b = amiko_booking(ids[4], "12.50");
    post_as("/bookings", "feed-booking-a", b, 200);
    free(b);
    ex[n++] = (struct expected){"bookings", "bookingRequested", ids[4], "feed-booking-a", false};
    snprintf(path, sizeof(path), "/bookings/%s/result", ids[4]);
    post_as(path, "feed-result-a", "{\"status\":\"completed\",\"issuerBookingId\":\"L-77\"}", 200);
    ex[n++] = (struct expected){"bookings", "bookingCompleted", ids[4], "feed-result-a", false};
    b = amiko_booking(ids[5], "12.50");
    post_as("/bookings", "feed-booking-b", b, 200);
    free(b);
    ex[n++] = (struct expected){"bookings", "bookingRequested", ids[5], "feed-booking-b", false};
    snprintf(path, sizeof(path), "/bookings/%s/result", ids[5]);
    post_as(path, "feed-result-b", "{\"status\":\"failed\",\"failure\":{\"reason\":\"no account\",\"code\":\"352452\"}}",
            200);
    ex[n++] = (struct expected){"bookings", "bookingFailed", ids[5], "feed-result-b", false};

    /* card activity: one approved, one declined, in one batch */
    char *i1 = card_item(PAN_APPROVED, TAX_APPROVED, "approved", "cardFeedA1", "2024-10-01T07:00:01.000Z");
    char *i2 = card_item(PAN_DECLINED, TAX_DECLINED, "declined", "cardFeedD2", "2024-10-01T07:00:02.000Z");
    if (asprintf(&b, "{\"institutionId\":\"TIBURON\",\"items\":[%s,%s]}", i1, i2) < 0)
        fail();
    post_as("/system/incomingCardActivity", "feed-cards", b, 200);
    free(b);
    free(i1);
    free(i2);
    ex[n++] = (struct expected){"cardActivity", "cardActivityApproved", "cardFeedA1", "feed-cards", false};
    ex[n++] = (struct expected){"cardActivity", "cardActivityDeclined", "cardFeedD2", "feed-cards", false};

    /* Riverty: every event type */
    static const char *const rtypes[][2] = {
        {"Info", "accountInfo"},
        {"Purchase", "accountPurchase"},
        {"Withdrawal", "accountWithdrawal"},
        {"WithdrawalCorrection", "accountWithdrawalCorrection"},
        {"WithdrawalCommission", "accountWithdrawalCommission"},
        {"InterestCorrection", "accountInterestCorrection"},
    };
    static char rtrace[6][64];
    for (size_t i = 0; i < 6; i++) {
        char tx[64];
        snprintf(tx, sizeof(tx), "feed-tx-%zu", i);
        snprintf(rtrace[i], sizeof(rtrace[i]), "feed-riverty-%s", rtypes[i][0]);
        b = riverty(rtypes[i][0], tx);
        post_as("/api/v3/customer-account/ACC-FEED-1/event", rtrace[i], b, 200);
        free(b);
        ex[n++] = (struct expected){"accountEvents", rtypes[i][1], "ACC-FEED-1", rtrace[i], false};
    }

    /* read them back */
    char q[256] = "/banking/recentEventHistory?limit=100";
    add_param(q, sizeof(q), "watermark", start);
    struct http_resp raw;
    assert_true(request(NULL, q, READER, NULL, &raw));
    assert_int_equal(raw.status, 200);
    /* no clear card number or tax id anywhere in the answer */
    assert_null(strstr(raw.body, PAN_APPROVED));
    assert_null(strstr(raw.body, PAN_DECLINED));
    assert_null(strstr(raw.body, TAX_APPROVED));
    assert_null(strstr(raw.body, TAX_DECLINED));
    assert_null(strstr(raw.body, "customerTaxId"));
    json_t *j = json_loadb(raw.body, raw.len, 0, NULL);
    http_resp_free(&raw);
    assert_non_null(j);
    assert_false(json_is_true(json_object_get(j, "hasMore")));
    assert_string_equal(jstr(j, "version"), "0.1.0");
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), n);
    long long prev = 0;
    int64_t min_ms = INT64_MAX, max_ms = INT64_MIN;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        long long seq = item_seq(it);
        assert_true(seq > prev); /* commit order */
        prev = seq;
        int64_t ms = item_ms(it);
        min_ms = ms < min_ms ? ms : min_ms;
        max_ms = ms > max_ms ? ms : max_ms;
        assert_string_equal(jstr(it, "agentType"), "system");
        assert_true(json_is_object(json_object_get(it, "data")));
        /* the item in order of posting is ex[i] */
        struct expected *e = &ex[i];
        if (strcmp(jstr(it, "category"), e->category) || strcmp(jstr(it, "type"), e->type))
            fail_msg("item %zu: %s/%s, expected %s/%s", i, jstr(it, "category"), jstr(it, "type"), e->category,
                     e->type);
        if (!jstr(it, "primaryId") || strcmp(jstr(it, "primaryId"), e->primary))
            fail_msg("item %zu (%s): primaryId %s, expected %s", i, e->type, jstr(it, "primaryId"), e->primary);
        if (!jstr(it, "correlationId") || strcmp(jstr(it, "correlationId"), e->tracing))
            fail_msg("item %zu (%s): correlationId %s, expected %s", i, e->type, jstr(it, "correlationId"),
                     e->tracing);
        e->seen = true;
        if (!strcmp(e->category, "cardActivity")) {
            const json_t *d = json_object_get(it, "data");
            const char *pan = jstr(d, "pan");
            const char *clear = !strcmp(e->type, "cardActivityApproved") ? PAN_APPROVED : PAN_DECLINED;
            char masked[32];
            snprintf(masked, sizeof(masked), "%.4s********%s", clear, clear + 12); /* half the digits */
            assert_non_null(pan);
            assert_string_equal(pan, masked);
            assert_null(json_object_get(d, "customerTaxId"));
            assert_string_equal(jstr(it, "institutionId"), "TIBURON");
            assert_int_equal(ms, !strcmp(e->type, "cardActivityApproved") ? 1727766001000LL : 1727766002000LL);
        }
        if (!strcmp(e->category, "accountEvents")) {
            assert_string_equal(jstr(json_object_get(it, "data"), "accountNumber"), "ACC-FEED-1");
            assert_int_equal(ms, 1727769362000LL); /* 2024-10-01T09:56:02+02:00 */
        }
        if (!strcmp(e->category, "amikoEvents") || !strcmp(e->category, "amikoDomainEvents"))
            assert_int_equal(ms, 1710000000000LL);
    }
    /* startsAt / endsAt span the items */
    char t[TIMEFMT_LEN];
    timefmt_rfc3339_ms(min_ms, t);
    assert_string_equal(jstr(j, "startsAt"), t);
    timefmt_rfc3339_ms(max_ms, t);
    assert_string_equal(jstr(j, "endsAt"), t);
    /* the new watermark is the last item */
    int64_t wm;
    assert_true(watermark_seq(jstr(j, "watermark"), &wm));
    assert_int_equal(wm, prev);
    assert_int_equal(wm, max_seq());
    json_decref(j);

    /* polling again from it: nothing new */
    snprintf(q, sizeof(q), "/banking/recentEventHistory");
    char w[FEED_TOKEN_MAX];
    watermark_at(&D, wm, w);
    add_param(q, sizeof(q), "watermark", w);
    j = get_ok(q);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    assert_false(json_is_true(json_object_get(j, "hasMore")));
    assert_string_equal(jstr(j, "watermark"), w);
    assert_null(json_object_get(j, "startsAt"));
    json_decref(j);
}

/* Without a watermark the feed starts at the beginning of the retained history. */
static void test_no_watermark_starts_at_beginning(void **state)
{
    (void)state;
    json_t *j = get_ok("/banking/recentEventHistory?limit=3");
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 3);
    assert_int_equal(item_seq(json_array_get(items, 0)), db_scalar(&D, "SELECT min(seq) FROM records"));
    assert_true(json_is_true(json_object_get(j, "hasMore")));
    json_decref(j);
    /* an empty watermark is the same */
    j = get_ok("/banking/recentEventHistory?limit=3&watermark=");
    assert_int_equal(item_seq(json_array_get(json_object_get(j, "items"), 0)),
                     db_scalar(&D, "SELECT min(seq) FROM records"));
    json_decref(j);
}

/* ---- a poller following watermarks while four clients write ---- */

#define WRITERS 4
#define PER_WRITER 500
#define TOTAL (WRITERS * PER_WRITER)
#define POLL_LIMIT 50

static unsigned run_tag;
static atomic_long acked[TOTAL];
static atomic_int seen[TOTAL];
static atomic_bool writers_done;

struct poller {
    char watermark[FEED_TOKEN_MAX];
    long long last_seq;
    size_t items, polls, strays, order_errors, over_limit, http_errors, after_done_polls;
    char first_error[256];
};

static void event_id(size_t i, char out[37])
{
    snprintf(out, 37, "%08x-feed-4000-8000-%012zx", run_tag, i);
}

/* The index of one of this run's event ids, else -1. */
static long index_of(const char *id)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%08x-feed-4000-8000-", run_tag);
    if (!id || strlen(id) != 36 || strncmp(id, prefix, 24) != 0)
        return -1;
    char *end;
    long v = strtol(id + 24, &end, 16);
    return *end == '\0' && v >= 0 && v < TOTAL ? v : -1;
}

static void *writer_main(void *arg)
{
    size_t w = (size_t)(uintptr_t)arg;
    CURL *c = curl_easy_init();
    char th[64];
    snprintf(th, sizeof(th), "tracing-id: feed-writer-%zu", w);
    const char *h[] = {"Content-Type: application/json", "X-API-Key: " WRITER_SECRET, th, NULL};
    for (size_t k = 0; k < PER_WRITER; k++) {
        size_t i = w * PER_WRITER + k;
        char id[37];
        event_id(i, id);
        char *b = amiko_v1(id, "case_created", 1700000000000LL);
        struct http_resp r;
        bool ok = b && request(c, "/events", h, b, &r);
        atomic_store(&acked[i], ok ? r.status : -1);
        if (ok)
            http_resp_free(&r);
        free(b);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void poll_error(struct poller *p, const char *fmt, ...)
{
    if (p->first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->first_error, sizeof(p->first_error), fmt, ap);
    va_end(ap);
}

static void *poller_main(void *arg)
{
    struct poller *p = arg;
    CURL *c = curl_easy_init();
    for (;;) {
        bool done_before = atomic_load(&writers_done);
        char path[256] = "/banking/recentEventHistory?limit=" "50";
        add_param(path, sizeof(path), "watermark", p->watermark);
        struct http_resp r;
        if (!request(c, path, READER, NULL, &r) || r.status != 200) {
            p->http_errors++;
            poll_error(p, "poll: %ld %s", r.status, r.body ? r.body : "");
            http_resp_free(&r);
            if (p->http_errors > 50)
                break;
            continue;
        }
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        http_resp_free(&r);
        p->polls++;
        json_t *items = json_object_get(j, "items");
        const char *wm = jstr(j, "watermark");
        bool more = json_is_true(json_object_get(j, "hasMore"));
        size_t n = json_array_size(items);
        if (!j || !wm || !json_is_array(items)) {
            p->http_errors++;
            poll_error(p, "poll: a body without watermark or items");
            json_decref(j);
            break;
        }
        if (n > POLL_LIMIT)
            p->over_limit++;
        for (size_t i = 0; i < n; i++) {
            json_t *it = json_array_get(items, i);
            const char *id = jstr(it, "id");
            long long seq = id && !strncmp(id, "evt-", 4) ? strtoll(id + 4, NULL, 10) : -1;
            /* one node: its writer commits one batch after the other, so on either store
             * seq order is commit order (several nodes: test_multinode.c) */
            if (seq <= p->last_seq) {
                p->order_errors++;
                poll_error(p, "seq %lld after %lld", seq, p->last_seq);
            }
            p->last_seq = seq;
            long k = index_of(jstr(json_object_get(json_object_get(it, "data"), "header"), "eventId"));
            if (k < 0 || strcmp(jstr(it, "type") ? jstr(it, "type") : "", "caseCreated")) {
                p->strays++;
                poll_error(p, "an item not written by this test: %s", id ? id : "?");
            } else {
                atomic_fetch_add(&seen[k], 1);
            }
            p->items++;
        }
        /* the watermark is the last item's position, or unchanged */
        int64_t w;
        if (!watermark_seq(wm, &w) || (n && w != p->last_seq)) {
            p->order_errors++;
            poll_error(p, "watermark %s after seq %lld", wm, p->last_seq);
        }
        snprintf(p->watermark, sizeof(p->watermark), "%s", wm);
        json_decref(j);
        if (done_before) {
            p->after_done_polls++;
            if (!more && n == 0)
                break;
            if (p->after_done_polls > 10000) {
                poll_error(p, "the feed does not end after the writers finished");
                break;
            }
        } else if (!more && n == 0) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void test_poller_sees_every_acknowledged_event_once(void **state)
{
    (void)state;
    run_tag = (unsigned)time(NULL) ^ (unsigned)getpid() << 8;
    for (size_t i = 0; i < TOTAL; i++) {
        atomic_store(&acked[i], 0);
        atomic_store(&seen[i], 0);
    }
    atomic_store(&writers_done, false);
    struct poller p = {0};
    end_watermark(p.watermark);
    int64_t start;
    assert_true(watermark_seq(p.watermark, &start));
    p.last_seq = start;

    pthread_t poller, writers[WRITERS];
    assert_int_equal(pthread_create(&poller, NULL, poller_main, &p), 0);
    for (size_t w = 0; w < WRITERS; w++)
        assert_int_equal(pthread_create(&writers[w], NULL, writer_main, (void *)(uintptr_t)w), 0);
    for (size_t w = 0; w < WRITERS; w++)
        pthread_join(writers[w], NULL);
    atomic_store(&writers_done, true);
    pthread_join(poller, NULL);

    size_t ok = 0, missing = 0, twice = 0;
    for (size_t i = 0; i < TOTAL; i++) {
        long st = atomic_load(&acked[i]);
        int s = atomic_load(&seen[i]);
        if (st == 200) {
            ok++;
            if (s == 0)
                missing++;
            if (s > 1)
                twice++;
        } else if (s) {
            fail_msg("event %zu answered %ld but was in the feed", i, st);
        }
    }
    fprintf(stderr, "# poller: %zu polls, %zu items; writers: %zu of %d acknowledged%s%s\n", p.polls, p.items, ok,
            TOTAL, p.first_error[0] ? "; first error: " : "", p.first_error);
    assert_int_equal(ok, TOTAL); /* nothing refused under this load */
    assert_int_equal(p.http_errors, 0);
    assert_int_equal(p.order_errors, 0);
    assert_int_equal(p.strays, 0);
    assert_int_equal(p.over_limit, 0);
    assert_int_equal(missing, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(p.items, ok);
    assert_true(p.polls >= TOTAL / POLL_LIMIT);
    /* and the poller ended where the store ends */
    int64_t end;
    assert_true(watermark_seq(p.watermark, &end));
    assert_int_equal(end, max_seq());
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE seq > %lld AND source = 'amiko.event'",
             (long long)start);
    assert_int_equal(db_scalar(&D, sql), TOTAL);
}

/* ---- eventHistory pages ---- */

#define HBASE 1600000000000LL /* 2020-09-13T12:26:40Z: only this test's events are near it */
#define HCOUNT 40
static char hist_ids[HCOUNT][37];
static bool hist_posted;

/* 40 events, three per second (ties in occurredAt are ordered by seq). */
static void post_history_events(void)
{
    if (hist_posted)
        return;
    for (size_t i = 0; i < HCOUNT; i++) {
        test_uuid(hist_ids[i]);
        char *b = amiko_v1(hist_ids[i], i % 5 == 4 ? "case_escalated_later" : "case_created",
                           HBASE + (long long)(i / 3) * 1000);
        char tr[32];
        snprintf(tr, sizeof(tr), "feed-hist-%zu", i);
        post_as("/events", tr, b, 200);
        free(b);
    }
    hist_posted = true;
}

/* The seqs of records with from <= occurred < to, ascending by (occurred, seq). */
static size_t db_interval(int64_t from, int64_t to, long long *out, size_t cap)
{
    char sql[320];
    snprintf(sql, sizeof(sql),
             "SELECT seq FROM records WHERE coalesce(occurred_at, received_at) >= %lld AND "
             "coalesce(occurred_at, received_at) < %lld ORDER BY coalesce(occurred_at, received_at), seq",
             (long long)from, (long long)to);
    long n = db_column(&D, sql, out, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

/* Follows nextPage_url from the first page; returns the items' seqs in order, checking
 * each page's size and order. */
static size_t follow_pages(const char *first, size_t limit, bool desc, long long *seqs, int64_t *ms, size_t cap,
                           size_t *pages)
{
    char *path = strdup(first);
    size_t n = 0;
    *pages = 0;
    while (path) {
        json_t *j = get_ok(path);
        (*pages)++;
        assert_true(*pages < 1000);
        assert_int_equal(json_integer_value(json_object_get(j, "limit")), (json_int_t)limit);
        json_t *items = json_object_get(j, "items");
        assert_true(json_array_size(items) <= limit);
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *it = json_array_get(items, i);
            assert_true(n < cap);
            seqs[n] = item_seq(it);
            ms[n] = item_ms(it);
            if (n) {
                bool in_order = desc ? (ms[n] < ms[n - 1] || (ms[n] == ms[n - 1] && seqs[n] < seqs[n - 1]))
                                     : (ms[n] > ms[n - 1] || (ms[n] == ms[n - 1] && seqs[n] > seqs[n - 1]));
                if (!in_order)
                    fail_msg("page %zu: item %lld (%lld) after %lld (%lld) is out of %s order", *pages, seqs[n],
                             (long long)ms[n], seqs[n - 1], (long long)ms[n - 1], desc ? "descending" : "ascending");
            }
            n++;
        }
        const char *next = jstr(j, "nextPage_url");
        free(path);
        path = NULL;
        if (next) {
            assert_memory_equal(next, "/banking/eventHistory?", 22);
            assert_non_null(strstr(next, desc ? "sortBy=-occurredAt" : "sortBy=occurredAt"));
            path = strdup(next);
        } else {
            assert_true(json_array_size(items) <= limit);
        }
        json_decref(j);
    }
    return n;
}

static void check_paging(const char *interval, int64_t from, int64_t to, size_t limit, size_t want_n)
{
    long long db[256], got[256];
    int64_t ms[256];
    size_t nd = db_interval(from, to, db, 256);
    assert_int_equal(nd, want_n);
    for (int desc = 0; desc < 2; desc++) {
        char first[512] = "/banking/eventHistory";
        char lim[16];
        snprintf(lim, sizeof(lim), "%zu", limit);
        add_param(first, sizeof(first), "occurredAt", interval);
        add_param(first, sizeof(first), "limit", lim);
        if (!desc || limit % 2) /* the default order is descending */
            add_param(first, sizeof(first), "sortBy", desc ? "-occurredAt" : "occurredAt");
        size_t pages;
        size_t n = follow_pages(first, limit, desc, got, ms, 256, &pages);
        if (n != nd)
            fail_msg("%s %s limit %zu: %zu items over %zu pages, the store has %zu", interval,
                     desc ? "descending" : "ascending", limit, n, pages, nd);
        for (size_t i = 0; i < n; i++) {
            long long want = desc ? db[nd - 1 - i] : db[i];
            if (got[i] != want)
                fail_msg("%s %s limit %zu: item %zu is %lld, the store's is %lld", interval,
                         desc ? "descending" : "ascending", limit, i, got[i], want);
            assert_true(ms[i] >= from && ms[i] < to);
        }
        assert_true(pages >= (nd + limit - 1) / limit);
        assert_true(pages <= nd / limit + 1);
    }
}

static void test_history_pages_cover_the_interval(void **state)
{
    (void)state;
    post_history_events();
    /* the whole day, as dates */
    check_paging("[2020-09-13,2020-09-13]", 1599955200000LL, 1599955200000LL + 86400000, 4, HCOUNT);
    check_paging("(2020-09-12,2020-09-14)", 1599955200000LL, 1599955200000LL + 86400000, 7, HCOUNT);
    /* instants: ( after the start, ] through the end: seconds 3..9 -> events 9..29 */
    check_paging("(2020-09-13T12:26:42Z,2020-09-13T12:26:49.000Z]", HBASE + 2001, HBASE + 9001, 4, 21);
    /* [ from the start, ) before the end: seconds 2..8 */
    check_paging("[2020-09-13T12:26:42.000Z,2020-09-13T12:26:49Z)", HBASE + 2000, HBASE + 9000, 3, 21);
    /* one page exactly, and a page size of one */
    check_paging("[2020-09-13T12:26:40Z,2020-09-13T12:26:41Z)", HBASE, HBASE + 1000, 3, 3);
    check_paging("[2020-09-13T12:26:40Z,2020-09-13T12:26:44Z)", HBASE, HBASE + 4000, 1, 12);
    /* nothing */
    check_paging("[2020-09-13T12:00:00Z,2020-09-13T12:26:40Z)", HBASE - 1600000, HBASE, 5, 0);
}

static void test_history_item_ids_and_filters(void **state)
{
    (void)state;
    post_history_events();
    /* the items are the events posted, with their ids */
    char q[512] = "/banking/eventHistory?limit=100&sortBy=occurredAt";
    add_param(q, sizeof(q), "occurredAt", "[2020-09-13,2020-09-14)");
    json_t *j = get_ok(q);
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), HCOUNT);
    for (size_t i = 0; i < HCOUNT; i++) {
        json_t *it = json_array_get(items, i);
        assert_string_equal(jstr(it, "primaryId"), hist_ids[i]);
        assert_string_equal(jstr(it, "type"), i % 5 == 4 ? "unknownEvent" : "caseCreated");
        assert_int_equal(item_ms(it), HBASE + (long long)(i / 3) * 1000);
    }
    assert_null(json_object_get(j, "nextPage_url"));
    assert_string_equal(jstr(j, "start"), "");
    json_decref(j);

    /* a type filter, paged: the filter rides along in nextPage_url */
    snprintf(q, sizeof(q), "/banking/eventHistory?limit=5&sortBy=occurredAt&type=unknownEvent");
    add_param(q, sizeof(q), "occurredAt", "[2020-09-13,2020-09-14)");
    long long seqs[64];
    int64_t ms[64];
    size_t pages;
    size_t n = follow_pages(q, 5, false, seqs, ms, 64, &pages);
    assert_int_equal(n, HCOUNT / 5);
    /* a category and type that exclude each other */
    snprintf(q, sizeof(q), "/banking/eventHistory?limit=100&type=caseCreated&category=bookings");
    add_param(q, sizeof(q), "occurredAt", "[2020-09-13,2020-09-14)");
    j = get_ok(q);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    /* a pipe list of types */
    snprintf(q, sizeof(q), "/banking/eventHistory?limit=100&type=bookingFailed%%7CunknownEvent%%7CcaseCreated");
    add_param(q, sizeof(q), "occurredAt", "[2020-09-13,2020-09-14)");
    j = get_ok(q);
    assert_int_equal(json_array_size(json_object_get(j, "items")), HCOUNT);
    json_decref(j);
    /* the start cursor of a next page comes back in the page */
    snprintf(q, sizeof(q), "/banking/eventHistory?limit=2&sortBy=occurredAt");
    add_param(q, sizeof(q), "occurredAt", "[2020-09-13,2020-09-14)");
    j = get_ok(q);
    const char *next = jstr(j, "nextPage_url");
    assert_non_null(next);
    const char *s = strstr(next, "start=");
    assert_non_null(s);
    char cursor[FEED_TOKEN_MAX];
    snprintf(cursor, sizeof(cursor), "%.*s", (int)strcspn(s + 6, "&"), s + 6);
    json_t *j2 = get_ok(next);
    assert_string_equal(jstr(j2, "start"), cursor);
    assert_int_equal(item_seq(json_array_get(json_object_get(j2, "items"), 0)),
                     item_seq(json_array_get(json_object_get(j, "items"), 1)) + 1);
    json_decref(j2);
    json_decref(j);
}

/* Without occurredAt: the past hour (records received now, such as bookings, whose
 * occurredAt is their arrival; not the 2020 events). */
static void test_history_default_past_hour(void **state)
{
    (void)state;
    post_history_events();
    char id[37];
    test_uuid(id);
    char *b = amiko_booking(id, "12.50");
    post_as("/bookings", "feed-recent-booking", b, 200);
    free(b);
    json_t *j = get_ok("/banking/eventHistory?limit=10000");
    json_t *items = json_object_get(j, "items");
    bool found = false;
    int64_t now = timefmt_now_ms();
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        int64_t ms = item_ms(it);
        assert_true(ms > now - 3600000 - 5000 && ms <= now + 5000);
        found = found || (jstr(it, "primaryId") && !strcmp(jstr(it, "primaryId"), id));
    }
    assert_true(found);
    json_decref(j);
}

/* A far-past start is valid RFC 3339: the next page must still be a valid request. */
static void test_history_next_page_of_early_interval(void **state)
{
    (void)state;
    post_history_events();
    const char *intervals[] = {"[0001-01-01,2020-09-13T12:26:41Z)", "[1969-12-31T23:59:59.500Z,2020-09-13T12:26:41Z)",
                               "[1900-01-01,2020-09-13T12:26:41Z)"};
    size_t failures = 0;
    for (size_t k = 0; k < sizeof(intervals) / sizeof(intervals[0]); k++) {
        char q[512] = "/banking/eventHistory?limit=1&sortBy=occurredAt";
        add_param(q, sizeof(q), "occurredAt", intervals[k]);
        json_t *j = get_ok(q);
        const char *next = jstr(j, "nextPage_url");
        assert_non_null(next);
        struct http_resp r;
        assert_true(request(NULL, next, READER, NULL, &r));
        if (r.status != 200) {
            print_error("occurredAt=%s: the nextPage_url %s answers %ld\n", intervals[k], next, r.status);
            failures++;
        }
        http_resp_free(&r);
        json_decref(j);
    }
    assert_int_equal(failures, 0);
}

/* ---- filters on recentEventHistory ---- */

static size_t count_items(const char *query, const char *want_type, const char *const *want_categories)
{
    size_t total = 0;
    char wm[FEED_TOKEN_MAX] = "";
    for (int guard = 0; guard < 100; guard++) {
        char path[512];
        snprintf(path, sizeof(path), "/banking/recentEventHistory?limit=10000&%s", query);
        if (wm[0])
            add_param(path, sizeof(path), "watermark", wm);
        json_t *j = get_ok(path);
        json_t *items = json_object_get(j, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *it = json_array_get(items, i);
            if (want_type)
                assert_non_null(strstr(want_type, jstr(it, "type")));
            if (want_categories) {
                bool ok = false;
                for (size_t c = 0; want_categories[c]; c++)
                    ok = ok || !strcmp(want_categories[c], jstr(it, "category"));
                if (!ok)
                    fail_msg("category %s for %s", jstr(it, "category"), query);
            }
        }
        total += json_array_size(items);
        snprintf(wm, sizeof(wm), "%s", jstr(j, "watermark"));
        bool more = json_is_true(json_object_get(j, "hasMore"));
        json_decref(j);
        if (!more) {
            /* a filtered scan still ends at the end of the store */
            int64_t w;
            assert_true(watermark_seq(wm, &w));
            assert_int_equal(w, max_seq());
            return total;
        }
    }
    fail_msg("no end");
    return 0;
}

static void test_recent_filters(void **state)
{
    (void)state;
    post_history_events();
    long long v1_known = db_scalar(&D, "SELECT count(*) FROM records WHERE source='amiko.event' AND type='case_created'");
    long long failed = db_scalar(&D, "SELECT count(*) FROM records WHERE source='amiko.booking_result' AND type='failed'");
    long long bookings = db_scalar(&D, "SELECT count(*) FROM records WHERE source LIKE 'amiko.booking%'");
    long long cards = db_scalar(&D, "SELECT count(*) FROM records WHERE source='apiture.card_activity'");
    long long riverty = db_scalar(&D, "SELECT count(*) FROM records WHERE source='riverty.event'");
    assert_true(v1_known > 0 && failed > 0 && bookings > 0 && cards > 0 && riverty > 0);

    assert_int_equal(count_items("type=caseCreated", "caseCreated", NULL), v1_known);
    assert_int_equal(count_items("type=caseCreated%7CbookingFailed", "caseCreated bookingFailed", NULL),
                     v1_known + failed);
    static const char *const bc[] = {"bookings", "cardActivity", NULL};
    assert_int_equal(count_items("category=bookings%7CcardActivity", NULL, bc), bookings + cards);
    static const char *const ae[] = {"accountEvents", NULL};
    assert_int_equal(count_items("category=accountEvents", NULL, ae), riverty);
    /* type and category together: both must match */
    assert_int_equal(count_items("type=caseCreated%7CaccountInfo&category=accountEvents", "accountInfo", ae),
                     db_scalar(&D, "SELECT count(*) FROM records WHERE source='riverty.event' AND type='Info'"));
    assert_int_equal(count_items("type=caseCreated&category=bookings", NULL, NULL), 0);
    /* a well-formed name no record has: nothing, not an error */
    assert_int_equal(count_items("type=noSuchTypeAnywhere", NULL, NULL), 0);
    assert_int_equal(count_items("category=noSuchCategory", NULL, NULL), 0);
    /* no stored event has a session or an agent */
    assert_int_equal(count_items("sessionId=abcdef123", NULL, NULL), 0);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
    (void)state;
    post_history_events();
    long long total = db_scalar(&D, "SELECT count(*) FROM records");
    assert_true(total > 1000);
    /* 0: no items, the watermark stays, more to read */
    char fifth[FEED_TOKEN_MAX], q0[256] = "/banking/recentEventHistory?limit=0";
    watermark_at(&D, db_scalar(&D, "SELECT seq FROM records ORDER BY seq LIMIT 1 OFFSET 4"), fifth);
    add_param(q0, sizeof(q0), "watermark", fifth);
    json_t *j = get_ok(q0);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    assert_string_equal(jstr(j, "watermark"), fifth);
    assert_true(json_is_true(json_object_get(j, "hasMore")));
    json_decref(j);
    /* the default is 1,000 */
    j = get_ok("/banking/recentEventHistory");
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1000);
    assert_true(json_is_true(json_object_get(j, "hasMore")));
    json_decref(j);
    /* 10,000: everything there is (fewer than 10,000 here) */
    j = get_ok("/banking/recentEventHistory?limit=10000");
    assert_int_equal(json_array_size(json_object_get(j, "items")), total < 10000 ? total : 10000);
    assert_int_equal(json_is_true(json_object_get(j, "hasMore")), total > 10000);
    json_decref(j);
    j = get_ok("/banking/recentEventHistory?limit=1");
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    /* eventHistory: 0 and 10,000 */
    char q[256] = "/banking/eventHistory?limit=0";
    add_param(q, sizeof(q), "occurredAt", "[2020-09-13,2020-09-14)");
    j = get_ok(q);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "limit")), 0);
    json_decref(j);
    snprintf(q, sizeof(q), "/banking/eventHistory?limit=10000");
    add_param(q, sizeof(q), "occurredAt", "[2020-09-13,2020-09-14)");
    j = get_ok(q);
    assert_int_equal(json_array_size(json_object_get(j, "items")), HCOUNT);
    assert_null(json_object_get(j, "nextPage_url"));
    json_decref(j);
}

/* ---- bad parameters: 400 problem+json naming the parameter ---- */

static void expect_400(const char *path, const char *param)
{
    struct http_resp r;
    if (!request(NULL, path, READER, NULL, &r))
        fail_msg("GET %s: no answer", path);
    if (r.status != 400)
        fail_msg("GET %s: %ld (want 400): %.200s", path, r.status, r.body);
    if (!strstr(r.content_type, "application/problem+json"))
        fail_msg("GET %s: Content-Type %s", path, r.content_type);
    json_t *p = json_loadb(r.body, r.len, 0, NULL);
    assert_non_null(p);
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 400);
    assert_non_null(jstr(p, "type"));
    assert_non_null(jstr(p, "title"));
    const char *detail = jstr(p, "detail");
    if (!detail || !strstr(detail, param))
        fail_msg("GET %s: detail \"%s\" does not name %s", path, detail ? detail : "(none)", param);
    json_decref(p);
    http_resp_free(&r);
}

static void expect_400_with(const char *route, const char *name, const char *value, const char *param)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s", route);
    add_param(path, sizeof(path), name, value);
    expect_400(path, param);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    const char *RECENT = "/banking/recentEventHistory", *HIST = "/banking/eventHistory";
    const char *routes[] = {RECENT, HIST};
    char long_wm[300];
    memset(long_wm, '1', sizeof(long_wm));
    memcpy(long_wm, "w1.", 3);
    long_wm[257] = '\0';
    const char *watermarks[] = {"nope", "w1.", "w1.A", "w1.00", "W1.1", "w2.1", "w1.1 ", "c1.0.0",
                                "w1.10000000000000", "w1.1y2p0ij32e8e8", long_wm};
    for (size_t i = 0; i < sizeof(watermarks) / sizeof(watermarks[0]); i++)
        expect_400_with(RECENT, "watermark", watermarks[i], "watermark");
    const char *starts[] = {"xyz", "c1.0", "c1.0.", "c1.00.1", "w1.5", "c1.A.0", "c1.0.0.0"};
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
        expect_400_with(HIST, "start", starts[i], "start");
    const char *intervals[] = {"2024-01-01",
                               "[2024-01-01,2024-02-01",
                               "[2024-01-01]",
                               "[2024-01-01,2024-01-15,2024-02-01)",
                               "[2024-02-01,2024-01-01)",
                               "[2024-13-01,)",
                               "[2024-01-01T00:00:00+02:00,)",
                               "[2024-01-01T00:00:00,)",
                               ""};
    for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++)
        expect_400_with(HIST, "occurredAt", intervals[i], "occurredAt");
    const char *sorts[] = {"", "date", "occurredat", "+occurredAt", "occurredAt,-occurredAt", "-occurredAt "};
    for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
        expect_400_with(HIST, "sortBy", sorts[i], "sortBy");
    const char *types[] = {"", "Bad", "abc", "ab_cd", "caseCreated|", "caseCreated|caseCreated", "1abc"};
    const char *categories[] = {"", "Bookings", "abc", "book ings", "bookings||cardActivity"};
    const char *limits[] = {"10001", "-1", "abc", "1.5", "", "01", "99999", "100000", " 5", "1e3"};
    for (size_t r = 0; r < 2; r++) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            expect_400_with(routes[r], "type", types[i], "type");
        for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++)
            expect_400_with(routes[r], "category", categories[i], "category");
        for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
            expect_400_with(routes[r], "limit", limits[i], "limit");
    }
    /* 33 types */
    char many[33 * 12] = "";
    for (int i = 0; i < 33; i++) {
        char one[16];
        snprintf(one, sizeof(one), "%stype%04d", i ? "|" : "", i);
        strcat(many, one);
    }
    expect_400_with(RECENT, "type", many, "type");
}

/* 13 base-36 digits above 2^64 must not wrap around to a valid position. */
static void test_overflowing_watermark_refused(void **state)
{
    (void)state;
    expect_400_with("/banking/recentEventHistory", "watermark", "w1.3w5e11264sgsg", "watermark");
    expect_400_with("/banking/eventHistory", "start", "c1.3w5e11264sgsg.1", "start");
}

/* ---- scopes ---- */

static void test_scopes(void **state)
{
    (void)state;
    const char *paths[] = {"/banking/recentEventHistory", "/banking/eventHistory", "/banking/eventTypes"};
    for (size_t i = 0; i < 3; i++) {
        struct http_resp r;
        assert_true(request(NULL, paths[i], NULL, NULL, &r));
        if (r.status != 401)
            fail_msg("%s without a key: %ld", paths[i], r.status);
        assert_true(r.www_authenticate[0] != '\0');
        assert_non_null(strstr(r.content_type, "application/problem+json"));
        http_resp_free(&r);
        const char *wrong[] = {"X-API-Key: not-a-configured-key", NULL};
        assert_true(request(NULL, paths[i], wrong, NULL, &r));
        assert_int_equal(r.status, 401);
        http_resp_free(&r);
        assert_true(request(NULL, paths[i], NOREAD, NULL, &r));
        if (r.status != 403)
            fail_msg("%s with a key without bankingAdmin/read: %ld", paths[i], r.status);
        assert_non_null(strstr(r.content_type, "application/problem+json"));
        assert_null(strstr(r.body, "\"items\""));
        http_resp_free(&r);
        const char *writer[] = {"X-API-Key: " WRITER_SECRET, NULL};
        assert_true(request(NULL, paths[i], writer, NULL, &r));
        assert_int_equal(r.status, 403);
        http_resp_free(&r);
        assert_true(request(NULL, paths[i], READER, NULL, &r));
        assert_int_equal(r.status, 200);
        http_resp_free(&r);
    }
}

/* ---- eventTypes ---- */

static void test_event_types_route(void **state)
{
    (void)state;
    json_t *j = get_ok("/banking/eventTypes");
    assert_true(json_is_true(json_object_get(j, "eventsEnabled")));
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), event_types_count);
    for (size_t i = 0; i < event_types_count; i++) {
        json_t *it = json_array_get(items, i);
        assert_string_equal(jstr(it, "category"), event_types[i].category);
        assert_string_equal(jstr(it, "type"), event_types[i].type);
        assert_string_equal(jstr(it, "description"), event_types[i].description);
        assert_non_null(jstr(it, "primaryIdDescription"));
    }
    /* every category/type the feed returns is listed */
    json_t *feed = get_ok("/banking/recentEventHistory?limit=10000");
    json_t *fi = json_object_get(feed, "items");
    for (size_t k = 0; k < json_array_size(fi); k++) {
        json_t *f = json_array_get(fi, k);
        bool listed = false;
        for (size_t i = 0; i < json_array_size(items) && !listed; i++) {
            json_t *it = json_array_get(items, i);
            listed = !strcmp(jstr(it, "type"), jstr(f, "type")) && !strcmp(jstr(it, "category"), jstr(f, "category"));
        }
        if (!listed)
            fail_msg("%s/%s is in the feed but not in eventTypes", jstr(f, "category"), jstr(f, "type"));
    }
    /* and each of the fifteen kinds stored by this test appears in the feed */
    size_t kinds = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        for (size_t k = 0; k < json_array_size(fi); k++)
            if (!strcmp(jstr(it, "type"), jstr(json_array_get(fi, k), "type"))) {
                kinds++;
                break;
            }
    }
    assert_int_equal(kinds, event_types_count);
    json_decref(feed);
    json_decref(j);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_scopes)),
        IH_TEST(cmocka_unit_test(test_every_source_read_back)),
        IH_TEST(cmocka_unit_test(test_no_watermark_starts_at_beginning)),
        IH_TEST(cmocka_unit_test(test_poller_sees_every_acknowledged_event_once)),
        IH_TEST(cmocka_unit_test(test_history_pages_cover_the_interval)),
        IH_TEST(cmocka_unit_test(test_history_item_ids_and_filters)),
        IH_TEST(cmocka_unit_test(test_history_default_past_hour)),
        IH_TEST(cmocka_unit_test(test_history_next_page_of_early_interval)),
        IH_TEST(cmocka_unit_test(test_recent_filters)),
        IH_TEST(cmocka_unit_test(test_limits)),
        IH_TEST(cmocka_unit_test(test_bad_parameters)),
        IH_TEST(cmocka_unit_test(test_overflowing_watermark_refused)),
        IH_TEST(cmocka_unit_test(test_event_types_route)),
    };
    int rc = IH_RUN_TESTS(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
