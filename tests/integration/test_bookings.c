/* The booking lifecycle against the real daemon, and the Booking Status Callback to a
 * local receiver that fails, hangs and then accepts: the callback is accepted exactly
 * once, after the backoff, also across a restart; it is parked as dead after the last
 * attempt. */
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
#include <time.h>

#include "harness.h"
#include "receiver.h"

#define AMIKO_SECRET "amiko-bookings-key"
#define LEDGER_SECRET "ledger-worker-key"

static const char *const AMIKO[] = {"Content-Type: application/json", "X-API-Key: " AMIKO_SECRET,
                                    "tracing-id: booking-trace-1", NULL};
static const char *const LEDGER[] = {"Content-Type: application/json", "X-API-Key: " LEDGER_SECRET, NULL};

static char amiko_key[200], ledger_key[200], url_env[200];

/* Starts a daemon with the booking keys and a callback to rv (rv may be NULL). */
static void start(struct daemon *d, struct receiver *rv, const char *extra1, const char *extra2)
{
    key_line("AMIKO", AMIKO_SECRET, "amiko:bookings", amiko_key, sizeof(amiko_key));
    key_line("LEDGER", LEDGER_SECRET, "ledger:read,ledger:write", ledger_key, sizeof(ledger_key));
    size_t i = 0;
    d->extra_env[i++] = amiko_key;
    d->extra_env[i++] = ledger_key;
    d->extra_env[i++] = "ISSUERHOOK_AMIKO_CALLBACK_AUTH=X-API-Key: amiko-callback-secret";
    d->extra_env[i++] = "ISSUERHOOK_CALLBACK_TIMEOUT_MS=400";
    if (rv) {
        snprintf(url_env, sizeof(url_env),
                 "ISSUERHOOK_AMIKO_CALLBACK_URL=http://127.0.0.1:%d/bookings/{amikoBookingId}/status",
                 receiver_port(rv));
        d->extra_env[i++] = url_env;
    }
    if (extra1)
        d->extra_env[i++] = extra1;
    if (extra2)
        d->extra_env[i++] = extra2;
    d->extra_env[i] = NULL;
    assert_true(daemon_start(d));
}

static long post(const struct daemon *d, const char *path, const char *const *h, const char *body, json_t **out)
{
    struct http_resp r;
    assert_true(http_post(d, path, h, body, strlen(body), &r));
    if (out)
        *out = json_loads(r.body, 0, NULL);
    long st = r.status;
    http_resp_free(&r);
    return st;
}

static long get(const struct daemon *d, const char *path, json_t **out)
{
    struct http_resp r;
    assert_true(http_get(d, path, LEDGER, &r));
    if (out)
        *out = json_loads(r.body, 0, NULL);
    long st = r.status;
    http_resp_free(&r);
    return st;
}

static const char *jstr(const json_t *j, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(j, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

static void test_lifecycle(void **state)
{
    (void)state;
    struct receiver *rv = receiver_start(NULL, 0, RECV_OK, 0);
    struct daemon d = {0};
    start(&d, rv, NULL, NULL);
    char id[37], path[128];
    test_uuid(id);
    char *b = amiko_booking(id, "12.50");
    json_t *j;

    /* Amiko asks: stored pending */
    assert_int_equal(post(&d, "/bookings", AMIKO, b, &j), 200);
    assert_string_equal(jstr(j, "status", NULL), "pending");
    assert_string_equal(jstr(j, "amikoBookingId", NULL), id);
    json_decref(j);
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM bookings WHERE amiko_booking_id='%s' AND status='pending'", id);
    assert_int_equal(db_scalar(&d, sql), 1);
    /* a repeat answers the current state; another payload is a conflict */
    assert_int_equal(post(&d, "/bookings", AMIKO, b, NULL), 200);
    char *other = amiko_booking(id, "13.00");
    assert_int_equal(post(&d, "/bookings", AMIKO, other, &j), 409);
    assert_non_null(jstr(j, "error", "message"));
    json_decref(j);
    free(other);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key='%s' AND source='amiko.booking'", id);
    assert_int_equal(db_scalar(&d, sql), 1);
    /* scopes: Amiko's key cannot report results, the ledger's cannot book */
    snprintf(path, sizeof(path), "/bookings/%s/result", id);
    assert_int_equal(post(&d, path, AMIKO, "{\"status\":\"completed\",\"issuerBookingId\":\"L-1\"}", NULL), 403);
    const char *ledger_tr[] = {"Content-Type: application/json", "X-API-Key: " LEDGER_SECRET, "tracing-id: x", NULL};
    assert_int_equal(post(&d, "/bookings", ledger_tr, b, NULL), 403);

    /* the worker sees it pending */
    snprintf(path, sizeof(path), "/bookings/%s", id);
    assert_int_equal(get(&d, path, &j), 200);
    assert_string_equal(jstr(j, "status", NULL), "pending");
    assert_string_equal(jstr(j, "tracingId", NULL), "booking-trace-1");
    assert_string_equal(jstr(j, "callback", "state"), "none");
    assert_string_equal(jstr(j, "request", "bookingAmount"), "12.50");
    json_decref(j);
    assert_int_equal(get(&d, "/bookings?status=pending&limit=1000", &j), 200);
    bool listed = false;
    for (size_t i = 0; i < json_array_size(json_object_get(j, "items")); i++)
        listed |= !strcmp(jstr(json_array_get(json_object_get(j, "items"), i), "amikoBookingId", NULL), id);
    assert_true(listed);
    json_decref(j);
    /* bad parameters: 400 in Amiko's dialect, each named */
    static const struct {
        const char *path, *description;
    } bad[] = {
        {"/bookings/not-a-uuid", "amikoBookingId in the path: must be a UUID"},
        {"/bookings/37b48334-3ad1-43e3-aa84-26075e51368", "amikoBookingId in the path: must be a UUID"},
        {"/bookings?status=bogus", "status: must be pending, completed or failed"},
        {"/bookings?limit=5000", "limit: must be a whole number from 1 to 1000"},
        {"/bookings?limit=0", "limit: must be a whole number from 1 to 1000"},
        {"/bookings?after=x", "after: must be a cursor from next (a whole number)"},
        {"/bookings?status=bogus&limit=5000",
         "status: must be pending, completed or failed; limit: must be a whole number from 1 to 1000"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(get(&d, bad[i].path, &j), 400);
        assert_string_equal(jstr(j, "error", "message"), "Invalid request");
        assert_string_equal(jstr(j, "error", "description"), bad[i].description);
        json_decref(j);
    }

    /* results: invalid 400, unknown 404, completed 200, same again 200, another 409 */
    snprintf(path, sizeof(path), "/bookings/%s/result", id);
    assert_int_equal(post(&d, path, LEDGER, "{\"status\":\"completed\"}", &j), 400);
    assert_non_null(strstr(jstr(j, "error", "description"), "/issuerBookingId: is required"));
    json_decref(j);
    char unknown[37], upath[128];
    test_uuid(unknown);
    snprintf(upath, sizeof(upath), "/bookings/%s/result", unknown);
    assert_int_equal(post(&d, upath, LEDGER, "{\"status\":\"completed\",\"issuerBookingId\":\"L-1\"}", NULL), 404);
    /* the id in the path is a UUID (the seed: string <uuid>): anything else is 400 */
    assert_int_equal(post(&d, "/bookings/not-a-uuid/result", LEDGER, "{\"status\":\"completed\",\"issuerBookingId\":\"L\"}", &j), 400);
    assert_string_equal(jstr(j, "error", "description"), "amikoBookingId in the path: must be a UUID");
    json_decref(j);
    char wrong[200];
    snprintf(wrong, sizeof(wrong), "{\"status\":\"completed\",\"issuerBookingId\":\"L-1\",\"amikoBookingId\":\"%s\"}",
             unknown);
    assert_int_equal(post(&d, path, LEDGER, wrong, &j), 400);
    assert_non_null(strstr(jstr(j, "error", "description"), "/amikoBookingId: must be the amikoBookingId of the path"));
    json_decref(j);
    assert_int_equal(post(&d, path, LEDGER, "{\"status\":\"completed\",\"issuerBookingId\":\"L-1\"}", &j), 200);
    assert_string_equal(jstr(j, "status", NULL), "completed");
    assert_string_equal(jstr(j, "issuerBookingId", NULL), "L-1");
    json_decref(j);
    assert_int_equal(post(&d, path, LEDGER, "{ \"issuerBookingId\":\"L-1\", \"status\":\"completed\" }", NULL), 200);
    assert_int_equal(post(&d, path, LEDGER, "{\"status\":\"failed\",\"failure\":{\"reason\":\"r\",\"code\":\"1\"}}", NULL), 409);
    assert_int_equal(post(&d, path, LEDGER, "{\"status\":\"completed\",\"issuerBookingId\":\"L-2\"}", NULL), 409);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE amiko_booking_id='%s'", id);
    assert_int_equal(db_scalar(&d, sql), 1);
    /* Amiko's repeat now answers the current state, in the seed's shape */
    assert_int_equal(post(&d, "/bookings", AMIKO, b, &j), 200);
    assert_string_equal(jstr(j, "status", NULL), "completed");
    assert_string_equal(jstr(j, "issuerBookingId", NULL), "L-1");
    json_decref(j);

    /* the callback arrives once, with the booking's tracing id and the configured auth */
    assert_int_equal(receiver_wait_accepted(rv, 5000), 1);
    struct recv_hit hits[RECV_MAX];
    size_t n = receiver_hits(rv, hits);
    assert_int_equal(n, 1);
    char expect_path[128];
    snprintf(expect_path, sizeof(expect_path), "/bookings/%s/status", id);
    assert_string_equal(hits[0].path, expect_path);
    assert_string_equal(hits[0].tracing_id, "booking-trace-1");
    assert_string_equal(hits[0].auth, "amiko-callback-secret");
    json_t *cb = json_loads(hits[0].body, 0, NULL);
    assert_string_equal(jstr(cb, "status", NULL), "completed");
    assert_string_equal(jstr(cb, "amikoBookingId", NULL), id);
    assert_string_equal(jstr(cb, "issuerBookingId", NULL), "L-1");
    json_decref(cb);
    snprintf(path, sizeof(path), "/bookings/%s", id);
    for (int i = 0; i < 100; i++) { /* the delivery is recorded right after the answer */
        assert_int_equal(get(&d, path, &j), 200);
        bool delivered = !strcmp(jstr(j, "callback", "state"), "delivered");
        if (delivered)
            break;
        json_decref(j);
        j = NULL;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_non_null(j);
    assert_string_equal(jstr(j, "callback", "state"), "delivered");
    json_decref(j);
    free(b);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
    receiver_stop(rv);
}

/* Posts a booking and a failed result; returns its id in id. */
static void booked_and_failed(struct daemon *d, char *id)
{
    char path[128];
    test_uuid(id);
    char *b = amiko_booking(id, "1.00");
    assert_int_equal(post(d, "/bookings", AMIKO, b, NULL), 200);
    free(b);
    snprintf(path, sizeof(path), "/bookings/%s/result", id);
    assert_int_equal(post(d, path, LEDGER, "{\"status\":\"failed\",\"failure\":{\"reason\":\"no account\",\"code\":\"352452\"}}",
                          NULL),
                     200);
}

static void test_retry_with_backoff_then_exactly_once(void **state)
{
    (void)state;
    const int script[] = {RECV_FAIL, RECV_HANG, RECV_OK};
    struct receiver *rv = receiver_start(script, 3, RECV_OK, 1500);
    struct daemon d = {0};
    start(&d, rv, "ISSUERHOOK_CALLBACK_BACKOFF_MS=300", NULL);
    char id[37];
    booked_and_failed(&d, id);
    assert_int_equal(receiver_wait_accepted(rv, 10000), 1);
    struct timespec ts = {1, 500 * 1000 * 1000};
    nanosleep(&ts, NULL); /* long enough for any stray retry */
    struct recv_hit hits[RECV_MAX];
    size_t n = receiver_hits(rv, hits);
    assert_int_equal(n, 3); /* 500, timeout, 200: and nothing after */
    /* backoff: ~300 ms (150..300) after the 500, ~600 ms (300..600) after the timeout */
    assert_true(hits[1].at_ms - hits[0].at_ms >= 150);
    /* (the receiver stamps a hit once it has read it, which lags under load, so the
     * second gap is checked with room for that: still the timeout plus a backoff) */
    assert_true(hits[2].at_ms - hits[1].at_ms >= 400 + 300 - 200);
    json_t *cb = json_loads(hits[2].body, 0, NULL);
    assert_string_equal(jstr(cb, "status", NULL), "failed");
    assert_string_equal(jstr(cb, "failure", "reason"), "no account");
    assert_string_equal(jstr(cb, "failure", "code"), "352452");
    json_decref(cb);
    char path[128];
    json_t *j = NULL;
    snprintf(path, sizeof(path), "/bookings/%s", id);
    assert_int_equal(get(&d, path, &j), 200);
    assert_string_equal(jstr(j, "callback", "state"), "delivered");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "callback"), "attempts")), 3);
    json_decref(j);
    assert_true(metric_value(&d, "issuerhook_callback_attempts_total{outcome=\"retry\"}") == 2);
    assert_true(metric_value(&d, "issuerhook_callback_attempts_total{outcome=\"delivered\"}") == 1);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
    receiver_stop(rv);
}

static void test_pending_callback_survives_restart(void **state)
{
    (void)state;
    struct receiver *rv = receiver_start(NULL, 0, RECV_FAIL, 0);
    struct daemon d = {0};
    start(&d, rv, "ISSUERHOOK_CALLBACK_BACKOFF_MS=1500", NULL);
    char id[37];
    booked_and_failed(&d, id);
    struct recv_hit hits[RECV_MAX];
    for (int i = 0; i < 250 && receiver_hits(rv, hits) == 0; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(receiver_hits(rv, hits), 1); /* first attempt failed; the next is >= 750 ms away */
    char rec[200];
    snprintf(rec, sizeof(rec), "SELECT attempts FROM outbox WHERE amiko_booking_id='%s' AND state='pending'", id);
    for (int i = 0; i < 100 && db_scalar(&d, rec) != 1; i++) { /* the failure is recorded, then we stop */
        struct timespec w = {0, 20 * 1000 * 1000};
        nanosleep(&w, NULL);
    }
    assert_int_equal(db_scalar(&d, rec), 1);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    receiver_set_default(rv, RECV_OK);
    start(&d, rv, "ISSUERHOOK_CALLBACK_BACKOFF_MS=1500", NULL);
    assert_int_equal(receiver_wait_accepted(rv, 10000), 1);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    assert_int_equal(receiver_hits(rv, hits), 2);
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT attempts FROM outbox WHERE amiko_booking_id='%s' AND state='delivered'", id);
    long long attempts = -1;
    for (int i = 0; i < 100 && (attempts = db_scalar(&d, sql)) < 0; i++) {
        struct timespec w = {0, 20 * 1000 * 1000};
        nanosleep(&w, NULL);
    }
    assert_int_equal(attempts, 2);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
    receiver_stop(rv);
}

static void test_dead_after_max_attempts(void **state)
{
    (void)state;
    struct receiver *rv = receiver_start(NULL, 0, RECV_FAIL, 0);
    struct daemon d = {0};
    start(&d, rv, "ISSUERHOOK_CALLBACK_BACKOFF_MS=50", "ISSUERHOOK_CALLBACK_MAX_ATTEMPTS=3");
    char id[37], sql[200];
    booked_and_failed(&d, id);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE amiko_booking_id='%s' AND state='dead' AND attempts=3", id);
    long long dead = 0;
    for (int i = 0; i < 250 && (dead = db_scalar(&d, sql)) != 1; i++) {
        struct timespec w = {0, 20 * 1000 * 1000};
        nanosleep(&w, NULL);
    }
    assert_int_equal(dead, 1);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    struct recv_hit hits[RECV_MAX];
    assert_int_equal(receiver_hits(rv, hits), 3);
    assert_true(metric_value(&d, "issuerhook_callback_attempts_total{outcome=\"dead\"}") == 1);
    /* health warns (200), naming the callback backlog */
    struct http_resp r;
    assert_true(http_get(&d, "/health", NULL, &r));
    assert_int_equal(r.status, 200);
    json_t *h = json_loads(r.body, 0, NULL);
    assert_string_equal(jstr(h, "status", NULL), "warn");
    json_t *c = json_array_get(json_object_get(json_object_get(h, "checks"), "callback:backlog"), 0);
    assert_string_equal(jstr(c, "status", NULL), "warn");
    assert_int_equal(json_integer_value(json_object_get(c, "dead")), 1);
    json_decref(h);
    http_resp_free(&r);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
    receiver_stop(rv);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_lifecycle)),
        IH_TEST(cmocka_unit_test(test_retry_with_backoff_then_exactly_once)),
        IH_TEST(cmocka_unit_test(test_pending_callback_survives_restart)),
        IH_TEST(cmocka_unit_test(test_dead_after_max_attempts)),
    };
    return IH_RUN_TESTS(tests, NULL, NULL);
}
