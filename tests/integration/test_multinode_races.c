/* Two issuerhookd nodes on one PostgreSQL database, racing: started at once on an empty
 * database (migrations applied once), the same event sent to both at the same moment
 * (stored once, both callers get the first answer), another payload under the same key
 * (409 on either), a booking's result on the other node and two conflicting results at
 * once (one wins, the other is 409), one outbox delivered by both to a local receiver
 * (each attempt made once), and a node that dies mid-delivery (its callbacks delivered by
 * the other once the lease has passed); a node with another PAN key refuses to start.
 * PostgreSQL only (several nodes share a store only there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "load.h"
#include "nodes.h"
#include "receiver.h"

#define HANG_MS 2000 /* a hanging receiver answers after this; the callback timeout is longer */

static struct nodes N;
static struct receiver *RV;
static char url_env[200];
static const char *extra[8];

static const char *const AMIKO[] = {"Content-Type: application/json", "X-API-Key: " KEY_FULL, "tracing-id: races",
                                    NULL};
static const char *const BOOKER[] = {"Content-Type: application/json", "X-API-Key: " NODES_BOOKING_SECRET,
                                     "tracing-id: races-booking", NULL};
static const char *const LEDGER[] = {"Content-Type: application/json", "X-API-Key: " NODES_LEDGER_SECRET, NULL};

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    (void)state;
    RV = receiver_start(NULL, 0, RECV_OK, HANG_MS);
    if (!RV)
        return -1;
    snprintf(url_env, sizeof(url_env),
             "ISSUERHOOK_AMIKO_CALLBACK_URL=http://127.0.0.1:%d/bookings/{amikoBookingId}/status", receiver_port(RV));
    const char *e[] = {url_env, "ISSUERHOOK_CALLBACK_TIMEOUT_MS=3000", "ISSUERHOOK_CALLBACK_BACKOFF_MS=200",
                       "ISSUERHOOK_RETRY_AFTER=1", NULL};
    memcpy(extra, e, sizeof(e));
    return nodes_start(&N, 2, extra) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = nodes_stop(&N);
    receiver_stop(RV);
    return rc == 0 ? 0 : -1;
}

static struct daemon *node(size_t i)
{
    return &N.d[i];
}

/* ---- two requests at the same moment ---- */

struct poster {
    struct daemon *d;
    const char *path, *body;
    const char *const *headers;
    pthread_barrier_t *go;
    long status;
    char *answer;
};

static void *post_main(void *arg)
{
    struct poster *p = arg;
    struct http_resp r;
    if (p->go)
        pthread_barrier_wait(p->go);
    p->status = http_post(p->d, p->path, p->headers, p->body, strlen(p->body), &r) ? r.status : -1;
    p->answer = p->status >= 0 ? r.body : NULL;
    return NULL;
}

/* a to node 0 and b to node 1, released together. */
static void at_once(struct poster *a, struct poster *b)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    a->go = b->go = &go;
    a->d = node(0);
    b->d = node(1);
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, post_main, a), 0);
    assert_int_equal(pthread_create(&tb, NULL, post_main, b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&go);
}

/* Both started at once on an empty database: each migration applied once. */
static void test_started_at_once_migrated_once(void **state)
{
    (void)state;
    int latest = 0;
    size_t count = store_migrations(&latest);
    assert_int_equal(db_scalar(node(0), "SELECT count(*) FROM schema_migrations"), (long long)count);
    assert_int_equal(db_scalar(node(0), "SELECT count(DISTINCT version) FROM schema_migrations"), (long long)count);
    assert_int_equal(db_scalar(node(0), "SELECT max(version) FROM schema_migrations"), latest);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(post_event(node(i), AMIKO, NULL, NULL), 200);
}

static void test_same_event_at_the_same_moment(void **state)
{
    (void)state;
    size_t rounds = load_scaled(40, 10);
    for (size_t i = 0; i < rounds; i++) {
        char id[37], sql[200];
        test_uuid(id);
        char *body = amiko_event(id, "case_created");
        struct poster a = {.path = "/events", .body = body, .headers = AMIKO};
        struct poster b = a;
        at_once(&a, &b);
        if (a.status != 200 || b.status != 200)
            fail_msg("round %zu: %ld and %ld", i, a.status, b.status);
        assert_string_equal(a.answer, b.answer); /* the first answer, to both */
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key = '%s'", id);
        assert_int_equal(db_scalar(node(0), sql), 1);
        snprintf(sql, sizeof(sql), "SELECT duplicates FROM records WHERE idem_key = '%s'", id);
        assert_int_equal(db_scalar(node(0), sql), 1);
        free(a.answer);
        free(b.answer);
        free(body);
    }
}

static void test_other_payload_is_409_on_either_node(void **state)
{
    (void)state;
    char id[37], sql[200];
    test_uuid(id);
    char *first = amiko_event(id, "case_created"), *other = amiko_event(id, "case_closed");
    struct http_resp r;
    assert_int_equal(post_event(node(0), AMIKO, id, NULL), 200);
    for (size_t i = 0; i < 2; i++) {
        assert_true(http_post(node(i), "/events", AMIKO, other, strlen(other), &r));
        assert_int_equal(r.status, 409);
        http_resp_free(&r);
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key = '%s' AND type = 'case_created'", id);
    assert_int_equal(db_scalar(node(0), sql), 1);
    /* two payloads at once: one is stored, and the other is its conflict */
    test_uuid(id);
    free(first);
    free(other);
    first = amiko_event(id, "case_created");
    other = amiko_event(id, "case_closed");
    struct poster a = {.path = "/events", .body = first, .headers = AMIKO};
    struct poster b = {.path = "/events", .body = other, .headers = AMIKO};
    at_once(&a, &b);
    assert_true((a.status == 200 && b.status == 409) || (a.status == 409 && b.status == 200));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key = '%s' AND type = '%s'", id,
             a.status == 200 ? "case_created" : "case_closed");
    assert_int_equal(db_scalar(node(0), sql), 1);
    free(a.answer);
    free(b.answer);
    free(first);
    free(other);
}

static long post(struct daemon *d, const char *path, const char *const *h, const char *body)
{
    struct http_resp r;
    assert_true(http_post(d, path, h, body, strlen(body), &r));
    long st = r.status;
    http_resp_free(&r);
    return st;
}

static const char COMPLETED[] = "{\"status\":\"completed\",\"issuerBookingId\":\"L-1\"}";
static const char FAILED[] = "{\"status\":\"failed\",\"failure\":{\"reason\":\"no account\",\"code\":\"352452\"}}";

/* A booking stored by one node gets its result on the other; a conflicting result on
 * either is 409; two conflicting results at once: one wins, the other is 409. */
static void test_booking_result_on_the_other_node(void **state)
{
    (void)state;
    char id[37], path[128], sql[300];
    test_uuid(id);
    char *b = amiko_booking(id, "12.50");
    assert_int_equal(post(node(0), "/bookings", BOOKER, b), 200);
    snprintf(path, sizeof(path), "/bookings/%s/result", id);
    assert_int_equal(post(node(1), path, LEDGER, COMPLETED), 200);
    assert_int_equal(post(node(0), path, LEDGER, COMPLETED), 200); /* the same again */
    assert_int_equal(post(node(0), path, LEDGER, FAILED), 409);
    assert_int_equal(post(node(1), path, LEDGER, FAILED), 409);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE amiko_booking_id = '%s'", id);
    assert_int_equal(db_scalar(node(0), sql), 1);
    free(b);
    for (int round = 0; round < 10; round++) {
        test_uuid(id);
        b = amiko_booking(id, "12.50");
        assert_int_equal(post(node(round % 2), "/bookings", BOOKER, b), 200);
        snprintf(path, sizeof(path), "/bookings/%s/result", id);
        struct poster x = {.path = path, .body = COMPLETED, .headers = LEDGER};
        struct poster y = {.path = path, .body = FAILED, .headers = LEDGER};
        at_once(&x, &y);
        assert_true((x.status == 200 && y.status == 409) || (x.status == 409 && y.status == 200));
        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT count(*) FROM bookings WHERE amiko_booking_id = '%s' AND status = '%s')"
                 " + (SELECT count(*) FROM outbox WHERE amiko_booking_id = '%s')",
                 id, x.status == 200 ? "completed" : "failed", id);
        assert_int_equal(db_scalar(node(0), sql), 2);
        free(x.answer);
        free(y.answer);
        free(b);
    }
}

/* ---- one outbox, two deliverers ---- */

/* n bookings, each booked on one node and resulted on the other; ids into ids. */
static void booked_and_resulted(size_t n, char (*ids)[37])
{
    for (size_t i = 0; i < n; i++) {
        char path[128];
        test_uuid(ids[i]);
        char *b = amiko_booking(ids[i], "12.50");
        assert_int_equal(post(node(i % 2), "/bookings", BOOKER, b), 200);
        snprintf(path, sizeof(path), "/bookings/%.36s/result", ids[i]);
        assert_int_equal(post(node((i + 1) % 2), path, LEDGER, i % 3 ? COMPLETED : FAILED), 200);
        free(b);
    }
}

/* "… amiko_booking_id IN ('a', 'b', …)" for ids. */
static char *id_list(size_t n, char (*ids)[37])
{
    char *s = calloc(n * 40 + 8, 1);
    assert_non_null(s);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, 48, "%s'%s'", i ? ", " : "", ids[i]);
    return s;
}

/* How many of ids' callbacks are delivered with attempts attempts (0: any). */
static long long delivered(size_t n, char (*ids)[37], int attempts)
{
    char *in = id_list(n, ids), *sql = NULL;
    char cond[40] = "";
    if (attempts)
        snprintf(cond, sizeof(cond), " AND attempts = %d", attempts);
    assert_true(asprintf(&sql, "SELECT count(*) FROM outbox WHERE state = 'delivered'%s AND amiko_booking_id IN (%s)",
                         cond, in) > 0);
    long long v = db_scalar(node(0), sql);
    free(sql);
    free(in);
    return v;
}

/* Hits on each of ids' callback paths, from the receiver's log, into hits[i]. */
static void hits_per_booking(size_t n, char (*ids)[37], unsigned *hits, unsigned *accepted)
{
    struct recv_brief *log = NULL;
    size_t nlog = receiver_log(RV, &log);
    for (size_t i = 0; i < n; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/bookings/%.36s/status", ids[i]);
        hits[i] = accepted[i] = 0;
        for (size_t k = 0; k < nlog; k++) {
            if (strcmp(log[k].path, path) == 0) {
                hits[i]++;
                accepted[i] += log[k].answered == 200 || log[k].answered == 0; /* a hang ends 200 */
            }
        }
    }
    free(log);
}

/* Both nodes deliver one outbox, the receiver failing each callback's first attempt:
 * every callback is tried exactly twice (one node at a time), and delivered. */
static void test_one_outbox_two_deliverers(void **state)
{
    (void)state;
    enum { NB = 30 };
    char ids[NB][37];
    receiver_set_default(RV, RECV_OK);
    receiver_fail_first(RV, 1);
    booked_and_resulted(NB, ids);
    long long done = 0;
    for (int i = 0; i < 300 && done < NB; i++) {
        pause_ms(100);
        done = delivered(NB, ids, 0);
    }
    assert_int_equal(done, NB);
    pause_ms(1500); /* long enough for a stray second delivery */
    unsigned hits[NB], accepted[NB];
    hits_per_booking(NB, ids, hits, accepted);
    for (size_t i = 0; i < NB; i++)
        if (hits[i] != 2 || accepted[i] != 1)
            fail_msg("booking %zu: %u attempts reached the receiver (%u accepted); want 2 (1)", i, hits[i],
                     accepted[i]);
    assert_int_equal(delivered(NB, ids, 2), NB);
    receiver_fail_first(RV, 0);
}

/* Node 0 alone delivers while the receiver hangs; it is killed mid-delivery. Node 1,
 * started again, finds the callbacks leased to a node that is gone, and once the lease
 * has passed delivers every one of them: none is stuck. */
static void test_dead_node_leaves_its_callbacks_after_the_lease(void **state)
{
    (void)state;
    enum { NL = 8 };
    char ids[NL][37];
    assert_int_equal(daemon_stop(node(1), SIGTERM), 0);
    receiver_set_default(RV, RECV_HANG);
    for (size_t i = 0; i < NL; i++) { /* all on node 0 */
        char path[128];
        test_uuid(ids[i]);
        char *b = amiko_booking(ids[i], "12.50");
        assert_int_equal(post(node(0), "/bookings", BOOKER, b), 200);
        snprintf(path, sizeof(path), "/bookings/%.36s/result", ids[i]);
        assert_int_equal(post(node(0), path, LEDGER, COMPLETED), 200);
        free(b);
    }
    unsigned hits[NL], accepted[NL];
    size_t in_flight = 0;
    for (int i = 0; i < 200 && in_flight == 0; i++) {
        pause_ms(20);
        hits_per_booking(NL, ids, hits, accepted);
        for (size_t k = 0; k < NL; k++)
            in_flight += hits[k] > 0;
    }
    assert_true(in_flight > 0);
    assert_int_equal(daemon_stop(node(0), SIGKILL), 128 + SIGKILL); /* mid-delivery */
    receiver_set_default(RV, RECV_OK);
    int64_t killed = load_now_ns();
    assert_true(nodes_restart(&N, 1));
    long long done = 0;
    for (int i = 0; i < 900 && done < NL; i++) {
        pause_ms(100);
        done = delivered(NL, ids, 0);
    }
    print_message("%zu callbacks in flight when node 0 died; node 1 delivered all %d within %.1f s\n", in_flight, NL,
                  (double)(load_now_ns() - killed) / 1e9);
    assert_int_equal(done, NL);
    pause_ms(1000);
    hits_per_booking(NL, ids, hits, accepted);
    for (size_t k = 0; k < NL; k++)
        if (hits[k] < 1 || hits[k] > 2) /* node 0's cut attempt, if it was one, and node 1's */
            fail_msg("booking %zu: %u attempts reached the receiver", k, hits[k]);
    assert_true(nodes_restart(&N, 0));
}

/* A node whose PAN key is not the database's refuses to start, saying so. */
static void test_other_pan_key_refuses_to_start(void **state)
{
    (void)state;
    char key[400], env[1700], db[1200], cmd[900], *out = NULL;
    snprintf(key, sizeof(key), "%s/other-node.key", node(1)->dir);
    snprintf(cmd, sizeof(cmd), "head -c 32 /dev/urandom > '%s' && chmod 0600 '%s'", key, key);
    assert_int_equal(system(cmd), 0);
    store_env(node(0), db, sizeof(db));
    snprintf(env, sizeof(env), "%s ISSUERHOOK_PAN_KEY_FILE='%s'", db, key);
    assert_int_equal(daemon_run(env, "", &out), 1);
    if (!strstr(out, "is not the key this database's tokens are made with"))
        fail_msg("the refusal does not say why: %s", out);
    free(out);
    /* the nodes with the database's key go on */
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(post_event(node(i), AMIKO, NULL, NULL), 200);
}

int main(void)
{
    setenv("IH_TEST_BACKEND", "postgresql", 0); /* run by hand: PostgreSQL, a private cluster */
    static const char WHY[] = "several nodes share a PostgreSQL store";
    const struct ih_test tests[] = {
        IH_PG_TEST(cmocka_unit_test(test_started_at_once_migrated_once), WHY),
        IH_PG_TEST(cmocka_unit_test(test_same_event_at_the_same_moment), WHY),
        IH_PG_TEST(cmocka_unit_test(test_other_payload_is_409_on_either_node), WHY),
        IH_PG_TEST(cmocka_unit_test(test_booking_result_on_the_other_node), WHY),
        IH_PG_TEST(cmocka_unit_test(test_one_outbox_two_deliverers), WHY),
        IH_PG_TEST(cmocka_unit_test(test_dead_node_leaves_its_callbacks_after_the_lease), WHY),
        IH_PG_TEST(cmocka_unit_test(test_other_pan_key_refuses_to_start), WHY),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = IH_RUN_TESTS(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
