/* Tests of src/store/pg/pgbatch.c and pgpipe.c against the throwaway PostgreSQL: a batch of
 * 1, 100 or 1,024 calls is one round trip (counted by the executor, and seen on the wire:
 * one Sync sent, one ReadyForQuery back, in libpq's protocol trace); a failing call fails
 * alone; a failed prepare fails the batch and nothing else; a pipeline of 16 MiB each way
 * does not deadlock; and on a private cluster, a server stopped or crashed in the middle of a
 * batch fails every call as lost, nothing of it is stored, what was committed before
 * survives, and the connection comes back by itself. */
#include "pgtestutil.h"

#include <pthread.h>
#include <sys/socket.h>

static const struct pgstmt echo = {"echo", "SELECT $1::text AS v"};
static const struct pgstmt nap = {"nap", "SELECT pg_sleep($1::float8)"};

/* n records "<prefix>-<i>", each with its own parameters, and their calls. */
struct recset {
    struct pgt_rec *r;
    struct pgbatch_call *calls;
    char (*keys)[48];
    size_t n;
};

static void recset_make(struct recset *s, const char *prefix, size_t n)
{
    s->n = n;
    s->r = calloc(n, sizeof(*s->r));
    s->calls = calloc(n, sizeof(*s->calls));
    s->keys = calloc(n, sizeof(*s->keys));
    assert_true(s->r && s->calls && s->keys);
    for (size_t i = 0; i < n; i++) {
        snprintf(s->keys[i], sizeof(s->keys[i]), "%s-%zu", prefix, i);
        pgt_rec(&s->r[i], "amiko.event", s->keys[i], s->keys[i]);
        pgt_rec_params(&s->r[i]);
        pgt_call(&s->calls[i], &pgstmts_put_record, PGSTMTS_PUT_RECORD_NPARAMS, s->r[i].values, s->r[i].lengths,
                 s->r[i].formats);
    }
}

static void recset_free(struct recset *s)
{
    for (size_t i = 0; i < s->n; i++)
        pgbatch_call_clear(&s->calls[i]);
    free(s->r);
    free(s->calls);
    free(s->keys);
}

static long long stored(PGconn *c, const char *prefix)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key LIKE '%s-%%'", prefix);
    return pgt_num(c, sql);
}

static void test_one_round_trip_whatever_n(void **state)
{
    struct pgt *t = *state;
    static const size_t sizes[] = {1, 100, 1024};
    PGconn *check = pgt_raw(t);
    for (size_t k = 0; k < 3; k++) {
        char prefix[32], path[] = "/tmp/ihpgtest-trace-XXXXXX";
        snprintf(prefix, sizeof(prefix), "rt%zu", sizes[k]);
        struct recset s;
        recset_make(&s, prefix, sizes[k]);
        int fd = mkstemp(path);
        FILE *trace = fdopen(fd, "w+");
        assert_int_equal(pgconn_ready(t->c), IH_OK);
        PQtrace(pgconn_pq(t->c), trace);
        PQsetTraceFlags(pgconn_pq(t->c), PQTRACE_SUPPRESS_TIMESTAMPS);
        unsigned long long trips = pgbatch_round_trips_total();
        struct pgbatch_stats st;
        assert_int_equal(pgbatch_run(t->c, s.calls, s.n, &st), IH_OK);
        PQuntrace(pgconn_pq(t->c));
        for (size_t i = 0; i < s.n; i++) {
            assert_int_equal(s.calls[i].status, PGBATCH_OK);
            assert_col(s.calls[i].res, "outcome", "inserted");
        }
        assert_int_equal(st.round_trips, 1);
        assert_false(st.singly);
        assert_int_equal(pgbatch_round_trips_total() - trips, 1);
        assert_int_equal(stored(check, prefix), (long long)s.n);
        /* on the wire: one Sync out, one ReadyForQuery in, every call executed */
        fflush(trace);
        rewind(trace);
        char line[512];
        size_t syncs = 0, ready = 0, executes = 0;
        while (fgets(line, sizeof(line), trace)) {
            syncs += strncmp(line, "F\t4\tSync", 8) == 0;
            ready += strncmp(line, "B\t5\tReadyForQuery", 17) == 0;
            executes += strncmp(line, "F\t", 2) == 0 && strstr(line, "\tExecute\t") != NULL;
        }
        fclose(trace);
        unlink(path);
        print_message("N = %zu: %u round trip, %zu Sync, %zu ReadyForQuery, %zu Execute\n", s.n, st.round_trips,
                      syncs, ready, executes);
        assert_int_equal(syncs, 1);
        assert_int_equal(ready, 1);
        assert_int_equal(executes, s.n + 2); /* BEGIN, the calls, COMMIT */
        recset_free(&s);
    }
    PQfinish(check);
}

static void test_failing_call_fails_alone(void **state)
{
    struct pgt *t = *state;
    PGconn *check = pgt_raw(t);
    struct recset s;
    recset_make(&s, "fail", 100);
    s.r[37].values[8] = "not-a-status"; /* ih_put_record's integer p_status */
    unsigned long long reruns = pgbatch_reruns_total();
    struct pgbatch_stats st;
    assert_int_equal(pgbatch_run(t->c, s.calls, s.n, &st), IH_OK);
    for (size_t i = 0; i < s.n; i++) {
        if (i == 37)
            continue;
        assert_int_equal(s.calls[i].status, PGBATCH_OK);
        assert_col(s.calls[i].res, "outcome", "inserted");
    }
    assert_int_equal(s.calls[37].status, PGBATCH_FAILED);
    assert_null(s.calls[37].res);
    assert_string_equal(s.calls[37].sqlstate, "22P02");
    assert_non_null(strstr(s.calls[37].error, "invalid input syntax"));
    assert_int_equal(st.round_trips, 2);
    assert_true(st.singly);
    assert_int_equal(pgbatch_reruns_total() - reruns, 1);
    assert_int_equal(stored(check, "fail"), 99);
    recset_free(&s);

    /* the first and the last failing */
    recset_make(&s, "ends", 3);
    s.r[0].values[8] = s.r[2].values[8] = "x";
    assert_int_equal(pgbatch_run(t->c, s.calls, s.n, &st), IH_OK);
    assert_int_equal(s.calls[0].status, PGBATCH_FAILED);
    assert_int_equal(s.calls[1].status, PGBATCH_OK);
    assert_int_equal(s.calls[2].status, PGBATCH_FAILED);
    assert_int_equal(stored(check, "ends"), 1);
    recset_free(&s);
    /* and the session is fine after */
    recset_make(&s, "after", 5);
    assert_int_equal(pgbatch_run(t->c, s.calls, s.n, &st), IH_OK);
    assert_int_equal(st.round_trips, 1);
    assert_int_equal(stored(check, "after"), 5);
    recset_free(&s);
    PQfinish(check);
}

static void test_failed_prepare_fails_the_batch(void **state)
{
    struct pgt *t = *state;
    static const struct pgstmt missing = {"missing", "SELECT * FROM no_such_function($1::text)"};
    const char *const v[] = {"x"};
    struct pgbatch_call calls[2];
    pgt_call(&calls[0], &echo, 1, v, NULL, NULL);
    pgt_call(&calls[1], &missing, 1, v, NULL, NULL);
    struct pgbatch_stats st;
    assert_int_equal(pgbatch_run(t->c, calls, 2, &st), IH_OK);
    assert_int_equal(calls[0].status, PGBATCH_FAILED);
    assert_int_equal(calls[1].status, PGBATCH_FAILED);
    assert_string_equal(calls[1].sqlstate, "42883");
    assert_int_equal(st.round_trips, 1);
    pgt_call(&calls[0], &echo, 1, v, NULL, NULL);
    assert_int_equal(pgbatch_run(t->c, calls, 1, &st), IH_OK);
    assert_int_equal(calls[0].status, PGBATCH_OK);
    assert_col(calls[0].res, "v", "x");
    pgbatch_call_clear(&calls[0]);
}

/* 256 calls of 64 KiB echoed back: 16 MiB each way through one pipeline, the client's
 * receive buffer shrunk to 128 KiB so the server soon blocks on sending its answers while
 * the client is still sending. It completes in one round trip. (libpq also reads input
 * itself when a send would block, so this shows the pipeline never stalls rather than
 * isolating pgpipe's read-while-flushing: with 4 KiB buffers a client waiting for write
 * readiness alone did hang until its timeout, but that run takes minutes.) */
static void test_large_pipeline_does_not_deadlock(void **state)
{
    struct pgt *t = *state;
    enum { N = 256, SIZE = 64 * 1024 };
    char *big = malloc(SIZE + 1);
    assert_non_null(big);
    for (size_t i = 0; i < SIZE; i++)
        big[i] = (char)('a' + i % 26);
    big[SIZE] = '\0';
    const char *const v[] = {big};
    struct pgbatch_call *calls = calloc(N, sizeof(*calls));
    for (size_t i = 0; i < N; i++)
        pgt_call(&calls[i], &echo, 1, v, NULL, NULL);
    struct pgbatch_stats st;
    int small = 128 * 1024;
    assert_int_equal(pgconn_ready(t->c), IH_OK);
    assert_int_equal(setsockopt(PQsocket(pgconn_pq(t->c)), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    double t0 = pgt_now_s();
    assert_int_equal(pgbatch_run(t->c, calls, N, &st), IH_OK);
    print_message("16 MiB each way in %.2f s, %u round trip\n", pgt_now_s() - t0, st.round_trips);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(calls[i].status, PGBATCH_OK);
        assert_int_equal(PQgetlength(calls[i].res, 0, 0), SIZE);
        assert_memory_equal(PQgetvalue(calls[i].res, 0, 0), big, SIZE);
        pgbatch_call_clear(&calls[i]);
    }
    assert_int_equal(st.round_trips, 1);
    free(calls);
    free(big);
}

static void test_limits(void **state)
{
    struct pgt *t = *state;
    struct pgbatch_stats st = {.round_trips = 9};
    assert_int_equal(pgbatch_run(t->c, NULL, 0, &st), IH_OK);
    assert_int_equal(st.round_trips, 0);
    struct pgbatch_call *calls = calloc(PGBATCH_MAX + 1, sizeof(*calls));
    const char *const v[] = {"x"};
    for (size_t i = 0; i <= PGBATCH_MAX; i++)
        pgt_call(&calls[i], &echo, 1, v, NULL, NULL);
    assert_int_equal(pgbatch_run(t->c, calls, PGBATCH_MAX + 1, &st), IH_EINVAL);
    assert_int_equal(calls[0].status, PGBATCH_FAILED);
    assert_int_equal(calls[PGBATCH_MAX].status, PGBATCH_FAILED);
    free(calls);
}

/* ---- a private cluster: the server goes away under a batch ---- */

struct inflight {
    struct pgconn *c;
    struct recset s;
    const char *nap_values[1];
    ih_status rc;
};

static void *run_inflight(void *arg)
{
    struct inflight *f = arg;
    f->rc = pgbatch_run(f->c, f->s.calls, f->s.n, NULL);
    return NULL;
}

/* A batch of a 30 s sleep and 200 records; the server stopped (mode) while it sleeps. */
static void stop_mid_batch(struct pgt *t, const char *mode, const char *prefix)
{
    struct inflight f = {.c = t->c, .nap_values = {"30"}};
    recset_make(&f.s, prefix, 201);
    pgt_call(&f.s.calls[100], &nap, 1, f.nap_values, NULL, NULL);
    PGconn *observer = pgt_raw(t);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_inflight, &f), 0);
    for (int i = 0; i < 2000 && pgt_num(observer, "SELECT count(*) FROM pg_stat_activity WHERE wait_event ="
                                                  " 'PgSleep'") == 0;
         i++)
        usleep(10000);
    PQfinish(observer);
    assert_int_equal(pgtmp_server_stop(&t->pg, mode), 0);
    pthread_join(th, NULL);
    assert_int_equal(f.rc, IH_EIO);
    for (size_t i = 0; i < f.s.n; i++) {
        assert_int_equal(f.s.calls[i].status, PGBATCH_LOST);
        assert_null(f.s.calls[i].res);
    }
    print_message("stopped (%s) mid-batch: %s\n", mode, f.s.calls[0].error);
    assert_true(pgconn_down(t->c));
    recset_free(&f.s);
    /* while it is down: lost at once, no crash */
    struct recset one;
    recset_make(&one, "while-down", 1);
    double t0 = pgt_now_s();
    assert_int_equal(pgbatch_run(t->c, one.calls, 1, NULL), IH_EIO);
    assert_int_equal(one.calls[0].status, PGBATCH_LOST);
    assert_true(pgt_now_s() - t0 < 5.5);
    recset_free(&one);
    /* back: the next batches reconnect by themselves */
    assert_int_equal(pgtmp_server_start(&t->pg), 0);
    recset_make(&one, prefix, 1);
    snprintf(one.keys[0], sizeof(one.keys[0]), "%s-after", prefix);
    ih_status rc = IH_EIO;
    for (t0 = pgt_now_s(); rc != IH_OK && pgt_now_s() - t0 < 10; usleep(20000))
        rc = pgbatch_run(t->c, one.calls, 1, NULL);
    assert_int_equal(rc, IH_OK);
    assert_int_equal(one.calls[0].status, PGBATCH_OK);
    recset_free(&one);
    PGconn *check = pgt_raw(t);
    assert_int_equal(stored(check, prefix), 1); /* only the one after: the batch was never committed */
    PQfinish(check);
}

static void test_server_stopped_mid_batch(void **state)
{
    struct pgt *t = *state;
    struct pgt_capture cap;
    pgt_capture_start(&cap);
    stop_mid_batch(t, "fast", "fast");
    char *log = pgt_capture_end(&cap);
    assert_int_equal(pgt_count(log, "database connection lost"), 1);
    assert_int_equal(pgt_count(log, "database connection restored"), 1);
    free(log);
}

static void test_server_crashed_mid_batch(void **state)
{
    stop_mid_batch(*state, "immediate", "crash");
}

/* Committed means on disk: a crash (immediate stop) right after loses nothing. */
static void test_committed_survives_a_crash(void **state)
{
    struct pgt *t = *state;
    struct recset s;
    recset_make(&s, "durable", 100);
    assert_int_equal(pgbatch_run(t->c, s.calls, s.n, NULL), IH_OK);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(s.calls[i].status, PGBATCH_OK);
    recset_free(&s);
    assert_int_equal(pgtmp_server_stop(&t->pg, "immediate"), 0);
    assert_int_equal(pgtmp_server_start(&t->pg), 0);
    PGconn *check = pgt_raw(t);
    assert_int_equal(stored(check, "durable"), 100);
    PQfinish(check);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_one_round_trip_whatever_n),
        cmocka_unit_test(test_failing_call_fails_alone),
        cmocka_unit_test(test_failed_prepare_fails_the_batch),
        cmocka_unit_test(test_large_pipeline_does_not_deadlock),
        cmocka_unit_test(test_limits),
    };
    const struct CMUnitTest private_cluster[] = {
        cmocka_unit_test(test_server_stopped_mid_batch),
        cmocka_unit_test(test_server_crashed_mid_batch),
        cmocka_unit_test(test_committed_survives_a_crash),
    };
    int failed = cmocka_run_group_tests_name("shared cluster", shared, pgt_setup, pgt_teardown);
    return failed + cmocka_run_group_tests_name("private cluster", private_cluster, pgt_setup_private, pgt_teardown);
}
