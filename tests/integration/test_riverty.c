/* POST /api/v3/customer-account/{accountNumber}/event against the real daemon:
 * the Riverty dialect, idempotency on accountTransactionId or the body, the obsolete
 * languages, and what is stored. */
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
static struct daemon D;
static char riverty_key[200];
static const char *const H[] = {"Content-Type: application/json", "X-API-Key: " RIVERTY_SECRET, NULL};

static int setup(void **state)
{
    (void)state;
    key_line("RIVERTY", RIVERTY_SECRET, "riverty:events", riverty_key, sizeof(riverty_key));
    D.extra_env[0] = riverty_key;
    D.extra_env[1] = NULL;
    return daemon_start(&D) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = daemon_stop(&D, SIGTERM);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static char *event(const char *tx, const char *lang, double amount)
{
    char *s = NULL;
    char txpart[80] = "";
    if (tx)
        snprintf(txpart, sizeof(txpart), "\"accountTransactionId\":\"%s\",", tx);
    if (asprintf(&s,
                 "{\"eventType\":\"Purchase\",\"categoryType\":\"Sales\",\"time\":\"2024-10-01T09:56:02+02:00\","
                 "\"totalAmount\":%.2f,%s\"items\":[{\"itemId\":\"i1\",\"itemDescription\":\"coffee\",\"unitCode\":\"pcs\","
                 "\"quantity\":2,\"unitPrice\":5}],\"currency\":\"NOK\",\"countryCode\":\"NO\",\"conversationLanguage\":\"%s\"}",
                 amount, txpart, lang) < 0)
        return NULL;
    return s;
}

static long post(const char *account, const char *body, json_t **out)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/v3/customer-account/%s/event", account);
    struct http_resp r;
    assert_true(http_post(&D, path, H, body, strlen(body), &r));
    if (out)
        *out = json_loads(r.body, 0, NULL);
    long st = r.status;
    http_resp_free(&r);
    return st;
}

static void test_added_then_duplicate(void **state)
{
    (void)state;
    char *e = event("tx-100", "NO", 10);
    json_t *a, *b;
    assert_int_equal(post("ACC-1", e, &a), 200);
    assert_true(json_is_true(json_object_get(a, "eventAdded")));
    assert_string_equal(json_string_value(json_object_get(a, "outcome")), "Accepted");
    assert_int_equal(json_array_size(json_object_get(a, "riskCheckMessages")), 0);
    const char *tid = json_string_value(json_object_get(a, "transactionId"));
    assert_int_equal(strlen(tid), 36);
    assert_int_equal(post("ACC-1", e, &b), 200);
    assert_true(json_is_false(json_object_get(b, "eventAdded")));
    assert_string_equal(json_string_value(json_object_get(b, "transactionId")), tid);
    json_decref(b);
    /* the same transaction id in another account is another event */
    assert_int_equal(post("ACC-2", e, &b), 200);
    assert_true(json_is_true(json_object_get(b, "eventAdded")));
    assert_string_not_equal(json_string_value(json_object_get(b, "transactionId")), tid);
    json_decref(b);
    json_decref(a);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records WHERE source='riverty.event'"), 2);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records WHERE source='riverty.event' AND type='Purchase' AND "
                                   "json_extract(payload, '$.accountNumber')='ACC-1' AND occurred_at=1727769362000 AND "
                                   "duplicates=1"),
                     1);
    /* other data under the same accountTransactionId: 409 in the Riverty dialect */
    char *other = event("tx-100", "NO", 11);
    assert_int_equal(post("ACC-1", other, &b), 409);
    assert_true(json_is_array(b));
    assert_string_equal(json_string_value(json_object_get(json_array_get(b, 0), "code")), "conflict");
    json_decref(b);
    free(other);
    free(e);
}

static void test_without_transaction_id_the_body_decides(void **state)
{
    (void)state;
    char *e = event(NULL, "NO", 20), *f = event(NULL, "NO", 21);
    json_t *a, *b;
    assert_int_equal(post("ACC-3", e, &a), 200);
    assert_int_equal(post("ACC-3", e, &b), 200);
    assert_true(json_is_false(json_object_get(b, "eventAdded")));
    json_decref(b);
    assert_int_equal(post("ACC-3", f, &b), 200); /* another body: another event */
    assert_true(json_is_true(json_object_get(b, "eventAdded")));
    json_decref(b);
    json_decref(a);
    free(e);
    free(f);
}

static void test_obsolete_languages(void **state)
{
    (void)state;
    const char *langs[][2] = {{"SE", "SV"}, {"DK", "DA"}};
    for (int i = 0; i < 2; i++) {
        char tx[16];
        snprintf(tx, sizeof(tx), "tx-lang-%d", i);
        char *e = event(tx, langs[i][0], 1);
        json_t *a;
        assert_int_equal(post("ACC-4", e, &a), 200);
        json_t *m = json_array_get(json_object_get(a, "riskCheckMessages"), 0);
        assert_string_equal(json_string_value(json_object_get(m, "type")), "NotificationMessage");
        assert_string_equal(json_string_value(json_object_get(m, "fieldReference")), "conversationLanguage");
        assert_non_null(strstr(json_string_value(json_object_get(m, "message")), langs[i][1]));
        json_decref(a);
        free(e);
    }
}

static void test_validation_in_riverty_dialect(void **state)
{
    (void)state;
    long long before = db_scalar(&D, "SELECT count(*) FROM records");
    json_t *a;
    assert_int_equal(post("ACC-5", "{\"eventType\":\"Refund\",\"time\":\"2024-10-01T09:56:02\",\"items\":[{\"itemId\":\"i\","
                                    "\"itemDescription\":\"d\",\"unitCode\":\"u\",\"quantity\":\"2\",\"unitPrice\":1}],"
                                    "\"currency\":\"USD\",\"countryCode\":\"NO\",\"conversationLanguage\":\"NO\"}",
                          &a),
                     400);
    assert_true(json_is_array(a));
    const char *want[] = {"eventType", "time", "items[0].quantity", "currency"};
    assert_int_equal(json_array_size(a), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *m = json_array_get(a, i);
        assert_string_equal(json_string_value(json_object_get(m, "type")), "BusinessError");
        assert_string_equal(json_string_value(json_object_get(m, "fieldReference")), want[i]);
    }
    json_decref(a);
    char *e = event("tx-9", "NO", 1);
    assert_int_equal(post("not%20an%20account", e, &a), 400);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "fieldReference")), "accountNumber");
    json_decref(a);
    free(e);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records"), before);
}

static void test_unauthorized_in_seed_words(void **state)
{
    (void)state;
    const char *none[] = {"Content-Type: application/json", NULL};
    const char *wrong[] = {"Content-Type: application/json", "X-API-Key: " KEY_FULL, NULL}; /* amiko:events only */
    char *e = event("tx-a", "NO", 1);
    struct http_resp r;
    assert_true(http_post(&D, "/api/v3/customer-account/ACC-6/event", none, e, strlen(e), &r));
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "Authorization has been denied for this request."));
    http_resp_free(&r);
    assert_true(http_post(&D, "/api/v3/customer-account/ACC-6/event", wrong, e, strlen(e), &r));
    assert_int_equal(r.status, 403);
    http_resp_free(&r);
    free(e);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_added_then_duplicate)),
        IH_TEST(cmocka_unit_test(test_without_transaction_id_the_body_decides)),
        IH_TEST(cmocka_unit_test(test_obsolete_languages)),
        IH_TEST(cmocka_unit_test(test_validation_in_riverty_dialect)),
        IH_TEST(cmocka_unit_test(test_unauthorized_in_seed_words)),
    };
    return IH_RUN_TESTS(tests, setup, teardown);
}
