/* Tests of the feed query of the PostgreSQL design (pgstmts_feed: rows after the watermark
 * (txid, seq), below the snapshot's xmin, in (txid, seq) order). A transaction held open on
 * one session while another commits: the later transaction's rows are not handed out until
 * the held one ends, then both come in (txid, seq) order, so a watermark never passes a row
 * that commits later (the classic skip of seq-ordered feeds); seq order differing from
 * commit order is handled the same way; read-only transactions hold nothing back; an aborted
 * one leaves nothing; and four writers under a poller: every row exactly once, in order. */
#include "pgtestutil.h"

#include <pthread.h>

struct wm {
    char txid[24];
    long long seq;
};

/* Reads the feed after *w (at most 1,000 rows), appending each row's payload (these
 * records' payload is their key) to got (n of them, up to cap) and advancing *w. */
static int read_feed(PGconn *c, struct wm *w, char (*got)[32], size_t *n, size_t cap)
{
    char seq[24];
    snprintf(seq, sizeof(seq), "%lld", w->seq);
    const char *const v[] = {w->txid, seq, "1000"};
    PGresult *r = PQexecParams(c, pgstmts_feed.sql, PGSTMTS_FEED_NPARAMS, NULL, v, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        if (got && *n < cap)
            snprintf(got[(*n)++], sizeof(got[0]), "%s", PQgetvalue(r, i, 5));
        w->seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(w->txid, sizeof(w->txid), "%s", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return rows;
}

static void to_end(PGconn *c, struct wm *w)
{
    size_t n = 0;
    while (read_feed(c, w, NULL, &n, 0) > 0)
        ;
}

static void put_raw(PGconn *c, const char *key)
{
    struct pgt_rec r;
    pgt_rec(&r, "amiko.event", key, key);
    pgt_rec_params(&r);
    PGresult *res = PQexecParams(c, pgstmts_put_record.sql, PGSTMTS_PUT_RECORD_NPARAMS, NULL, r.values, r.lengths,
                                 r.formats, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
}

static void expect_keys(char (*got)[32], size_t n, const char *const *want, size_t nwant)
{
    if (n != nwant)
        print_error("got %zu rows, want %zu\n", n, nwant);
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got[i], want[i]);
}

/* A inserts first and holds; B inserts after and commits; the feed waits for A. */
static void test_held_transaction_holds_the_feed_back(void **state)
{
    struct pgt *t = *state;
    PGconn *a = pgt_raw(t), *b = pgt_raw(t), *poll = pgt_raw(t);
    struct wm w = {"0", 0};
    to_end(poll, &w);
    char got[8][32];
    size_t n = 0;
    pgt_do(a, "BEGIN");
    put_raw(a, "held-a");
    put_raw(b, "held-b");
    /* b is committed and visible, but below no watermark yet */
    assert_int_equal(pgt_num(poll, "SELECT count(*) FROM records WHERE idem_key = 'held-b'"), 1);
    assert_int_equal(read_feed(poll, &w, got, &n, 8), 0);
    assert_int_equal(read_feed(poll, &w, got, &n, 8), 0);
    pgt_do(a, "COMMIT");
    read_feed(poll, &w, got, &n, 8);
    static const char *const want[] = {"held-a", "held-b"};
    expect_keys(got, n, want, 2);
    assert_int_equal(read_feed(poll, &w, got, &n, 8), 0);
    PQfinish(a);
    PQfinish(b);
    PQfinish(poll);
}

/* A takes its transaction id first but inserts after B commits: seq order (b, a) is not
 * the order of the transactions; the feed hands out a then b, once each. */
static void test_seq_order_is_not_commit_order(void **state)
{
    struct pgt *t = *state;
    PGconn *a = pgt_raw(t), *b = pgt_raw(t), *poll = pgt_raw(t);
    struct wm w = {"0", 0};
    to_end(poll, &w);
    char got[8][32];
    size_t n = 0;
    pgt_do(a, "BEGIN; SELECT pg_current_xact_id()");
    put_raw(b, "order-b");
    put_raw(a, "order-a");
    assert_true(pgt_num(poll, "SELECT seq FROM records WHERE idem_key = 'order-b'") <
                pgt_num(a, "SELECT seq FROM records WHERE idem_key = 'order-a'"));
    assert_int_equal(read_feed(poll, &w, got, &n, 8), 0);
    pgt_do(a, "COMMIT");
    read_feed(poll, &w, got, &n, 8);
    static const char *const want[] = {"order-a", "order-b"};
    expect_keys(got, n, want, 2);
    PQfinish(a);
    PQfinish(b);
    PQfinish(poll);
}

static void test_readers_and_aborts_hold_nothing(void **state)
{
    struct pgt *t = *state;
    PGconn *a = pgt_raw(t), *b = pgt_raw(t), *reader = pgt_raw(t), *poll = pgt_raw(t);
    struct wm w = {"0", 0};
    to_end(poll, &w);
    char got[8][32];
    size_t n = 0;
    /* a long read-only transaction has no transaction id: nothing waits for it */
    pgt_do(reader, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM records");
    put_raw(b, "ro-1");
    read_feed(poll, &w, got, &n, 8);
    static const char *const want1[] = {"ro-1"};
    expect_keys(got, n, want1, 1);
    pgt_do(reader, "COMMIT");
    /* an aborted writer holds the feed while it lasts, and leaves nothing */
    n = 0;
    pgt_do(a, "BEGIN");
    put_raw(a, "aborted");
    put_raw(b, "after-abort");
    assert_int_equal(read_feed(poll, &w, got, &n, 8), 0);
    pgt_do(a, "ROLLBACK");
    read_feed(poll, &w, got, &n, 8);
    static const char *const want2[] = {"after-abort"};
    expect_keys(got, n, want2, 1);
    PQfinish(a);
    PQfinish(b);
    PQfinish(reader);
    PQfinish(poll);
}

/* ---- four writers and a poller ---- */

enum { WRITERS = 4, PER_WRITER = 250 };

struct writer_arg {
    struct pgt *t;
    int id;
};

static void *writer(void *arg)
{
    struct writer_arg *w = arg;
    PGconn *c = PQconnectdb(w->t->pg.socket_conninfo);
    unsigned seed = (unsigned)w->id * 7919u;
    for (int i = 0; i < PER_WRITER;) {
        int in_tx = 1 + (int)(rand_r(&seed) % 4);
        PQclear(PQexec(c, "BEGIN"));
        for (int k = 0; k < in_tx && i < PER_WRITER; k++, i++) {
            char key[32];
            snprintf(key, sizeof(key), "w%d-%d", w->id, i);
            struct pgt_rec r;
            pgt_rec(&r, "amiko.event", key, key);
            pgt_rec_params(&r);
            PQclear(PQexecParams(c, pgstmts_put_record.sql, PGSTMTS_PUT_RECORD_NPARAMS, NULL, r.values, r.lengths,
                                 r.formats, 0));
            if (rand_r(&seed) % 8 == 0)
                usleep(rand_r(&seed) % 3000); /* hold the transaction open a little */
        }
        PQclear(PQexec(c, "COMMIT"));
    }
    PQfinish(c);
    return NULL;
}

static int cmp_key(const void *x, const void *y)
{
    return strcmp(x, y);
}

static void test_writers_and_a_poller(void **state)
{
    struct pgt *t = *state;
    PGconn *poll = pgt_raw(t);
    struct wm w = {"0", 0};
    to_end(poll, &w);
    /* a naive poller on seq alone, for comparison: what it misses is printed, not asserted */
    long long naive = pgt_num(poll, "SELECT coalesce(max(seq), 0) FROM records");
    size_t naive_seen = 0;
    size_t cap = WRITERS * PER_WRITER, n = 0;
    char (*got)[32] = calloc(cap + 16, sizeof(*got));
    pthread_t th[WRITERS];
    struct writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (struct writer_arg){t, i};
        assert_int_equal(pthread_create(&th[i], NULL, writer, &args[i]), 0);
    }
    double t0 = pgt_now_s();
    while (n < cap && pgt_now_s() - t0 < 60) {
        read_feed(poll, &w, got, &n, cap + 16);
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*), coalesce(max(seq), %lld) FROM records WHERE seq > %lld", naive,
                 naive);
        PGresult *r = pgt_q(poll, sql);
        naive_seen += (size_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        naive = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        usleep(1000);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    read_feed(poll, &w, got, &n, cap + 16);
    print_message("feed: %zu of %zu rows; a seq-only poller saw %zu\n", n, cap, naive_seen);
    assert_int_equal(n, cap);
    qsort(got, n, sizeof(*got), cmp_key);
    for (size_t i = 1; i < n; i++)
        assert_string_not_equal(got[i - 1], got[i]);
    /* and (txid, seq) order is each writer's own order */
    assert_int_equal(pgt_num(poll, "SELECT count(*) FROM (SELECT idem_key, row_number() OVER (PARTITION BY"
                                   " split_part(idem_key, '-', 1) ORDER BY txid, seq) AS k,"
                                   " split_part(idem_key, '-', 2)::int AS i FROM records WHERE idem_key ~ '^w[0-9]-')"
                                   " x WHERE k <> i + 1"),
                     0);
    free(got);
    PQfinish(poll);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_transaction_holds_the_feed_back),
        cmocka_unit_test(test_seq_order_is_not_commit_order),
        cmocka_unit_test(test_readers_and_aborts_hold_nothing),
        cmocka_unit_test(test_writers_and_a_poller),
    };
    /* a cluster of its own: the feed waits for every transaction of the cluster (xmin is
     * the cluster's), so another test holding one open would hold these rows back */
    return cmocka_run_group_tests(tests, pgt_setup_private, pgt_teardown);
}
