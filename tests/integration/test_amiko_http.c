/* POST /events and /domain-events against the real daemon: every status of the
 * contract, replay and conflict, and what is (not) stored. */
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct daemon D;

static const char *const AMIKO[] = {"Content-Type: application/json", "X-API-Key: " KEY_FULL,
                                    "tracing-id: it-trace-1", NULL};

static int setup(void **state)
{
    (void)state;
    return daemon_start(&D) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = daemon_stop(&D, SIGTERM);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static long long count_key(const char *id)
{
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key = lower('%s')", id);
    return db_scalar(&D, sql);
}

/* The Amiko error dialect: {"error":{"message","description"}}; returns description. */
static char *amiko_error(const struct http_resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->len, 0, &e);
    assert_non_null(j);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    const char *desc = json_string_value(json_object_get(json_object_get(j, "error"), "description"));
    assert_non_null(msg);
    assert_non_null(desc);
    char *out = strdup(desc);
    json_decref(j);
    return out;
}

static void test_accept_store_and_echo(void **state)
{
    (void)state;
    char id[37];
    test_uuid(id);
    char *body = amiko_event(id, "case_created");
    struct http_resp r;
    assert_true(http_post(&D, "/events", AMIKO, body, strlen(body), &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.tracing_id, "it-trace-1");
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "accepted");
    assert_string_equal(json_string_value(json_object_get(j, "eventId")), id);
    json_decref(j);
    assert_int_equal(count_key(id), 1);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM records WHERE idem_key='%s' AND source='amiko.event' AND type='case_created'"
             " AND tracing_id='it-trace-1' AND occurred_at=1700000000000 AND duplicates=0",
             id);
    assert_int_equal(db_scalar(&D, sql), 1);
    http_resp_free(&r);
    free(body);
}

static void test_replay_same_answer_no_new_row(void **state)
{
    (void)state;
    char id[37], body2[1024];
    test_uuid(id);
    char *body = amiko_event(id, "case_created");
    struct http_resp r1, r2;
    assert_true(http_post(&D, "/events", AMIKO, body, strlen(body), &r1));
    assert_int_equal(r1.status, 200);
    /* same document, other key order and white space: not a conflict */
    snprintf(body2, sizeof(body2),
             "{ \"event\" : {\"createdVia\":\"cardholder_self_service\",\"caseType\":\"fraud\",\"caseId\":\"1234\","
             "\"cardId\":\"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048\",\"cardholderId\":\"2bd52a45-129d-4723-9143-e1c5b5ed34e7\","
             "\"type\":\"case_created\"},\n \"header\": {\"generatedAt\":1700000000000, \"eventId\":\"%s\","
             " \"version\":\"2026.1.0\"} }",
             id);
    double dup_before = metric_value(&D, "issuerhook_duplicates_total{source=\"amiko.event\"}");
    assert_true(http_post(&D, "/events", AMIKO, body2, strlen(body2), &r2));
    assert_int_equal(r2.status, 200);
    assert_string_equal(r1.body, r2.body);
    assert_int_equal(count_key(id), 1);
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT duplicates FROM records WHERE idem_key='%s'", id);
    assert_int_equal(db_scalar(&D, sql), 1);
    double dup_after = metric_value(&D, "issuerhook_duplicates_total{source=\"amiko.event\"}");
    assert_true(dup_after == (dup_before < 0 ? 0 : dup_before) + 1);
    http_resp_free(&r1);
    http_resp_free(&r2);
    free(body);
}

static void test_conflict_409_stores_nothing(void **state)
{
    (void)state;
    char id[37];
    test_uuid(id);
    char *a = amiko_event(id, "case_created");
    char *b = amiko_event(id, "case_closed");
    struct http_resp r1, r2;
    assert_true(http_post(&D, "/events", AMIKO, a, strlen(a), &r1));
    assert_int_equal(r1.status, 200);
    assert_true(http_post(&D, "/events", AMIKO, b, strlen(b), &r2));
    assert_int_equal(r2.status, 409);
    char *desc = amiko_error(&r2);
    assert_non_null(strstr(desc, "different payload"));
    free(desc);
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key='%s' AND type='case_created'", id);
    assert_int_equal(db_scalar(&D, sql), 1);
    assert_int_equal(count_key(id), 1);
    http_resp_free(&r1);
    http_resp_free(&r2);
    free(a);
    free(b);
}

static void test_every_violation_with_pointer(void **state)
{
    (void)state;
    const char *body = "{\"header\":{\"eventId\":\"nope\",\"generatedAt\":1.5},\"event\":{\"type\":\"case_created\",\"cardId\":5}}";
    long long before = db_scalar(&D, "SELECT count(*) FROM records");
    struct http_resp r;
    assert_true(http_post(&D, "/events", AMIKO, body, strlen(body), &r));
    assert_int_equal(r.status, 400);
    char *desc = amiko_error(&r);
    assert_non_null(strstr(desc, "/header/version: is required"));
    assert_non_null(strstr(desc, "/header/eventId: must be a UUID"));
    assert_non_null(strstr(desc, "/header/generatedAt: must be an integer"));
    assert_non_null(strstr(desc, "/event/cardId: must be a string"));
    free(desc);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records"), before);
    http_resp_free(&r);
}

static void expect_400_json(const char *body, size_t len, const char *needle)
{
    struct http_resp r;
    assert_true(http_post(&D, "/events", AMIKO, body, len, &r));
    assert_int_equal(r.status, 400);
    char *desc = amiko_error(&r);
    if (!strstr(desc, needle))
        fail_msg("expected '%s' in '%s'", needle, desc);
    free(desc);
    http_resp_free(&r);
}

static void test_strict_json(void **state)
{
    (void)state;
    long long before = db_scalar(&D, "SELECT count(*) FROM records");
    expect_400_json("{\"a\":1,\"a\":2}", 13, "duplicate object key");
    expect_400_json("{\"a\":1} x", 9, "unexpected data after the JSON value");
    expect_400_json("{\"a\":\"\xff\"}", 9, "invalid UTF-8");
    expect_400_json("", 0, "empty");
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    expect_400_json(deep, 130, "nesting deeper than 64");
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    expect_400_json(deep, 128, "(document): must be an object"); /* parses; fails the schema */
    /* a card number in a malformed body is not echoed */
    const char *pan = "{\"pan\":\"4111111111111111\",}";
    struct http_resp r;
    assert_true(http_post(&D, "/events", AMIKO, pan, strlen(pan), &r));
    assert_int_equal(r.status, 400);
    assert_null(strstr(r.body, "4111"));
    http_resp_free(&r);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records"), before);
}

static void test_tracing_id_required(void **state)
{
    (void)state;
    const char *h[] = {"Content-Type: application/json", "X-API-Key: " KEY_FULL, NULL};
    char id[37];
    test_uuid(id);
    char *body = amiko_event(id, "case_created");
    struct http_resp r;
    assert_true(http_post(&D, "/events", h, body, strlen(body), &r));
    assert_int_equal(r.status, 400);
    assert_int_equal(strlen(r.tracing_id), 36); /* one was generated and echoed */
    char *desc = amiko_error(&r);
    assert_non_null(strstr(desc, "tracing-id"));
    free(desc);
    assert_int_equal(count_key(id), 0);
    http_resp_free(&r);
    free(body);
}

static void test_auth(void **state)
{
    (void)state;
    const char *none[] = {"Content-Type: application/json", "tracing-id: t", NULL};
    const char *bad[] = {"Content-Type: application/json", "tracing-id: t", "X-API-Key: wrong", NULL};
    const char *noscope[] = {"Content-Type: application/json", "tracing-id: t", "X-API-Key: " KEY_READ, NULL};
    struct http_resp r;
    assert_true(http_post(&D, "/events", none, "{}", 2, &r));
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.www_authenticate, "X-API-Key"));
    free(amiko_error(&r));
    http_resp_free(&r);
    assert_true(http_post(&D, "/domain-events", bad, "{}", 2, &r));
    assert_int_equal(r.status, 401);
    assert_true(r.www_authenticate[0] != '\0');
    http_resp_free(&r);
    assert_true(http_post(&D, "/events", noscope, "{}", 2, &r));
    assert_int_equal(r.status, 403);
    free(amiko_error(&r));
    http_resp_free(&r);
    /* refused before the body is read: a huge declared body does not matter */
    assert_true(http_post(&D, "/events", none, "{\"x\":1}", 7, &r));
    assert_int_equal(r.status, 401);
    http_resp_free(&r);
}

static void test_media_type_and_size(void **state)
{
    (void)state;
    const char *text[] = {"Content-Type: text/plain", "X-API-Key: " KEY_FULL, "tracing-id: t", NULL};
    const char *charset[] = {"Content-Type: application/json; charset=utf-8", "X-API-Key: " KEY_FULL,
                             "tracing-id: t", NULL};
    struct http_resp r;
    assert_true(http_post(&D, "/events", text, "{}", 2, &r));
    assert_int_equal(r.status, 415);
    free(amiko_error(&r));
    http_resp_free(&r);
    assert_true(http_post(&D, "/events", charset, "{}", 2, &r));
    assert_int_equal(r.status, 400); /* accepted media type; the schema then fails */
    http_resp_free(&r);

    size_t big = (2u << 20) + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    assert_true(http_post(&D, "/events", AMIKO, huge, big, &r));
    assert_int_equal(r.status, 413);
    http_resp_free(&r);
    /* without Content-Length (chunked) the ceiling stops the read */
    assert_true(http_request(&D, "POST", "/events", AMIKO, huge, big, true, &r));
    assert_int_equal(r.status, 413);
    http_resp_free(&r);
    free(huge);
    /* the daemon is still serving */
    assert_true(http_get(&D, "/health", NULL, &r));
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
}

static void test_not_found_and_method(void **state)
{
    (void)state;
    struct http_resp r;
    assert_true(http_get(&D, "/nowhere", NULL, &r));
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.content_type, "application/problem+json"));
    http_resp_free(&r);
    assert_true(http_get(&D, "/events", NULL, &r));
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    http_resp_free(&r);
    assert_true(http_request(&D, "DELETE", "/health", NULL, NULL, 0, false, &r));
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    http_resp_free(&r);
}

static void test_unknown_type_accepted_and_counted(void **state)
{
    (void)state;
    const char *sample = "issuerhook_unknown_event_types_total{source=\"amiko.event\"}";
    double before = metric_value(&D, sample);
    char id[37];
    test_uuid(id);
    char *body = amiko_event(id, "card_blocked_in_a_future_version");
    struct http_resp r;
    assert_true(http_post(&D, "/events", AMIKO, body, strlen(body), &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(count_key(id), 1);
    assert_true(metric_value(&D, sample) == (before < 0 ? 0 : before) + 1);
    http_resp_free(&r);
    free(body);
}

static int post_domain(const char *type, const char *entity, long long serial, char *id_out)
{
    char body[1024];
    test_uuid(id_out);
    snprintf(body, sizeof(body),
             "{\"header\":{\"eventId\":\"%s\",\"generatedAt\":1,\"entity\":{\"type\":\"%s\",\"id\":\"%s\"},"
             "\"serial\":%lld,\"causedBy\":\"agent\",\"agentId\":\"61f925fa-653b-46f0-9117-d03040e9b775\"},"
             "\"event\":{\"event_name\":\"case_created\",\"caseId\":\"1234\",\"cardId\":\"c\","
             "\"createdVia\":\"cardholder_self_service\",\"bankCaseId\":\"b\"}}",
             id_out, type, entity, serial);
    struct http_resp r;
    if (!http_post(&D, "/domain-events", AMIKO, body, strlen(body), &r))
        return -1;
    int st = (int)r.status;
    http_resp_free(&r);
    return st;
}

static void test_domain_serials(void **state)
{
    (void)state;
    char entity[37], id[37], sql[256];
    test_uuid(entity);
    const char *stale = "issuerhook_domain_serial_anomalies_total{kind=\"stale\"}";
    const char *gap = "issuerhook_domain_serial_anomalies_total{kind=\"gap\"}";
    double s0 = metric_value(&D, stale), g0 = metric_value(&D, gap);
    s0 = s0 < 0 ? 0 : s0;
    g0 = g0 < 0 ? 0 : g0;
    assert_int_equal(post_domain("case", entity, 1, id), 200);
    assert_int_equal(post_domain("case", entity, 2, id), 200);
    assert_int_equal(post_domain("case", entity, 5, id), 200); /* gap: 3 and 4 skipped */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key='%s' AND serial=5 AND serial_anomaly='gap'", id);
    assert_int_equal(db_scalar(&D, sql), 1);
    assert_int_equal(post_domain("case", entity, 4, id), 200); /* stale: not above 5 */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key='%s' AND serial_anomaly='stale'", id);
    assert_int_equal(db_scalar(&D, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE entity_id='%s' AND source='amiko.domain_event'", entity);
    assert_int_equal(db_scalar(&D, sql), 4); /* all stored */
    snprintf(sql, sizeof(sql), "SELECT last_serial FROM entity_serials WHERE entity_id='%s'", entity);
    assert_int_equal(db_scalar(&D, sql), 5);
    assert_true(metric_value(&D, stale) == s0 + 1);
    assert_true(metric_value(&D, gap) == g0 + 1);
    /* the log names the entity and serials with the tracing id */
    assert_true(daemon_log_sync(&D));
    FILE *f = fopen(D.log, "r");
    char line[4096];
    int found = 0;
    while (f && fgets(line, sizeof(line), f))
        found += strstr(line, entity) && strstr(line, "\"serial\":\"4\"") && strstr(line, "it-trace-1") ? 1 : 0;
    if (f)
        fclose(f);
    assert_int_equal(found, 1);
}

static void test_domain_violations(void **state)
{
    (void)state;
    const char *body = "{\"header\":{\"eventId\":\"93a5bbf3-48f4-4786-93af-6437331aea9a\",\"generatedAt\":1,"
                       "\"entity\":{\"type\":1},\"serial\":-1,\"agentId\":\"x\"},\"event\":{}}";
    struct http_resp r;
    assert_true(http_post(&D, "/domain-events", AMIKO, body, strlen(body), &r));
    assert_int_equal(r.status, 400);
    char *desc = amiko_error(&r);
    assert_non_null(strstr(desc, "/header/entity/type: must be a string"));
    assert_non_null(strstr(desc, "/header/entity/id: is required"));
    assert_non_null(strstr(desc, "/header/serial: must be at least 0"));
    assert_non_null(strstr(desc, "/header/causedBy: is required"));
    assert_non_null(strstr(desc, "/header/agentId: must be a UUID"));
    assert_non_null(strstr(desc, "/event/event_name: is required"));
    free(desc);
    http_resp_free(&r);
}

/* Whether the log holds the probe's line, with its route, status and latency. */
static bool health_probe_logged(void)
{
    FILE *f = fopen(D.log, "r");
    char line[4096];
    bool found = false;
    while (f && fgets(line, sizeof(line), f)) {
        if (!strstr(line, "health-probe-7"))
            continue;
        json_t *l = json_loads(line, 0, NULL);
        assert_non_null(l);
        assert_string_equal(json_string_value(json_object_get(l, "route")), "/health");
        assert_int_equal(json_integer_value(json_object_get(l, "status")), 200);
        assert_true(json_is_number(json_object_get(l, "latency_ms")));
        json_decref(l);
        found = true;
    }
    if (f)
        fclose(f);
    return found;
}

static void test_health_and_request_log(void **state)
{
    (void)state;
    struct http_resp r;
    const char *h[] = {"tracing-id: health-probe-7", NULL};
    assert_true(http_get(&D, "/health", h, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/health+json");
    json_t *j = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "pass");
    json_t *db = json_array_get(json_object_get(json_object_get(j, "checks"), store_health_check()), 0);
    assert_string_equal(json_string_value(json_object_get(db, "status")), "pass");
    assert_true(json_is_number(json_object_get(db, "observedValue")));
    /* the free space of the store's file system, where the store is a local file */
    json_t *disk = json_array_get(json_object_get(json_object_get(j, "checks"), "disk:free"), 0);
    assert_int_equal(disk != NULL, store_has_disk_check());
    assert_true(!disk || json_number_value(json_object_get(disk, "observedValue")) > 0);
    json_decref(j);
    http_resp_free(&r);
    /* every request is logged as one JSON line with tracing id, route, status, latency;
     * written once the answer is sent, so it may follow the answer by a moment */
    bool found = false;
    for (int tries = 0; tries < 100 && !found; tries++) {
        if (tries) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        found = health_probe_logged();
    }
    assert_true(found);
}

static void test_logs_hold_no_credential_or_body(void **state)
{
    (void)state;
    assert_true(daemon_log_sync(&D));
    FILE *f = fopen(D.log, "r");
    char line[8192];
    while (f && fgets(line, sizeof(line), f)) {
        assert_null(strstr(line, KEY_FULL));
        assert_null(strstr(line, "cardholder_self_service"));
        assert_null(strstr(line, "4111111111111111"));
    }
    if (f)
        fclose(f);
}

/* Slow senders (headers or bodies that never finish) hold no thread: a normal request
 * beside 64 of them is answered at once. */
static void test_slow_clients_do_not_stall(void **state)
{
    (void)state;
    int fds[64];
    for (int i = 0; i < 64; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)D.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
        const char *part = i % 2 ? "POST /events HTTP/1.1\r\nHost: x\r\nX-API-Key: " KEY_FULL "\r\n"
                                 : "POST /events HTTP/1.1\r\nHost: x\r\nX-API-Key: " KEY_FULL
                                   "\r\ntracing-id: s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"hea";
        assert_true(write(fds[i], part, strlen(part)) > 0);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    char id[37];
    test_uuid(id);
    char *body = amiko_event(id, "case_created");
    struct http_resp r;
    assert_true(http_post(&D, "/events", AMIKO, body, strlen(body), &r));
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(r.status, 200);
    assert_true(b.tv_sec - a.tv_sec < 3);
    http_resp_free(&r);
    free(body);
    for (int i = 0; i < 64; i++)
        close(fds[i]);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_accept_store_and_echo)),
        IH_TEST(cmocka_unit_test(test_replay_same_answer_no_new_row)),
        IH_TEST(cmocka_unit_test(test_conflict_409_stores_nothing)),
        IH_TEST(cmocka_unit_test(test_every_violation_with_pointer)),
        IH_TEST(cmocka_unit_test(test_strict_json)),
        IH_TEST(cmocka_unit_test(test_tracing_id_required)),
        IH_TEST(cmocka_unit_test(test_auth)),
        IH_TEST(cmocka_unit_test(test_media_type_and_size)),
        IH_TEST(cmocka_unit_test(test_not_found_and_method)),
        IH_TEST(cmocka_unit_test(test_unknown_type_accepted_and_counted)),
        IH_TEST(cmocka_unit_test(test_domain_serials)),
        IH_TEST(cmocka_unit_test(test_domain_violations)),
        IH_TEST(cmocka_unit_test(test_health_and_request_log)),
        IH_TEST(cmocka_unit_test(test_slow_clients_do_not_stall)),
        IH_TEST(cmocka_unit_test(test_logs_hold_no_credential_or_body)),
    };
    return IH_RUN_TESTS(tests, setup, teardown);
}
