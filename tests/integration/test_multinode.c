/* Two issuerhookd nodes on one PostgreSQL database, as behind a load balancer, under
 * load: four clients post events spread over both nodes, a fifth of them sent again to
 * the other node, while a ledger worker follows the feed by watermark, asking the nodes
 * in turn. It must receive every acknowledged event exactly once, and an event that was
 * acknowledged before another was sent first — with both nodes up, with one SIGKILLed
 * under the load (its clients retry on the other), across a PostgreSQL crash, and while a
 * transaction holding a lower position stays open for seconds on one node as the other
 * commits (the classic way a feed skips an event for ever).
 *
 * PostgreSQL only (several nodes share a store only there). IH_TEST_LOAD_SCALE scales
 * the 4 x 5,000 events (a percentage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "follow.h"
#include "harness.h"
#include "load.h"
#include "nodes.h"

static struct nodes N;
static const char *const EXTRA[] = {"ISSUERHOOK_RETRY_AFTER=1", "ISSUERHOOK_BUSY_TIMEOUT_MS=15000", NULL};

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    (void)state;
    return nodes_start(&N, 2, EXTRA) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nodes_stop(&N) == 0 ? 0 : -1;
}

static struct daemon *node(size_t i)
{
    return &N.d[i];
}

/* ---- what the follower saw, against what the clients were told ---- */

static const struct load_event *EV; /* for the comparator */

static int by_id(const void *a, const void *b)
{
    return strcmp(EV[*(const size_t *)a].id, EV[*(const size_t *)b].id);
}

/* The index of the event with this id in ev (sorted: order), or -1. */
static long event_of(const size_t *order, size_t n, const struct load_event *ev, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ev[order[mid]].id, id);
        if (c == 0)
            return (long)order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Stops f once it has seen every acknowledged event of l, then checks: each of them once,
 * none of l's twice, and an event acknowledged before another was sent comes first. */
static void check_feed(const struct load *l, struct follow *f)
{
    size_t n, ni;
    const struct load_event *ev = load_events(l, &n);
    const char **want = calloc(n + 1, sizeof(*want));
    size_t *order = calloc(n + 1, sizeof(*order)), nwant = 0;
    unsigned *times = calloc(n + 1, sizeof(*times));
    assert_non_null(want);
    assert_non_null(order);
    assert_non_null(times);
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        if (ev[i].acked_ns)
            want[nwant++] = ev[i].id;
    }
    qsort(want, nwant, sizeof(*want), by_str);
    EV = ev;
    qsort(order, n, sizeof(*order), by_id);
    follow_stop(f, want, nwant, 60);
    const struct follow_item *it = follow_items(f, &ni);
    size_t others = 0, late = 0;
    int64_t min_acked_after = INT64_MAX;
    for (size_t p = ni; p-- > 0;) {
        long e = event_of(order, n, ev, it[p].key);
        if (e < 0) {
            others++;
            continue;
        }
        times[e]++;
        if (min_acked_after < ev[e].sent_ns && late++ < 3)
            print_error("%s comes after an event acknowledged before it was sent\n", ev[e].id);
        if (ev[e].acked_ns && ev[e].acked_ns < min_acked_after)
            min_acked_after = ev[e].acked_ns;
    }
    size_t missing = 0, twice = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].acked_ns && times[i] == 0 && missing++ < 3)
            print_error("%s was acknowledged but never reached the feed\n", ev[i].id);
        if (times[i] > 1 && twice++ < 3)
            print_error("%s reached the feed %u times\n", ev[i].id, times[i]);
    }
    print_message("follower: %zu polls (%zu not 200: %s), %zu items (%zu of other events); %zu of %zu events "
                  "acknowledged\n",
                  follow_polls(f), follow_errors(f), follow_first_error(f), ni, others, nwant, n);
    assert_int_equal(missing, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(late, 0);
    assert_int_equal(follow_regressions(f), 0);
    free(want);
    free(order);
    free(times);
}

/* Every acknowledged event stored once; every re-send to the other node a 2xx too. */
static void check_stored(const struct load *l)
{
    size_t n, resent = 0, resent_ok = 0;
    const struct load_event *ev = load_events(l, &n);
    for (size_t i = 0; i < n; i++) {
        resent += ev[i].resent != 0;
        resent_ok += ev[i].resent >= 200 && ev[i].resent < 300;
    }
    print_message("%zu re-sent to the other node, %zu of them 2xx\n", resent, resent_ok);
    assert_int_equal(resent, resent_ok);
    assert_int_equal(load_missing(l, node(0)), 0);
    assert_int_equal(load_answers_between(l, 400, 500), 0);
    assert_int_equal(db_scalar(node(0), "SELECT count(*) - count(DISTINCT idem_key) FROM records"), 0);
}

static struct load_options spread(void)
{
    static struct daemon *nodes[2];
    nodes[0] = node(0);
    nodes[1] = node(1);
    return (struct load_options){.nodes = nodes, .nnodes = 2, .clients = 4, .per_client = load_scaled(5000, 100),
                                 .conns = 4, .resend_pct = 20, .retry = true, .retry_ms = 50, .deadline_s = 240};
}

static struct follow *follower(void)
{
    struct daemon *nodes[] = {node(0), node(1)};
    struct follow *f = follow_start(nodes, 2, NODES_READER_SECRET, 1000);
    assert_non_null(f);
    return f;
}

/* Waits until l has a third of its events acknowledged. */
static void a_third_in(const struct load *l, size_t total)
{
    for (int i = 0; i < 6000 && load_acked(l) < total / 3; i++)
        pause_ms(10);
    assert_true(load_acked(l) >= total / 3);
}

/* ---- the tests ---- */

static void test_spread_over_two_nodes(void **state)
{
    (void)state;
    struct load_options o = spread();
    struct follow *f = follower();
    struct load *l = load_start(&o);
    assert_non_null(l);
    load_wait(l);
    assert_int_equal(load_acked(l), o.clients * o.per_client); /* nothing refused with both up */
    check_stored(l);
    check_feed(l, f);
    follow_free(f);
    load_free(l);
}

static void test_sigkill_one_node_under_load(void **state)
{
    (void)state;
    struct load_options o = spread();
    struct follow *f = follower();
    struct load *l = load_start(&o);
    assert_non_null(l);
    a_third_in(l, o.clients * o.per_client);
    assert_int_equal(daemon_stop(node(0), SIGKILL), 128 + SIGKILL);
    load_wait(l);
    /* what node 0 did not answer was retried on node 1, and taken there */
    print_message("after the kill: %zu answers without a status (refused, reset)\n", load_answers(l, 0));
    assert_int_equal(load_acked(l), o.clients * o.per_client);
    check_stored(l);
    check_feed(l, f); /* node 0 is down: the follower asked node 1 every other time in vain */
    follow_free(f);
    load_free(l);
    assert_true(nodes_restart(&N, 0));
}

static void test_postgresql_crash_under_load(void **state)
{
    (void)state;
    struct load_options o = spread();
    struct follow *f = follower();
    struct load *l = load_start(&o);
    assert_non_null(l);
    a_third_in(l, o.clients * o.per_client);
    assert_true(store_server_stop(node(0), "immediate"));
    for (int i = 0; i < 1000 && load_answers(l, 503) == 0; i++)
        pause_ms(10);
    assert_true(load_answers(l, 503) > 0);
    pause_ms(1500);
    assert_true(store_server_start(node(0)));
    load_wait(l);
    print_message("across the crash: %zu answers 503\n", load_answers(l, 503));
    assert_int_equal(load_acked(l), o.clients * o.per_client);
    assert_int_equal(load_answers(l, 0), 0); /* both nodes answered every request */
    check_stored(l);
    check_feed(l, f);
    follow_free(f);
    load_free(l);
}

struct poster {
    struct daemon *d;
    const char *path, *body;
    const char *const *headers;
    long status;
};

static void *post_main(void *arg)
{
    struct poster *p = arg;
    struct http_resp r;
    p->status = http_post(p->d, p->path, p->headers, p->body, strlen(p->body), &r) ? r.status : -1;
    if (p->status >= 0)
        http_resp_free(&r);
    return NULL;
}

static const char *const AMIKO[] = {"Content-Type: application/json", "X-API-Key: " KEY_FULL,
                                    "tracing-id: multinode", NULL};
static const char *const BOOKER[] = {"Content-Type: application/json", "X-API-Key: " NODES_BOOKING_SECRET,
                                     "tracing-id: multinode-held", NULL};

/* Node 0's writer is held inside its transaction for seconds — it has stored a booking's
 * record (taking a position) and waits for a row another session is inserting into
 * bookings — while node 1 commits events with later sequence numbers. The follower polls
 * all along; once the transaction commits, the booking's record must still reach it:
 * the feed waited, it did not pass it. */
static void test_held_transaction_is_not_passed(void **state)
{
    (void)state;
    char bid[37], sql[600];
    test_uuid(bid);
    struct db_session *s = db_session_open(node(0));
    assert_non_null(s);
    snprintf(sql, sizeof(sql),
             "BEGIN; INSERT INTO bookings (amiko_booking_id, record_seq, status, tracing_id, created_at, updated_at)"
             " VALUES ('%s', (SELECT min(seq) FROM records), 'pending', 'held', 0, 0)",
             bid);
    assert_true(db_session_exec(s, sql));
    struct follow *f = follower();
    char *body = amiko_booking(bid, "12.50");
    struct poster held = {node(0), "/bookings", body, BOOKER, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, post_main, &held), 0);
    /* node 0's writer waits for that row */
    long long waiting = 0;
    for (int i = 0; i < 1000 && waiting < 1; i++) {
        pause_ms(10);
        waiting = db_scalar(node(0), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                     " AND wait_event_type = 'Lock'");
    }
    assert_true(waiting >= 1);
    /* node 1 commits meanwhile, for three seconds */
    size_t polls0 = follow_polls(f), acked = 0;
    char ids[300][37];
    size_t nids = 0;
    int64_t until = load_now_ns() + 3000000000LL;
    while (load_now_ns() < until && nids < 300) {
        test_uuid(ids[nids]);
        acked += post_event(node(1), AMIKO, ids[nids], NULL) == 200;
        nids++;
        pause_ms(10);
    }
    size_t polls_held = follow_polls(f) - polls0;
    assert_int_equal(held.status, 0); /* still waiting */
    /* what a reader that trusts seq order sees now: later events, but not the booking's */
    long long naive_wm = db_scalar(node(0), "SELECT max(seq) FROM records");
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE source = 'amiko.booking' AND idem_key = '%s'", bid);
    assert_int_equal(db_scalar(node(0), sql), 0);
    assert_true(db_session_exec(s, "ROLLBACK"));
    db_session_close(s);
    pthread_join(t, NULL);
    assert_int_equal(held.status, 200);
    print_message("held 3 s: node 1 acknowledged %zu events, the follower polled %zu times\n", acked, polls_held);
    assert_int_equal(acked, nids);
    assert_true(polls_held >= 10);
    /* the trap was there: node 1 committed later sequence numbers while the booking's was
     * open, so a reader that had moved its watermark to the highest seq it saw then would
     * never be given the booking */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM records WHERE source = 'amiko.event' AND idem_key = '%s' AND seq >"
             " (SELECT seq FROM records WHERE source = 'amiko.booking' AND idem_key = '%s')",
             ids[0], bid);
    assert_int_equal(db_scalar(node(0), sql), 1);
    snprintf(sql, sizeof(sql), "SELECT seq FROM records WHERE source = 'amiko.booking' AND idem_key = '%s'", bid);
    assert_true(db_scalar(node(0), sql) < naive_wm);
    /* and the follower got the booking's record and every event, once each */
    const char *want[301];
    for (size_t i = 0; i < nids; i++)
        want[i] = ids[i];
    want[nids] = bid;
    qsort(want, nids + 1, sizeof(*want), by_str);
    follow_stop(f, want, nids + 1, 60);
    size_t ni;
    const struct follow_item *it = follow_items(f, &ni);
    size_t seen_booking = 0, seen_events = 0;
    for (size_t i = 0; i < ni; i++) {
        seen_booking += strcmp(it[i].key, bid) == 0;
        for (size_t k = 0; k < nids; k++)
            seen_events += strcmp(it[i].key, ids[k]) == 0;
    }
    assert_int_equal(seen_booking, 1);
    assert_int_equal(seen_events, nids);
    assert_int_equal(follow_regressions(f), 0);
    follow_free(f);
    free(body);
}

int main(void)
{
    setenv("IH_TEST_BACKEND", "postgresql", 0); /* run by hand: PostgreSQL, a private cluster */
    const struct ih_test tests[] = {
        IH_PG_TEST(cmocka_unit_test(test_spread_over_two_nodes), "several nodes share a PostgreSQL store"),
        IH_PG_TEST(cmocka_unit_test(test_held_transaction_is_not_passed), "several nodes share a PostgreSQL store"),
        IH_PG_TEST(cmocka_unit_test(test_sigkill_one_node_under_load), "several nodes share a PostgreSQL store"),
        IH_PG_TEST(cmocka_unit_test(test_postgresql_crash_under_load), "several nodes share a PostgreSQL store"),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = IH_RUN_TESTS(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
