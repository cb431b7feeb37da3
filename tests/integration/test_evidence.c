/* What every route stores, against the real daemon: numbers exactly as the sender wrote
 * them (in the database and the feed; a retry that differs past the 15th digit is a
 * 409, not a replay), and card numbers in any string masked before anything is written,
 * logged or queued, counted in issuerhook_card_numbers_masked_total; then no such card
 * number anywhere in the database, its WAL, the log or the feed, while the masked forms
 * are (the scan's positive control). Card activities: test_cards.c. */
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

#define RIVERTY_SECRET "riverty-key"
#define BOOKING_SECRET "amiko-bookings-key"
#define LEDGER_SECRET "ledger-key"
#define READER_SECRET "feed-reader-key"

/* Luhn-valid numbers, each written one way in a free-text field (and never elsewhere). */
#define AMIKO_PAN "5200 8282 8282 8210"
#define AMIKO_NAME_PAN "4111111111111111"
#define RIVERTY_PAN "4000-0566-5566-5556"
#define RIVERTY_TX "4012888888881881"
#define RIVERTY_TX2 "4012888888051881" /* another id, the same mask as RIVERTY_TX */
#define RIVERTY_ACCOUNT "5105105105105100"
#define BOOKING_PAN "6011111111111117"

static struct daemon D;
static char keys[4][200];
static const char *const AMIKO[] = {"Content-Type: application/json", "X-API-Key: " KEY_FULL, "tracing-id: ev-1", NULL};
static const char *const RIVERTY[] = {"Content-Type: application/json", "X-API-Key: " RIVERTY_SECRET, NULL};
static const char *const BOOKING[] = {"Content-Type: application/json", "X-API-Key: " BOOKING_SECRET,
                                      "tracing-id: ev-2", NULL};
static const char *const LEDGER[] = {"Content-Type: application/json", "X-API-Key: " LEDGER_SECRET, NULL};
static const char *const READER[] = {"X-API-Key: " READER_SECRET, NULL};

static int setup(void **state)
{
    (void)state;
    key_line("RIVERTY", RIVERTY_SECRET, "riverty:events", keys[0], sizeof(keys[0]));
    key_line("BOOKING", BOOKING_SECRET, "amiko:bookings", keys[1], sizeof(keys[1]));
    key_line("LEDGER", LEDGER_SECRET, "ledger:read,ledger:write", keys[2], sizeof(keys[2]));
    key_line("READER", READER_SECRET, "bankingAdmin/read", keys[3], sizeof(keys[3]));
    for (int i = 0; i < 4; i++)
        D.extra_env[i] = keys[i];
    D.pg_private = true; /* test_no_clear_card_number_anywhere scans the cluster's files */
    return daemon_start(&D) && store_scan_prepare(&D) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = daemon_stop(&D, SIGTERM);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static long post(const char *path, const char *const *h, const char *body, char **answer)
{
    struct http_resp r;
    assert_true(http_post(&D, path, h, body, strlen(body), &r));
    long st = r.status;
    if (answer)
        *answer = strdup(r.body ? r.body : "");
    http_resp_free(&r);
    return st;
}

static char *amiko(const char *id, const char *amount)
{
    char *s = NULL;
    assert_true(asprintf(&s,
                         "{\"header\":{\"version\":\"2026.1.0\",\"eventId\":\"%s\",\"generatedAt\":1700000000000},"
                         "\"event\":{\"type\":\"chargeback_booked\",\"amount\":%s,\"rate\":1.50,\"scale\":1e3,"
                         "\"big\":9007199254740993,\"note\":\"card " AMIKO_PAN " declined\","
                         "\"cards\":{\"" AMIKO_NAME_PAN "\":true}}}",
                         id, amount) > 0);
    return s;
}

static void test_amiko_numbers_as_sent(void **state)
{
    (void)state;
    char id[37], *a = NULL, sql[400];
    test_uuid(id);
    char *first = amiko(id, "1000.0000000000001"), *other = amiko(id, "1000.0000000000002");
    assert_int_equal(post("/events", AMIKO, first, NULL), 200);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM records WHERE idem_key = '%s' AND instr(payload, '\"amount\":1000.0000000000001') > 0 "
             "AND instr(payload, '\"rate\":1.50') > 0 AND instr(payload, '\"scale\":1e3') > 0 AND "
             "instr(payload, '\"big\":9007199254740993') > 0",
             id);
    assert_int_equal(db_scalar(&D, sql), 1);
    /* past the 15th digit it is another payload under the same eventId */
    assert_int_equal(post("/events", AMIKO, other, &a), 409);
    assert_non_null(strstr(a, "different payload"));
    free(a);
    assert_int_equal(post("/events", AMIKO, first, NULL), 200); /* the same: a replay */
    snprintf(sql, sizeof(sql), "SELECT duplicates FROM records WHERE idem_key = '%s'", id);
    assert_int_equal(db_scalar(&D, sql), 1);
    /* the card numbers: masked, a name too, and counted */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM records WHERE idem_key = '%s' AND "
             "json_extract(payload, '$.event.note') = 'card **** **** **** 8210 declined' AND "
             "CAST(json_extract(payload, '$.event.cards.************1111') AS integer) = 1",
             id);
    assert_int_equal(db_scalar(&D, sql), 1);
    assert_true(metric_value(&D, "issuerhook_card_numbers_masked_total{route=\"/events\"}") >= 2);
    free(first);
    free(other);
}

static char *riverty(const char *tx, const char *total)
{
    char *s = NULL;
    assert_true(asprintf(&s,
                         "{\"eventType\":\"Purchase\",\"time\":\"2024-10-01T09:56:02+02:00\",\"totalAmount\":%s,"
                         "\"accountTransactionId\":\"%s\",\"posName\":\"paid with " RIVERTY_PAN "\","
                         "\"items\":[{\"itemId\":\"i1\",\"itemDescription\":\"coffee\",\"unitCode\":\"pcs\","
                         "\"quantity\":2.00,\"unitPrice\":6.25}],\"currency\":\"NOK\",\"countryCode\":\"NO\","
                         "\"conversationLanguage\":\"NO\"}",
                         total, tx) > 0);
    return s;
}

/* A card number in the account number and in the transaction id too: both masked where
 * stored, and the event's key is a token of the ids as received, so two ids that mask
 * alike stay two events. */
static void test_riverty_ids_and_free_text(void **state)
{
    (void)state;
    const char *path = "/api/v3/customer-account/" RIVERTY_ACCOUNT "/event";
    char *e1 = riverty(RIVERTY_TX, "12.50"), *e2 = riverty(RIVERTY_TX2, "12.50"), *a = NULL;
    assert_int_equal(post(path, RIVERTY, e1, &a), 200);
    assert_non_null(strstr(a, "\"eventAdded\":true"));
    free(a);
    assert_int_equal(post(path, RIVERTY, e2, &a), 200);
    assert_non_null(strstr(a, "\"eventAdded\":true"));
    free(a);
    assert_int_equal(post(path, RIVERTY, e1, &a), 200);
    assert_non_null(strstr(a, "\"eventAdded\":false"));
    free(a);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records WHERE source = 'riverty.event' AND "
                                   "json_extract(payload, '$.accountNumber') = '************5100' AND "
                                   "json_extract(payload, '$.accountTransactionId') = '************1881' AND "
                                   "json_extract(payload, '$.posName') = 'paid with ****-****-****-5556' AND "
                                   "instr(payload, '\"totalAmount\":12.50') > 0 AND instr(payload, '\"quantity\":2.00') > 0"),
                     2);
    assert_true(metric_value(&D, "issuerhook_card_numbers_masked_total{route=\"/api/v3/customer-account/"
                                 "{accountNumber}/event\"}") >= 9);
    free(e1);
    free(e2);
}

static void test_booking_result_reason(void **state)
{
    (void)state;
    char id[37], body[1200], path[128], *a = NULL;
    test_uuid(id);
    snprintf(body, sizeof(body),
             "{\"agentOidcId\":\"61f925fa-653b-46f0-9117-d03040e9b775\",\"amikoBookingId\":\"%s\","
             "\"amikoCaseType\":\"fraud\",\"bookingAmount\":\"100.35\",\"isFullAmount\":false,"
             "\"currencyCode\":\"840\",\"currencyCodeAlpha\":\"USD\","
             "\"cardId\":\"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048\",\"bookingTarget\":\"card_account\","
             "\"bookingOperation\":\"credit\",\"bookingReason\":\"credit_temporary_refund\","
             "\"disputeReasonCode\":\"4880\",\"transactionLifecycle\":\"dispute_submitted\","
             "\"bookingReference\":[],\"transaction\":{\"scheme\":\"mastercard\",\"MCC\":\"5812\","
             "\"ARN\":\"22223600316202940203675\"}}",
             id);
    assert_int_equal(post("/bookings", BOOKING, body, NULL), 200);
    snprintf(path, sizeof(path), "/bookings/%s/result", id);
    assert_int_equal(post(path, LEDGER,
                          "{\"status\":\"failed\",\"failure\":{\"reason\":\"card " BOOKING_PAN " is blocked\","
                          "\"code\":\"card_blocked\"}}",
                          &a),
                     200);
    /* the answer (and Amiko's callback, made from the same fields) carries the mask */
    assert_non_null(strstr(a, "card ************1117 is blocked"));
    free(a);
    /* a 23-digit ARN is longer than a card number: left as it is */
    char sql[300];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key = '%s' AND source = 'amiko.booking' AND "
             "json_extract(payload, '$.transaction.ARN') = '22223600316202940203675'", id);
    assert_int_equal(db_scalar(&D, sql), 1);
}

/* Every place the data goes (the store's files — SQLite's database and WAL, or the
 * PostgreSQL cluster's files with pg_wal and its log —, the daemon's log, the feed),
 * scanned for each clear card number, with the masked forms as the positive control. */
static void test_no_clear_card_number_anywhere(void **state)
{
    (void)state;
    static const char *const clear[] = {AMIKO_PAN, "5200828282828210", AMIKO_NAME_PAN, RIVERTY_PAN,
                                        "4000056655665556", RIVERTY_TX, RIVERTY_TX2, RIVERTY_ACCOUNT, BOOKING_PAN};
    struct http_resp feed;
    assert_true(http_get(&D, "/banking/recentEventHistory?limit=1000", READER, &feed));
    assert_int_equal(feed.status, 200);
    assert_true(daemon_log_sync(&D)); /* every line of the requests so far is in the file */
    struct scan_image *img[3] = {store_image_read(&D), scan_image_new(), scan_image_new()};
    const char *where[] = {"the store's files", "the daemon's log", "the feed"};
    for (int f = 0; f < 3; f++)
        assert_non_null(img[f]);
    assert_true(scan_image_add(img[1], D.log));
    assert_true(scan_image_add_bytes(img[2], feed.body, feed.len));
    /* positive control: the masked forms are there */
    assert_true(scan_image_has(img[2], "card **** **** **** 8210 declined", 33));
    assert_true(scan_image_has(img[2], "1000.0000000000001", 18));
    assert_true(scan_image_has(img[0], "****-****-****-5556", 19));
    for (int f = 0; f < 3; f++) {
        long hit = scan_image_find_any(img[f], clear, sizeof(clear) / sizeof(clear[0]));
        if (hit >= 0)
            fail_msg("%s in %s", clear[hit], where[f]);
        scan_image_free(img[f]);
    }
    http_resp_free(&feed);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_amiko_numbers_as_sent)),
        IH_TEST(cmocka_unit_test(test_riverty_ids_and_free_text)),
        IH_TEST(cmocka_unit_test(test_booking_result_reason)),
        IH_TEST(cmocka_unit_test(test_no_clear_card_number_anywhere)),
    };
    return IH_RUN_TESTS(tests, setup, teardown);
}
