/* The PostgreSQL store as store_open gives it (src/store/pg/pgstore.c, pgpool.c,
 * pgwriter.c, pgkeys.c): what it says of itself (never the password), two nodes opening
 * an empty database at once (the migrations run once), a server that will not take writes
 * (read-only) failing the test write with the SQLSTATE's kind and passing once it does,
 * synchronous_commit off warned about, the PAN key fingerprints kept once for every node,
 * a read-only store; and on a private cluster: the server stopped (writes fail with IH_EIO,
 * health says why), started again (the next batch goes through, no restart), and a server
 * that accepts but never answers (the connection attempt ends within its deadline). */
#include "pgstoretest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "issuerhook/keycheck.h"
#include "issuerhook/metrics.h"
#include "issuerhook/pankeys.h"

static void test_what_it_says_of_itself(void **state)
{
    struct pgt *t = *state;
    /* a conninfo with a password in it: the password file wins, and neither is shown */
    char conninfo[640];
    snprintf(conninfo, sizeof(conninfo), "%s password=not-the-one-s3cret", t->pg.conninfo);
    struct store_options o = {.busy_timeout_ms = 2000, .password_file = t->pg.password_file};
    struct store *s = NULL;
    char err[640] = "", why[640];
    assert_int_equal(store_open(conninfo, &o, &s, err, sizeof(err)), IH_OK);
    assert_string_equal(store_backend_name(s), "postgresql");
    assert_null(strstr(store_describe(s), "s3cret"));
    assert_null(strstr(store_describe(s), "password"));
    assert_non_null(strstr(store_describe(s), t->pg.dbname));
    assert_null(store_disk_path(s)); /* no disk:free check */
    assert_int_equal(store_schema_version(s), migrations_postgresql[migrations_postgresql_count - 1].version);
    assert_true(store_writable(s, why, sizeof(why)));
    double ms = -1;
    assert_int_equal(store_ping(s, &ms), IH_OK);
    assert_true(ms >= 0);
    assert_true(feed_pos_valid(s, (struct feed_pos){0, 0}));
    assert_true(feed_pos_valid(s, (struct feed_pos){745, 12}));
    assert_false(feed_pos_valid(s, (struct feed_pos){0, 12})); /* an SQLite watermark (w1) */
    store_close(s);
}

struct opener {
    const struct pgt *t;
    const char *conninfo;
    ih_status rc;
    int version;
};

static void *open_one(void *arg)
{
    struct opener *o = arg;
    struct store_options so = {.busy_timeout_ms = 2000, .password_file = o->t->pg.password_file};
    struct store *s = NULL;
    char err[640];
    o->rc = store_open(o->conninfo, &so, &s, err, sizeof(err));
    o->version = s ? store_schema_version(s) : -1;
    if (s && !store_writable(s, NULL, 0))
        o->rc = IH_EIO;
    store_close(s);
    return NULL;
}

/* Four nodes starting at once on an empty database: each migration applied once, every
 * node at the latest version (the advisory lock makes them take turns). */
static void test_nodes_starting_at_once(void **state)
{
    struct pgt *t = *state;
    char conninfo[512], name[96];
    snprintf(name, sizeof(name), "%s_race", t->pg.dbname);
    assert_int_equal(pgtmp_createdb(&t->pg, name, conninfo, sizeof(conninfo)), 0);
    struct opener o[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        o[i] = (struct opener){.t = t, .conninfo = conninfo};
        assert_int_equal(pthread_create(&th[i], NULL, open_one, &o[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(o[i].rc, IH_OK);
        assert_int_equal(o[i].version, migrations_postgresql[migrations_postgresql_count - 1].version);
    }
    char raw[512];
    pgtmp_conninfo(&t->pg, name, true, raw, sizeof(raw));
    PGconn *db = PQconnectdb(raw);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM schema_migrations"), (long long)migrations_postgresql_count);
    assert_int_equal(pgt_num(db, "SELECT count(DISTINCT version) FROM schema_migrations"),
                     (long long)migrations_postgresql_count);
    PQfinish(db);
}

/* Records whose transaction ids are ahead of the server's (a pg_dump restored into another
 * cluster): new rows would sort before them in the feed, so the store refuses to open,
 * saying why and what to do. */
static void test_transaction_ids_behind_refused(void **state)
{
    struct pgt *t = *state;
    char conninfo[512], raw[512], err[640] = "", name[96];
    snprintf(name, sizeof(name), "%s_txid", t->pg.dbname);
    assert_int_equal(pgtmp_createdb(&t->pg, name, conninfo, sizeof(conninfo)), 0);
    struct store_options o = {.busy_timeout_ms = 2000, .password_file = t->pg.password_file};
    struct store *s = NULL;
    assert_int_equal(store_open(conninfo, &o, &s, err, sizeof(err)), IH_OK);
    store_close(s);
    pgtmp_conninfo(&t->pg, name, true, raw, sizeof(raw));
    PGconn *db = PQconnectdb(raw);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    pgt_do(db, "INSERT INTO records (txid, source, idem_key, payload_sha256, type, tracing_id, received_at, payload,"
               " response_status, response_body) VALUES ((pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
               " + 1000000)::text::xid8, 'amiko.event', 'restored', '\\x00', 't', 'tr', 0, '{}', 200, '{}')");
    s = NULL;
    assert_int_equal(store_open(conninfo, &o, &s, err, sizeof(err)), IH_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "next transaction id"));
    assert_non_null(strstr(err, "pg_resetwal"));
    pgt_do(db, "DELETE FROM records WHERE idem_key = 'restored'");
    assert_int_equal(store_open(conninfo, &o, &s, err, sizeof(err)), IH_OK);
    store_close(s);
    PQfinish(db);
}

/* A database that refuses writes (default_transaction_read_only, as a standby would): the
 * store opens, says why writes fail, counts it as readonly; writes answer 503; once the
 * database takes writes again, the writer's test write notices by itself. */
static void test_read_only_database(void **state)
{
    struct pgt *t = *state;
    PGconn *admin = pgt_raw(t);
    char sql[200];
    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" SET default_transaction_read_only = on", t->pg.dbname);
    pgt_do(admin, sql);
    struct pgt_capture cap;
    pgt_capture_start(&cap);
    log_configure(LOG_INFO, true);
    struct store *s = pst_open(t, false);
    char why[640];
    assert_false(store_writable(s, why, sizeof(why)));
    assert_non_null(strstr(why, "read-only"));
    assert_non_null(strstr(why, "SQLSTATE 25006"));
    struct writer_options wo = {.batch_max = 8, .queue_max = 16};
    struct writer *w = NULL;
    assert_int_equal(writer_start(s, &wo, &w), IH_OK);
    struct store_event ev;
    pst_event(&ev, "amiko.event", "ro-1", "{\"ro\":1}");
    struct writer_job *j = &ev.job;
    pst_run_on(w, &j, 1);
    assert_int_equal(ev.job.rc, IH_EIO); /* 503: never a 4xx */
    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" RESET default_transaction_read_only", t->pg.dbname);
    pgt_do(admin, sql);
    /* the writer closed its read-only session; its next test write opens a new one, which
     * takes writes: the store passes again by itself */
    double t0 = pgt_now_s();
    while (!store_writable(s, NULL, 0) && pgt_now_s() - t0 < 15)
        usleep(50000);
    assert_true(store_writable(s, NULL, 0));
    events_clear(&ev);
    pst_event(&ev, "amiko.event", "ro-1", "{\"ro\":1}");
    pst_run_on(w, &j, 1);
    assert_int_equal(ev.job.rc, IH_OK);
    assert_int_equal(ev.outcome, EVENTS_INSERTED);
    events_clear(&ev);
    writer_free(w);
    store_close(s);
    log_configure(LOG_ERROR, true);
    char *log = pgt_capture_end(&cap);
    assert_non_null(strstr(log, "the store takes writes again"));
    free(log);
    PQfinish(admin);
}

/* synchronous_commit off: the store opens and says that acknowledged events could be lost. */
static void test_synchronous_commit_off_warned(void **state)
{
    struct pgt *t = *state;
    PGconn *admin = pgt_raw(t);
    char sql[200];
    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" SET synchronous_commit = off", t->pg.dbname);
    pgt_do(admin, sql);
    struct pgt_capture cap;
    pgt_capture_start(&cap);
    log_configure(LOG_WARN, true);
    struct store *s = pst_open(t, false);
    log_configure(LOG_ERROR, true);
    char *log = pgt_capture_end(&cap);
    assert_non_null(strstr(log, "synchronous_commit is off"));
    assert_non_null(strstr(log, "can be lost"));
    free(log);
    store_close(s);
    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" RESET synchronous_commit", t->pg.dbname);
    pgt_do(admin, sql);
    PQfinish(admin);
}

/* The PAN key fingerprints: recorded once, whichever node is first; a compare-and-set
 * that another node won does not apply; tokens found by key and token. */
static void test_pan_key_fingerprints(void **state)
{
    struct pgt *t = *state;
    struct store *a = pst_open(t, false), *b = pst_open(t, false);
    struct keycheck_store ka, kb;
    pankeys_store(a, &ka);
    pankeys_store(b, &kb);
    struct keycheck_record rec, one = {.key_id = "k1"}, two = {.key_id = "k2"};
    snprintf(one.fingerprint, sizeof(one.fingerprint), "%064d", 1);
    snprintf(two.fingerprint, sizeof(two.fingerprint), "%064d", 2);
    bool found = true, applied = false;
    assert_int_equal(ka.current(ka.arg, &rec, &found), IH_OK);
    assert_false(found);
    char kid[TOKENIZE_KEY_ID_LEN + 1];
    assert_int_equal(ka.newest_token_key(ka.arg, kid, &found), IH_OK);
    assert_false(found);
    assert_int_equal(ka.replace(ka.arg, NULL, &one, 1000, &applied), IH_OK);
    assert_true(applied);
    /* node b thought there was none: its write does not apply */
    assert_int_equal(kb.replace(kb.arg, NULL, &two, 2000, &applied), IH_OK);
    assert_false(applied);
    assert_int_equal(kb.current(kb.arg, &rec, &found), IH_OK);
    assert_true(found);
    assert_string_equal(rec.key_id, "k1");
    assert_string_equal(rec.fingerprint, one.fingerprint);
    assert_int_equal(rec.since_ms, 1000);
    /* a rotation from the current one applies; the old one stays, retired */
    assert_int_equal(kb.replace(kb.arg, &rec, &two, 3000, &applied), IH_OK);
    assert_true(applied);
    PGconn *db = pgt_raw(t);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM pan_keys WHERE NOT is_current AND retired_at = 3000"), 1);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM pan_keys WHERE is_current AND key_id = 'k2'"), 1);
    PQfinish(db);

    /* tokens: stored through a card batch, found by key and token */
    struct card_batch_job cb;
    pst_cards(&cb, 100, 2, NULL);
    pst_run1(a, &cb.job);
    assert_int_equal(cb.outcome, CARDS_STORED);
    long long n = 0, first = 0, last = 0;
    assert_int_equal(pankeys_find_token(a, "key1", cb.items[1].pan.token, &n, &first, &last), IH_OK);
    assert_int_equal(n, 1);
    assert_true(first > 0 && first == last);
    assert_int_equal(pankeys_find_token(a, "other", cb.items[1].pan.token, &n, &first, &last), IH_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ka.newest_token_key(ka.arg, kid, &found), IH_OK);
    assert_true(found);
    assert_string_equal(kid, "key1");
    card_batch_clear(&cb);
    store_close(a);
    store_close(b);
}

/* A read-only store (pan-lookup) reads, and refuses to open when it cannot. */
static void test_read_only_store(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, true);
    long long n = -1, first, last;
    assert_int_equal(pankeys_find_token(s, "key1", "nothing", &n, &first, &last), IH_OK);
    assert_int_equal(n, 0);
    store_close(s);
    struct store_options o = {.busy_timeout_ms = 500, .read_only = true};
    char err[640] = "";
    s = NULL;
    assert_int_equal(store_open("host=127.0.0.1 port=1 dbname=x user=x", &o, &s, err, sizeof(err)), IH_EIO);
    assert_null(s);
    assert_non_null(strstr(err, "cannot read"));
}

/* ---- a private cluster: the server goes away ---- */

static ih_status write_one(struct writer *w, const char *key)
{
    struct store_event ev;
    char payload[64];
    snprintf(payload, sizeof(payload), "{\"k\":\"%s\"}", key);
    pst_event(&ev, "amiko.event", key, payload);
    struct writer_job *j = &ev.job;
    pst_run_on(w, &j, 1);
    ih_status rc = ev.job.rc;
    events_clear(&ev);
    return rc;
}

static void test_server_stopped_then_back(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, false);
    struct writer_options wo = {.batch_max = 64, .queue_max = 64};
    struct writer *w = NULL;
    assert_int_equal(writer_start(s, &wo, &w), IH_OK);
    assert_int_equal(write_one(w, "before"), IH_OK);
    struct pgt_capture cap;
    pgt_capture_start(&cap);
    log_configure(LOG_INFO, true);
    assert_int_equal(pgtmp_server_stop(&t->pg, "fast"), 0);
    /* writes fail with IH_EIO (503 + Retry-After), quickly, and the store says why */
    double t0 = pgt_now_s();
    assert_int_equal(write_one(w, "during-1"), IH_EIO);
    assert_int_equal(write_one(w, "during-2"), IH_EIO);
    assert_true(pgt_now_s() - t0 < 5);
    char why[640];
    assert_false(store_writable(s, why, sizeof(why)));
    assert_non_null(strstr(why, "writes fail since"));
    double ms;
    assert_int_equal(store_ping(s, &ms), IH_EIO);
    assert_int_equal(metrics_get(M_STORE_ERRORS, "io") > 0, 1);
    assert_int_equal(pgtmp_server_start(&t->pg), 0);
    /* back without a restart: the writer's backoff reconnects, a write goes through */
    ih_status rc = IH_EIO;
    int tries = 0;
    for (t0 = pgt_now_s(); rc != IH_OK && pgt_now_s() - t0 < 15; tries++) {
        rc = write_one(w, "after");
        if (rc != IH_OK)
            usleep(100000);
    }
    log_configure(LOG_ERROR, true);
    char *log = pgt_capture_end(&cap);
    assert_int_equal(rc, IH_OK);
    assert_true(store_writable(s, NULL, 0));
    assert_int_equal(store_ping(s, &ms), IH_OK);
    assert_non_null(strstr(log, "the store takes writes again"));
    size_t said = pgt_count(log, "the store cannot take writes");
    assert_true(said >= 1 && said <= 3); /* once per distinct error in the outage, not per write */
    free(log);
    writer_free(w);
    PGconn *db = pgt_raw(t);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE idem_key IN ('before', 'after')"), 2);
    assert_int_equal(pgt_num(db, "SELECT count(*) FROM records WHERE idem_key LIKE 'during-%'"), 0);
    PQfinish(db);
    store_close(s);
}

/* The server restarted while the writer was idle: the dead session is noticed before the
 * next batch is sent (its socket says so), so the first write after the restart goes
 * through instead of failing with 503. */
static void test_restart_while_idle(void **state)
{
    struct pgt *t = *state;
    struct store *s = pst_open(t, false);
    struct writer_options wo = {.batch_max = 64, .queue_max = 64};
    struct writer *w = NULL;
    assert_int_equal(writer_start(s, &wo, &w), IH_OK);
    assert_int_equal(write_one(w, "idle-1"), IH_OK);
    assert_int_equal(pgtmp_server_stop(&t->pg, "fast"), 0);
    assert_int_equal(pgtmp_server_start(&t->pg), 0);
    assert_int_equal(write_one(w, "idle-2"), IH_OK);
    assert_true(store_writable(s, NULL, 0));
    writer_free(w);
    store_close(s);
}

/* A server that takes the TCP connection but never answers: the attempt ends within its
 * deadline (2 s), the caller is not held for libpq's connect_timeout per address. */
static void test_silent_server_bounded(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0); /* never accepted: the kernel completes the handshake */
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    char conninfo[160];
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d dbname=x user=x sslmode=disable", ntohs(a.sin_port));
    struct store_options o = {.busy_timeout_ms = 500};
    struct store *s = NULL;
    char err[640] = "", why[640];
    double t0 = pgt_now_s();
    assert_int_equal(store_open(conninfo, &o, &s, err, sizeof(err)), IH_OK); /* the writer keeps trying */
    double took = pgt_now_s() - t0;
    print_message("a silent server: open gave up after %.2f s\n", took);
    assert_true(took > 1.5 && took < 3.5);
    assert_false(store_writable(s, why, sizeof(why)));
    assert_non_null(strstr(why, "no connection within 2000 ms"));
    store_close(s);
    close(fd);
}

int main(void)
{
    log_configure(LOG_ERROR, true);
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_what_it_says_of_itself),
        cmocka_unit_test(test_nodes_starting_at_once),
        cmocka_unit_test(test_transaction_ids_behind_refused),
        cmocka_unit_test(test_read_only_database),
        cmocka_unit_test(test_synchronous_commit_off_warned),
        cmocka_unit_test(test_pan_key_fingerprints),
        cmocka_unit_test(test_read_only_store),
        cmocka_unit_test(test_silent_server_bounded),
    };
    const struct CMUnitTest private_cluster[] = {
        cmocka_unit_test(test_server_stopped_then_back),
        cmocka_unit_test(test_restart_while_idle),
    };
    int failed = cmocka_run_group_tests_name("shared cluster", shared, pgt_setup, pgt_teardown);
    return failed + cmocka_run_group_tests_name("private cluster", private_cluster, pgt_setup_private, pgt_teardown);
}
