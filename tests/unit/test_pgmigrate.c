/* Tests of src/store/pg/pgmigrate.c against the throwaway PostgreSQL: the embedded schema
 * mirrors the SQLite one version for version; an empty database is migrated to the latest
 * and a second run does nothing; two nodes migrating one empty database at once take turns
 * on the advisory lock; a newer schema is refused; a failing migration leaves the ones
 * before it and nothing of itself; the lock and the session's timeouts are given back. */
#include "pgtestutil.h"

#include <pthread.h>

/* A pgconn on database name of the test's cluster. */
static struct pgconn *conn_to(struct pgt *t, const char *name)
{
    char ci[512], err[512];
    pgtmp_conninfo(&t->pg, name, false, ci, sizeof(ci));
    struct pgconn_options o = {.conninfo = ci, .password_file = t->pg.password_file, .busy_timeout_ms = 3000,
                               .name = name};
    struct pgconn *c = NULL;
    assert_int_equal(pgconn_new(&o, &c, err, sizeof(err)), IH_OK);
    assert_int_equal(pgconn_open(c, err, sizeof(err)), IH_OK);
    return c;
}

/* A pgconn on a new, empty database. */
static struct pgconn *fresh_db(struct pgt *t, const char *name)
{
    char ci[512];
    assert_int_equal(pgtmp_createdb(&t->pg, name, ci, sizeof(ci)), 0);
    return conn_to(t, name);
}

static long long num(struct pgconn *c, const char *sql)
{
    return pgt_num(pgconn_pq(c), sql);
}

/* The lock is free again and the busy timeouts are back. */
static void assert_given_back(struct pgconn *c)
{
    /* this database's: pg_locks is the cluster's, and other tests open stores in it */
    assert_int_equal(num(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
                            " (SELECT oid FROM pg_database WHERE datname = current_database())"),
                     0);
    PGresult *r = pgt_q(pgconn_pq(c), "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')");
    assert_string_equal(PQgetvalue(r, 0, 0), "3s");
    assert_string_equal(PQgetvalue(r, 0, 1), "6s");
    PQclear(r);
}

static void test_mirrors_sqlite_versions(void **state)
{
    (void)state;
    assert_int_equal(migrations_postgresql_count, migrations_sqlite_count);
    for (size_t i = 0; i < migrations_sqlite_count; i++) {
        assert_int_equal(migrations_postgresql[i].version, migrations_sqlite[i].version);
        assert_string_equal(migrations_postgresql[i].name, migrations_sqlite[i].name);
    }
}

static void test_empty_to_latest_then_nothing(void **state)
{
    struct pgt *t = *state;
    struct pgconn *c = fresh_db(t, "mig_fresh");
    int from = -1, to = -1;
    char err[512];
    assert_int_equal(pgmigrate_apply(c, &from, &to, err, sizeof(err)), IH_OK);
    assert_int_equal(from, 0);
    assert_int_equal(to, migrations_postgresql[migrations_postgresql_count - 1].version);
    assert_int_equal(num(c, "SELECT count(*) FROM schema_migrations"), (long long)migrations_postgresql_count);
    assert_int_equal(pgmigrate_apply(c, &from, &to, err, sizeof(err)), IH_OK);
    assert_int_equal(from, to);
    /* what the design relies on */
    assert_int_equal(num(c, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'records'"
                            " AND column_name = 'txid' AND data_type = 'xid8'"),
                     1);
    assert_int_equal(num(c, "SELECT count(*) FROM pg_indexes WHERE indexname = 'records_feed'"
                            " AND indexdef LIKE '%(txid, seq)'"),
                     1);
    assert_int_equal(num(c, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'outbox'"
                            " AND column_name IN ('lease_owner', 'lease_until')"),
                     2);
    assert_given_back(c);
    pgconn_free(c);
}

struct racer {
    struct pgconn *c;
    int from, to;
    ih_status rc;
    char err[512];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    r->rc = pgmigrate_apply(r->c, &r->from, &r->to, r->err, sizeof(r->err));
    return NULL;
}

/* Both wait on the lock another session holds, then go: one migrates, one finds it done. */
static void test_two_nodes_at_once(void **state)
{
    struct pgt *t = *state;
    struct racer a = {.c = fresh_db(t, "mig_race")}, b = {.c = conn_to(t, "mig_race")};
    char holder_ci[512];
    pgtmp_conninfo(&t->pg, "mig_race", true, holder_ci, sizeof(holder_ci));
    PGconn *holder = PQconnectdb(holder_ci);
    assert_int_equal(PQstatus(holder), CONNECTION_OK);
    pgt_do(holder, "SELECT pg_advisory_lock(" PGMIGRATE_LOCK_KEY ")");
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
    for (int i = 0; i < 2000 && pgt_num(holder, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type ="
                                                " 'Lock' AND datname = 'mig_race'") < 2;
         i++)
        usleep(10000);
    assert_int_equal(pgt_num(holder, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                     " AND datname = 'mig_race'"),
                     2);
    pgt_do(holder, "SELECT pg_advisory_unlock(" PGMIGRATE_LOCK_KEY ")");
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, IH_OK);
    assert_int_equal(b.rc, IH_OK);
    int latest = migrations_postgresql[migrations_postgresql_count - 1].version;
    assert_true((a.from == 0 && b.from == latest) || (b.from == 0 && a.from == latest));
    assert_int_equal(a.to, latest);
    assert_int_equal(b.to, latest);
    assert_int_equal(pgt_num(holder, "SELECT count(*) FROM schema_migrations"), (long long)migrations_postgresql_count);
    PQfinish(holder);
    pgconn_free(a.c);
    pgconn_free(b.c);
}

static void test_newer_schema_refused(void **state)
{
    struct pgt *t = *state;
    struct pgconn *c = fresh_db(t, "mig_newer");
    int from, to;
    char err[512];
    assert_int_equal(pgmigrate_apply(c, &from, &to, err, sizeof(err)), IH_OK);
    pgt_do(pgconn_pq(c), "INSERT INTO schema_migrations (version, name) VALUES (99, 'future')");
    assert_int_equal(pgmigrate_apply(c, &from, &to, err, sizeof(err)), IH_ENEWER);
    char knows[80];
    snprintf(knows, sizeof(knows), "has schema version 99, newer than this issuerhookd knows (%d)",
             migrations_postgresql[migrations_postgresql_count - 1].version);
    assert_non_null(strstr(err, knows));
    assert_non_null(strstr(err, "dbname=mig_newer"));
    assert_non_null(strstr(err, "restore a backup made before the upgrade"));
    assert_given_back(c);
    pgconn_free(c);
}

static void test_failing_migration(void **state)
{
    struct pgt *t = *state;
    struct pgconn *c = fresh_db(t, "mig_fail");
    static const struct migration list[] = {
        {1, "first", "CREATE TABLE first_table (x int)"},
        {2, "broken", "CREATE TABLE broken_table (x int); SELECT no_such_function()"},
        {3, "third", "CREATE TABLE third_table (x int)"},
    };
    int from = -1, to = -1;
    char err[512];
    ih_status rc = pgmigrate_apply_list(c, list, 3, &from, &to, err, sizeof(err));
    assert_int_not_equal(rc, IH_OK);
    assert_non_null(strstr(err, "migration 0002_broken failed"));
    assert_non_null(strstr(err, "no_such_function"));
    assert_int_equal(to, 1);
    assert_int_equal(num(c, "SELECT max(version) FROM schema_migrations"), 1);
    assert_int_equal(num(c, "SELECT count(*) FROM pg_tables WHERE tablename IN ('first_table')"), 1);
    assert_int_equal(num(c, "SELECT count(*) FROM pg_tables WHERE tablename IN ('broken_table', 'third_table')"),
                     0);
    assert_given_back(c);
    /* a migration with nothing to do on this backend is a comment */
    static const struct migration quiet[] = {{1, "first", "CREATE TABLE first_table (x int)"},
                                             {2, "nothing", "-- nothing to do on PostgreSQL"}};
    assert_int_equal(pgmigrate_apply_list(c, quiet, 2, &from, &to, err, sizeof(err)), IH_OK);
    assert_int_equal(from, 1);
    assert_int_equal(to, 2);
    pgconn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mirrors_sqlite_versions),
        cmocka_unit_test(test_empty_to_latest_then_nothing),
        cmocka_unit_test(test_two_nodes_at_once),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_failing_migration),
    };
    return cmocka_run_group_tests(tests, pgt_setup, pgt_teardown);
}
