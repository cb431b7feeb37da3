/* When the store cannot take a write: 503 with Retry-After, nothing half-written,
 * and the daemon recovers by itself when the store does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *const AMIKO[] = {"Content-Type: application/json", "X-API-Key: " KEY_FULL,
                                    "tracing-id: faults", NULL};

static void test_locked_database_503_then_recovers(void **state)
{
    (void)state;
    struct daemon d = {.extra_env = {"ISSUERHOOK_BUSY_TIMEOUT_MS=200", "ISSUERHOOK_RETRY_AFTER=2", NULL}};
    assert_true(daemon_start(&d));
    char id[37], sql[160];
    test_uuid(id);
    /* another process holds the write lock longer than the daemon waits */
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(d.db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct http_resp r;
    assert_int_equal(post_event(&d, AMIKO, id, &r), 503);
    assert_string_equal(r.retry_after, "2");
    assert_non_null(strstr(r.body, "\"error\""));
    http_resp_free(&r);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key='%s'", id);
    assert_int_equal(db_scalar(&d, sql), 0);
    /* the store is back: the caller's retry is stored, once */
    assert_int_equal(post_event(&d, AMIKO, id, NULL), 200);
    assert_int_equal(post_event(&d, AMIKO, id, NULL), 200);
    assert_int_equal(db_scalar(&d, sql), 1);
    assert_true(metric_value(&d, "issuerhook_store_errors_total{kind=\"busy\"}") >= 1);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

static void test_full_database_503_and_nothing_half_written(void **state)
{
    (void)state;
    struct daemon d = {.extra_env = {"ISSUERHOOK_DB_MAX_BYTES=192KiB", NULL}};
    assert_true(daemon_start(&d));
    long acked = 0, refused = 0;
    for (int i = 0; i < 5000 && refused < 3; i++) {
        char id[37];
        test_uuid(id);
        struct http_resp r;
        long st = post_event(&d, AMIKO, id, &r);
        if (st == 200) {
            acked++;
        } else {
            assert_int_equal(st, 503);
            assert_true(r.retry_after[0] != '\0');
            refused++;
        }
        http_resp_free(&r);
    }
    assert_true(acked > 0);
    assert_int_equal(refused, 3);
    /* every acknowledged event is there, nothing else */
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), acked);
    assert_int_equal(db_scalar(&d, "PRAGMA integrity_check") == -1, 0);
    /* still serving */
    struct http_resp r;
    assert_true(http_get(&d, "/health", NULL, &r));
    assert_true(r.status == 200 || r.status == 503);
    http_resp_free(&r);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

static const char *health_status(struct daemon *d, long *code)
{
    static char st[16];
    struct http_resp r;
    assert_true(http_get(d, "/health", NULL, &r));
    *code = r.status;
    const char *p = strstr(r.body, "\"status\":\"");
    assert_non_null(p);
    snprintf(st, sizeof(st), "%.4s", p + 10);
    assert_non_null(strstr(r.body, "\"disk:free\""));
    http_resp_free(&r);
    return st;
}

/* Free disk under the thresholds: warn answers 200, fail answers 503. */
static void test_health_warn_and_fail(void **state)
{
    (void)state;
    long code;
    struct daemon w = {.extra_env = {"ISSUERHOOK_DISK_WARN=1000000GiB", NULL}};
    assert_true(daemon_start(&w));
    assert_string_equal(health_status(&w, &code), "warn");
    assert_int_equal(code, 200);
    assert_int_equal(daemon_stop(&w, SIGTERM), 0);
    daemon_cleanup(&w);
    struct daemon f = {.extra_env = {"ISSUERHOOK_DISK_WARN=1000000GiB", "ISSUERHOOK_DISK_FAIL=1000000GiB", NULL}};
    assert_true(daemon_start(&f));
    assert_string_equal(health_status(&f, &code), "fail");
    assert_int_equal(code, 503);
    assert_int_equal(daemon_stop(&f, SIGTERM), 0);
    daemon_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locked_database_503_then_recovers),
        cmocka_unit_test(test_full_database_503_and_nothing_half_written),
        cmocka_unit_test(test_health_warn_and_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
