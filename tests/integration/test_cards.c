/* POST /system/incomingCardActivity against the real daemon: a 1,000-item batch
 * stored once even when posted twice, also when retried across the upgrade that put each
 * item's occurredAt in front of its key (migration 0008), a batch with one bad item stores nothing,
 * Idempotency-Key, rate limiting, card numbers in free text masked, and afterwards no
 * test PAN or tax id anywhere in the database, its WAL, the log or the feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "issuerhook/crypto.h"

#define CARD_SECRET "card-adapter-key"
#define READER_SECRET "feed-reader-key"
/* Luhn-valid, in the free text of one item (and nowhere else) */
#define REASON_PAN "5200 8282 8282 8210"
#define MERCHANT_PAN "4111-1111-1111-1111"
#define ITEMS 1000

static struct daemon D;
static char card_key[200], reader_key[200];
static const char *const CARD[] = {"Content-Type: application/json", "X-API-Key: " CARD_SECRET, NULL};

/* The i-th test PAN (16 digits, distinct) and tax id. */
static void test_pan(size_t i, char *out)
{
    snprintf(out, 20, "49%014llu", 31415926000000ull + (unsigned long long)i * 7919);
}
static void test_tax(size_t i, char *out)
{
    snprintf(out, 16, "9%02zu-7%01zu-%04zu", i % 100, i % 10, 1000 + i);
}

/* A batch of n items starting at from; bad: index of an item to break (or -1). */
static char *batch(size_t from, size_t n, long bad)
{
    json_t *items = json_array();
    for (size_t i = from; i < from + n; i++) {
        char pan[24], tax[24], when[40];
        test_pan(i, pan);
        test_tax(i, tax);
        snprintf(when, sizeof(when), "2024-10-01T07:%02zu:%02zu.%03zuZ", (i / 60) % 60, i % 60, i % 1000);
        json_t *it = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:{s:s, s:s}},"
                               " s:s, s:s}",
                               "customerId", "d1b95731fb029fec062c", "customerTaxId", tax, "cardId", "ca0sf8ds0af",
                               "pan", pan, "activityType", i % 2 ? "approved" : "declined", "reasonCode",
                               "transactionOccurred", "reason", "a reason", "amount", "value", "12.34", "currency",
                               "USD", "merchant", "category", "shopping.other", "name", "Amazon", "address",
                               "regionCode", "WA", "countryCode", "US", "occurredAt", when, "location",
                               "onlineMerchant");
        if (bad >= 0 && (size_t)bad == i - from)
            json_object_set_new(it, "location", json_string("moon"));
        json_array_append_new(items, it);
    }
    json_t *b = json_pack("{s:s, s:o}", "institutionId", "TIBURON", "items", items);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

static int setup(void **state)
{
    (void)state;
    key_line("CARD", CARD_SECRET, "cardAdapter/write", card_key, sizeof(card_key));
    key_line("READER", READER_SECRET, "bankingAdmin/read", reader_key, sizeof(reader_key));
    D.extra_env[0] = card_key;
    D.extra_env[1] = reader_key;
    D.extra_env[2] = NULL;
    D.pg_private = true; /* test_no_card_data_on_disk_or_in_logs scans the cluster's files */
    return daemon_start(&D) && store_scan_prepare(&D) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = daemon_stop(&D, SIGTERM);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static long post(const char *const *h, const char *body, struct http_resp *keep)
{
    struct http_resp r;
    assert_true(http_post(&D, "/system/incomingCardActivity", h, body, strlen(body), &r));
    long st = r.status;
    if (keep)
        *keep = r;
    else
        http_resp_free(&r);
    return st;
}

static void test_thousand_items_stored_once(void **state)
{
    (void)state;
    char *b = batch(0, ITEMS, -1);
    struct http_resp r;
    assert_int_equal(post(CARD, b, &r), 200);
    assert_int_equal(r.len, 0); /* 200 with no body */
    http_resp_free(&r);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records WHERE source='apiture.card_activity'"), ITEMS);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM card_activities"), ITEMS);
    /* the retried batch stores nothing twice; each item counts one duplicate */
    assert_int_equal(post(CARD, b, NULL), 200);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records WHERE source='apiture.card_activity'"), ITEMS);
    assert_int_equal(db_scalar(&D, "SELECT sum(duplicates) FROM records WHERE source='apiture.card_activity'"), ITEMS);
    /* what is stored: the masked PAN, tokens, first six / last four; no tax id */
    char pan[24], sql[600];
    test_pan(7, pan);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM records r JOIN card_activities c ON c.seq = r.seq WHERE json_extract(r.payload, '$.pan') = "
             "'%.4s********%s' AND c.pan_lead = '%.4s' AND c.pan_last4 = '%s' AND length(c.pan_token) = 64 AND "
             "c.tax_id_token IS NOT NULL AND json_extract(r.payload, '$.customerTaxId') IS NULL",
             pan, pan + 12, pan, pan + 12);
    assert_int_equal(db_scalar(&D, sql), 1);
    free(b);
}

/* Keys are made as cards_item_key says (occurredAt in ms, then the hash); a batch stored
 * before that (schema 7: the hex hash alone) and retried after the upgrade is still a repeat,
 * item by item: migration 0008 rewrote the stored keys the same way. */
static void test_batch_retried_across_the_key_upgrade_is_a_repeat(void **state)
{
    (void)state;
    static const char NEW_KEYS[] = "SELECT count(*) FROM records WHERE source = 'apiture.card_activity' AND "
                                   "idem_key = printf('%013d-', occurred_at) || lower(hex(payload_sha256))";
    struct daemon d = {0};
    d.extra_env[0] = card_key;
    d.extra_env[1] = NULL;
    assert_true(daemon_start(&d));
    char *b = batch(5000, 50, -1);
    struct http_resp r;
    assert_true(http_post(&d, "/system/incomingCardActivity", CARD, b, strlen(b), &r));
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
    assert_int_equal(db_scalar(&d, NEW_KEYS), 50);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);

    /* the database as schema 7 left it */
    assert_true(db_exec(&d, "UPDATE records SET idem_key = lower(hex(payload_sha256))"
                            " WHERE source = 'apiture.card_activity';"
                            " DELETE FROM schema_migrations WHERE version = 8;"));
    assert_int_equal(db_scalar(&d, NEW_KEYS), 0);
    assert_true(daemon_start(&d)); /* the upgrade: 0008 runs */
    assert_int_equal(db_scalar(&d, NEW_KEYS), 50);
    assert_true(http_post(&d, "/system/incomingCardActivity", CARD, b, strlen(b), &r));
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records WHERE source = 'apiture.card_activity'"), 50);
    assert_int_equal(db_scalar(&d, "SELECT sum(duplicates) FROM records WHERE source = 'apiture.card_activity'"), 50);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM card_activities"), 50);
    free(b);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* An item's identity (what makes a retry a repeat) is the SHA-256 of its canonical form
 * with its card data tokenized: the PAN's token for the PAN, the tax id's token as
 * customerTaxId. Computed here from what is stored, apart from how the daemon computes it,
 * for an item with a tax id and one without: a change to it would make every batch sent
 * before an upgrade and retried after it a new one. The hash is the end of the record's
 * key (cards_item_key: "<occurredAt ms>-<hex>"). */
static void test_item_identity_is_the_tokenized_item(void **state)
{
    (void)state;
    char *b = batch(8100, 2, -1);
    json_t *doc = json_loads(b, 0, NULL);
    json_object_del(json_array_get(json_object_get(doc, "items"), 1), "customerTaxId");
    free(b);
    b = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_int_equal(post(CARD, b, NULL), 200);
    free(b);
    static const char WHERE[] = " FROM records r JOIN card_activities c ON c.seq = r.seq WHERE "
                                "json_extract(r.payload, '$.occurredAt') IN ('2024-10-01T07:15:00.100Z', "
                                "'2024-10-01T07:15:01.101Z') ORDER BY r.seq";
    char sql[400], **payload, **token, **tax, **key;
    snprintf(sql, sizeof(sql), "SELECT r.payload%s", WHERE);
    assert_int_equal(db_strings(&D, sql, &payload), 2);
    snprintf(sql, sizeof(sql), "SELECT c.pan_token%s", WHERE);
    assert_int_equal(db_strings(&D, sql, &token), 2);
    snprintf(sql, sizeof(sql), "SELECT c.tax_id_token%s", WHERE);
    assert_int_equal(db_strings(&D, sql, &tax), 2);
    snprintf(sql, sizeof(sql), "SELECT r.idem_key%s", WHERE);
    assert_int_equal(db_strings(&D, sql, &key), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(strlen(tax[i]) > 0, i == 0);
        json_t *item = json_loads(payload[i], 0, NULL);
        assert_non_null(item);
        json_object_set_new(item, "pan", json_string(token[i]));
        if (*tax[i])
            json_object_set_new(item, "customerTaxId", json_string(tax[i]));
        char *identity = json_dumps(item, JSON_SORT_KEYS | JSON_COMPACT); /* no numbers: the canonical form */
        unsigned char h[CRYPTO_SHA256_LEN];
        char hex[2 * CRYPTO_SHA256_LEN + 1];
        crypto_sha256(identity, strlen(identity), h);
        crypto_hex(h, sizeof(h), hex);
        const char *dash = strchr(key[i], '-');
        assert_non_null(dash);
        assert_string_equal(dash + 1, hex);
        free(identity);
        json_decref(item);
        free(payload[i]);
        free(token[i]);
        free(tax[i]);
        free(key[i]);
    }
    free(payload);
    free(token);
    free(tax);
    free(key);
}

static void test_one_bad_item_stores_nothing(void **state)
{
    (void)state;
    long long before = db_scalar(&D, "SELECT count(*) FROM records");
    char *b = batch(2000, 999, 500);
    struct http_resp r;
    assert_int_equal(post(CARD, b, &r), 400);
    assert_non_null(strstr(r.content_type, "application/problem+json"));
    json_t *p = json_loads(r.body, 0, NULL);
    json_t *probs = json_object_get(p, "problems");
    assert_int_equal(json_array_size(probs), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(probs, 0), "attributes"), "pointer")),
                        "/items/500/location");
    json_decref(p);
    http_resp_free(&r);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records"), before);
    free(b);
    /* and a batch over 1,000 items is refused whole */
    b = batch(5000, 1001, -1);
    assert_int_equal(post(CARD, b, NULL), 400);
    free(b);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records"), before);
}

/* Card data the pattern lets through but that cannot be a card or tax number is a 400
 * with its pointer, not a 503 the sender would retry forever. */
static void test_too_few_digits_is_400(void **state)
{
    (void)state;
    long long before = db_scalar(&D, "SELECT count(*) FROM records");
    char *b = batch(6000, 3, -1);
    json_t *j = json_loads(b, 0, NULL);
    free(b);
    json_object_set_new(json_array_get(json_object_get(j, "items"), 1), "pan", json_string("4            2"));
    json_object_set_new(json_array_get(json_object_get(j, "items"), 2), "customerTaxId", json_string("---------"));
    b = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct http_resp r;
    assert_int_equal(post(CARD, b, &r), 400);
    assert_non_null(strstr(r.body, "\"/items/1/pan\""));
    assert_non_null(strstr(r.body, "\"/items/2/customerTaxId\""));
    http_resp_free(&r);
    free(b);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records"), before);
}

static void test_idempotency_key(void **state)
{
    (void)state;
    const char *h[] = {"Content-Type: application/json", "X-API-Key: " CARD_SECRET, "Idempotency-Key: batch-77", NULL};
    char *b = batch(3000, 3, -1), *other = batch(3100, 3, -1);
    assert_int_equal(post(h, b, NULL), 200);
    assert_int_equal(post(h, b, NULL), 200); /* the first answer again */
    struct http_resp r;
    assert_int_equal(post(h, other, &r), 409); /* same key, another body */
    assert_non_null(strstr(r.body, "Idempotency-Key"));
    http_resp_free(&r);
    char pan[24], sql[200];
    test_pan(3100, pan);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM card_activities WHERE pan_last4 = '%s' AND pan_lead = '%.4s'",
             pan + 12, pan);
    assert_int_equal(db_scalar(&D, sql), 0);
    const char *bad[] = {"Content-Type: application/json", "X-API-Key: " CARD_SECRET, "Idempotency-Key: a b", NULL};
    assert_int_equal(post(bad, b, NULL), 400);
    free(b);
    free(other);
}

static void test_rate_limited(void **state)
{
    (void)state;
    char key[200];
    key_line("CARD", CARD_SECRET, "cardAdapter/write", key, sizeof(key));
    struct daemon d = {.extra_env = {key, "ISSUERHOOK_RATE_LIMIT=1", "ISSUERHOOK_RATE_BURST=2", NULL}};
    assert_true(daemon_start(&d));
    char *b = batch(4000, 1, -1);
    long st[4];
    struct http_resp r = {0};
    for (int i = 0; i < 4; i++) {
        http_resp_free(&r);
        assert_true(http_post(&d, "/system/incomingCardActivity", CARD, b, strlen(b), &r));
        st[i] = r.status;
    }
    assert_int_equal(st[0], 200);
    assert_int_equal(st[1], 200);
    assert_int_equal(st[3], 429);
    assert_string_equal(r.retry_after, "1");
    assert_non_null(strstr(r.content_type, "application/problem+json"));
    http_resp_free(&r);
    free(b);
    /* another caller is not held back by this one's limit */
    const char *h[] = {"X-API-Key: " KEY_READ, NULL};
    assert_true(http_get(&d, "/bookings?status=pending", h, &r));
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* A card number in an item's free text (reason, merchant name) is masked before it is
 * stored; the item's identity is what is stored, so the same batch again is a repeat. */
static void test_card_numbers_in_free_text_are_masked(void **state)
{
    (void)state;
    char *b = batch(7000, 1, -1);
    json_t *j = json_loads(b, 0, NULL);
    free(b);
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    json_object_set_new(it, "reason", json_string("card " REASON_PAN " declined"));
    json_object_set_new(json_object_get(it, "merchant"), "name", json_string("Shop " MERCHANT_PAN));
    b = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    double before = metric_value(&D, "issuerhook_card_numbers_masked_total{route=\"/system/incomingCardActivity\"}");
    assert_int_equal(post(CARD, b, NULL), 200);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records WHERE source = 'apiture.card_activity' AND "
                                   "json_extract(payload, '$.reason') = 'card **** **** **** 8210 declined' AND "
                                   "json_extract(payload, '$.merchant.name') = 'Shop ****-****-****-1111' AND "
                                   "duplicates = 0"),
                     1);
    double after = metric_value(&D, "issuerhook_card_numbers_masked_total{route=\"/system/incomingCardActivity\"}");
    assert_true(after - (before < 0 ? 0 : before) == 2);
    assert_int_equal(post(CARD, b, NULL), 200);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records WHERE json_extract(payload, '$.reason') = "
                                   "'card **** **** **** 8210 declined' AND duplicates = 1"),
                     1);
    free(b);
}

/* Every page of the feed, concatenated (caller frees). */
static char *feed_text(size_t *len)
{
    const char *h[] = {"X-API-Key: " READER_SECRET, NULL};
    char wm[64] = "", path[128];
    char *all = NULL;
    size_t n = 0;
    for (int page = 0; page < 100; page++) {
        snprintf(path, sizeof(path), "/banking/recentEventHistory?limit=1000%s%s", wm[0] ? "&watermark=" : "", wm);
        struct http_resp r;
        assert_true(http_get(&D, path, h, &r));
        assert_int_equal(r.status, 200);
        all = realloc(all, n + r.len + 1);
        memcpy(all + n, r.body, r.len);
        n += r.len;
        all[n] = '\0';
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        snprintf(wm, sizeof(wm), "%s", json_string_value(json_object_get(j, "watermark")));
        bool more = json_is_true(json_object_get(j, "hasMore"));
        json_decref(j);
        http_resp_free(&r);
        if (!more) {
            *len = n;
            return all;
        }
    }
    fail_msg("the feed does not end");
    return NULL;
}

/* The test PANs and tax ids of the items this file posted or tried to (caller frees the
 * array; the strings are in buf). */
static const char **sent_card_data(char (*buf)[24], size_t *n)
{
    const char **all = calloc(2 * 5100, sizeof(*all));
    assert_non_null(all);
    *n = 0;
    for (size_t i = 0; i < 5100; i++) {
        if ((i >= ITEMS && i < 2000) || (i >= 2999 && i < 3000) || (i > 3002 && i < 3100) || (i > 3102 && i < 5000))
            continue;
        test_pan(i, buf[*n]);
        all[*n] = buf[*n];
        (*n)++;
        test_tax(i, buf[*n]);
        all[*n] = buf[*n];
        (*n)++;
    }
    return all;
}

/* No clear card data anywhere the store keeps bytes (SQLite: the database and its WAL;
 * PostgreSQL: the cluster's files, pg_wal and the server's log), in the daemon's log or
 * in the feed; the scan is shown to see what is there by the masked PAN it finds. */
static void test_no_card_data_on_disk_or_in_logs(void **state)
{
    (void)state;
    assert_true(daemon_log_sync(&D)); /* every line of the requests so far is in the file */
    struct scan_image *disk = store_image_read(&D), *log = scan_image_new();
    assert_non_null(disk);
    assert_non_null(log);
    assert_true(scan_image_add(log, D.log));
    /* the scan sees what is there: the masked PAN is stored, and is in the feed */
    char seventh[24], masked[24];
    test_pan(7, seventh);
    snprintf(masked, sizeof(masked), "%.4s********%s", seventh, seventh + 12);
    assert_true(scan_image_has(disk, masked, strlen(masked)));
    const char *control[] = {"no such bytes anywhere", masked};
    assert_int_equal(scan_image_find_any(disk, control, 2), 1);
    size_t feed_len = 0;
    char *feed = feed_text(&feed_len);
    struct scan_image *fimg = scan_image_new();
    assert_non_null(fimg);
    assert_true(scan_image_add_bytes(fimg, feed, feed_len));
    assert_true(scan_image_has(fimg, masked, strlen(masked)));
    assert_true(scan_image_has(fimg, "card **** **** **** 8210", 24));
    struct scan_image *images[] = {disk, log, fimg};
    const char *where[] = {"the store's files", "the daemon's log", "the feed"};
    static const char *const free_text[] = {REASON_PAN, "5200828282828210", MERCHANT_PAN, "4111111111111111"};
    static char buf[2 * 5100][24];
    size_t n = 0;
    const char **sent = sent_card_data(buf, &n);
    struct scan_image *planted = scan_image_new(); /* the search finds any of them */
    char plant[64];
    snprintf(plant, sizeof(plant), "<<%s>>", sent[n / 2 + 1]);
    assert_true(scan_image_add_bytes(planted, plant, strlen(plant)));
    assert_int_equal(scan_image_find_any(planted, sent, n), (long)(n / 2 + 1));
    scan_image_free(planted);
    for (size_t f = 0; f < 3; f++) {
        long hit = scan_image_find_any(images[f], free_text, 4);
        if (hit >= 0)
            fail_msg("%s in %s", free_text[hit], where[f]);
        if ((hit = scan_image_find_any(images[f], sent, n)) >= 0)
            fail_msg("card data %s found in %s", sent[hit], where[f]);
    }
    scan_image_free(fimg);
    free(sent);
    free(feed);
    scan_image_free(disk);
    scan_image_free(log);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_thousand_items_stored_once)),
        IH_SQLITE_TEST(cmocka_unit_test(test_batch_retried_across_the_key_upgrade_is_a_repeat),
                       "rewinds the schema with SQLite's SQL; test_pg_daemon has the PostgreSQL twin"),
        IH_TEST(cmocka_unit_test(test_item_identity_is_the_tokenized_item)),
        IH_TEST(cmocka_unit_test(test_one_bad_item_stores_nothing)),
        IH_TEST(cmocka_unit_test(test_too_few_digits_is_400)),
        IH_TEST(cmocka_unit_test(test_idempotency_key)),
        IH_TEST(cmocka_unit_test(test_rate_limited)),
        IH_TEST(cmocka_unit_test(test_card_numbers_in_free_text_are_masked)),
        IH_TEST(cmocka_unit_test(test_no_card_data_on_disk_or_in_logs)),
    };
    return IH_RUN_TESTS(tests, setup, teardown);
}
