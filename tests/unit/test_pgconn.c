/* Tests of src/store/pg/pgconn.c and pgsettings.c against the throwaway PostgreSQL: the
 * password file (wins over the URI's, refused when unusable, never in an error or a log
 * line), the session's timeouts from the busy timeout, synchronous_commit read and warned
 * about, and, on a private cluster, a lost connection logged once, retried with backoff and
 * logged once when it is back. */
#include "pgtestutil.h"

#include <stdbool.h>

#include "pgerr.h"
#include "pgsettings.h"

static char *show(struct pgconn *c, const char *name)
{
    char v[64];
    assert_int_equal(pgsettings_get(c, name, v, sizeof(v)), IH_OK);
    return strdup(v);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* pgconn_new + pgconn_open with these; the error (if any) into err. */
static ih_status try_open(const char *conninfo, const char *pwfile, char *err, size_t errlen, struct pgconn **out)
{
    struct pgconn_options o = {.conninfo = conninfo, .password_file = pwfile, .busy_timeout_ms = 1000,
                               .name = "probe"};
    struct pgconn *c = NULL;
    err[0] = '\0';
    ih_status rc = pgconn_new(&o, &c, err, errlen);
    if (rc == IH_OK)
        rc = pgconn_open(c, err, errlen);
    if (out)
        *out = c;
    else
        pgconn_free(c);
    return rc;
}

static void test_session(void **state)
{
    struct pgt *t = *state;
    char *v = show(t->c, "application_name");
    assert_string_equal(v, "issuerhookd test");
    free(v);
    v = show(t->c, "statement_timeout");
    assert_string_equal(v, "10s");
    free(v);
    v = show(t->c, "lock_timeout");
    assert_string_equal(v, "5s");
    free(v);
    struct pgconn *c = pgt_conn(t, "other", 1234);
    assert_non_null(c);
    v = show(c, "lock_timeout");
    assert_string_equal(v, "1234ms");
    free(v);
    v = show(c, "statement_timeout");
    assert_string_equal(v, "2468ms");
    free(v);
    assert_int_equal(pgconn_io_timeout_ms(c), 2468 + 10000); /* a slow statement is not a lost connection */
    pgconn_free(c);
}

/* A row lock held by another session: the busy timeout ends the wait with 55P03 (busy). */
static void test_lock_timeout_bites(void **state)
{
    struct pgt *t = *state;
    PGconn *holder = pgt_raw(t);
    pgt_do(holder, "CREATE TABLE IF NOT EXISTS locked (x int); INSERT INTO locked VALUES (1)");
    pgt_do(holder, "BEGIN; SELECT * FROM locked FOR UPDATE");
    struct pgconn *c = pgt_conn(t, "waiter", 200);
    static const struct pgstmt bump = {"bump", "UPDATE locked SET x = x + 1 RETURNING x"};
    struct pgbatch_call call;
    pgt_call(&call, &bump, 0, NULL, NULL, NULL);
    double t0 = pgt_now_s();
    assert_int_equal(pgbatch_run(c, &call, 1, NULL), IH_OK);
    assert_int_equal(call.status, PGBATCH_FAILED);
    assert_string_equal(call.sqlstate, "55P03");
    assert_int_equal(pgerr_status(call.sqlstate), IH_EBUSY);
    assert_true(pgt_now_s() - t0 < 3.0);
    pgt_do(holder, "ROLLBACK");
    PQfinish(holder);
    pgconn_free(c);
}

static void test_password_file_wins_over_uri(void **state)
{
    struct pgt *t = *state;
    char ci[700], err[512];
    snprintf(ci, sizeof(ci), "%s password=not-the-password", t->pg.conninfo);
    assert_int_equal(try_open(ci, t->pg.password_file, err, sizeof(err), NULL), IH_OK);
    /* and without the file the URI's wrong password is refused */
    assert_int_equal(try_open(ci, NULL, err, sizeof(err), NULL), IH_EIO);
    assert_non_null(strstr(err, "password authentication failed"));
    assert_null(strstr(err, "not-the-password"));
}

static void test_wrong_password_never_shown(void **state)
{
    struct pgt *t = *state;
    char path[] = "/tmp/ihpgtest-pw-XXXXXX", err[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "wrong-pass-8871\n");
    assert_int_equal(try_open(t->pg.conninfo, path, err, sizeof(err), NULL), IH_EIO);
    assert_non_null(strstr(err, "password authentication failed for user"));
    assert_null(strstr(err, "wrong-pass-8871"));
    /* the log line of a failed reconnection: reason and database shown, password not */
    struct pgconn_options o = {.conninfo = t->pg.conninfo, .password_file = path, .name = "logged"};
    struct pgconn *c = NULL;
    assert_int_equal(pgconn_new(&o, &c, err, sizeof(err)), IH_OK);
    struct pgt_capture cap;
    pgt_capture_start(&cap);
    assert_int_equal(pgconn_ready(c), IH_EIO);
    assert_int_equal(pgconn_ready(c), IH_EIO); /* within the backoff: no attempt, no line */
    char *log = pgt_capture_end(&cap);
    assert_int_equal(pgt_count(log, "cannot connect to the database"), 1);
    assert_non_null(strstr(log, "password authentication failed"));
    assert_non_null(strstr(log, t->pg.dbname));
    assert_null(strstr(log, "wrong-pass-8871"));
    free(log);
    pgconn_free(c);
    unlink(path);
}

static void test_password_file_refused(void **state)
{
    struct pgt *t = *state;
    char path[] = "/tmp/ihpgtest-pw-XXXXXX", err[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "");
    assert_int_equal(try_open(t->pg.conninfo, path, err, sizeof(err), NULL), IH_EINVAL);
    assert_non_null(strstr(err, "is empty"));
    write_file(path, "line-one\nline-two\n");
    assert_int_equal(try_open(t->pg.conninfo, path, err, sizeof(err), NULL), IH_EINVAL);
    assert_non_null(strstr(err, "one line"));
    assert_null(strstr(err, "line-one"));
    char big[PGCONN_PASSWORD_MAX + 10];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_file(path, big);
    assert_int_equal(try_open(t->pg.conninfo, path, err, sizeof(err), NULL), IH_EINVAL);
    assert_non_null(strstr(err, "longer than"));
    /* the real one with CR LF at the end works */
    FILE *f = fopen(t->pg.password_file, "r");
    char pw[128] = "";
    assert_non_null(fgets(pw, sizeof(pw), f));
    fclose(f);
    pw[strcspn(pw, "\n")] = '\0';
    strncat(pw, "\r\n", sizeof(pw) - strlen(pw) - 1);
    write_file(path, pw);
    assert_int_equal(try_open(t->pg.conninfo, path, err, sizeof(err), NULL), IH_OK);
    unlink(path);
    assert_int_equal(try_open(t->pg.conninfo, path, err, sizeof(err), NULL), IH_EIO);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
}

static void test_display_has_no_password(void **state)
{
    struct pgt *t = *state;
    char ci[700], err[512];
    snprintf(ci, sizeof(ci), "%s password=top-secret-42 sslpassword=key-secret", t->pg.conninfo);
    struct pgconn *c = NULL;
    struct pgconn_options o = {.conninfo = ci, .name = "shown"};
    assert_int_equal(pgconn_new(&o, &c, err, sizeof(err)), IH_OK);
    assert_null(strstr(pgconn_display(c), "secret"));
    assert_non_null(strstr(pgconn_display(c), t->pg.dbname));
    pgconn_free(c);
    o.conninfo = "postgresql://u:s3cret@[::1";
    assert_int_equal(pgconn_new(&o, &c, err, sizeof(err)), IH_EINVAL);
    assert_null(strstr(err, "s3cret"));
}

/* synchronous_commit: "on" is fine; "off" and "local" are read and warned about. */
static void test_synchronous_commit(void **state)
{
    struct pgt *t = *state;
    static const char *const values[] = {"on", "off", "local", "remote_write"};
    static const char *const warns[] = {NULL, "synchronous_commit is off", "synchronous_commit is local", NULL};
    PGconn *admin = pgt_raw(t);
    for (size_t i = 0; i < 4; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" SET synchronous_commit = '%s'", t->pg.dbname, values[i]);
        pgt_do(admin, sql);
        struct pgconn *c = pgt_conn(t, "durability", 1000);
        char v[16];
        bool unsafe = true;
        struct pgt_capture cap;
        pgt_capture_start(&cap);
        ih_status rc = pgsettings_check_durability(c, v, &unsafe);
        char *log = pgt_capture_end(&cap);
        assert_int_equal(rc, IH_OK);
        assert_string_equal(v, values[i]);
        assert_int_equal(unsafe, warns[i] != NULL);
        if (warns[i])
            assert_int_equal(pgt_count(log, warns[i]), 1);
        else
            assert_null(strstr(log, "synchronous_commit"));
        free(log);
        pgconn_free(c);
    }
    char sql[160];
    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" RESET synchronous_commit", t->pg.dbname);
    pgt_do(admin, sql);
    PQfinish(admin);
}

/* Private cluster: the server goes away and comes back. */
static void test_lost_and_restored_logged_once(void **state)
{
    struct pgt *t = *state;
    struct pgt_capture cap;
    char v[64];
    pgt_capture_start(&cap);
    assert_int_equal(pgtmp_server_stop(&t->pg, "fast"), 0);
    assert_int_equal(pgsettings_get(t->c, "server_version", v, sizeof(v)), IH_EIO);
    assert_true(pgconn_down(t->c));
    assert_null(pgconn_pq(t->c));
    double t0 = pgt_now_s();
    while (pgt_now_s() - t0 < 1.5)
        assert_int_equal(pgconn_ready(t->c), IH_EIO);
    assert_int_equal(pgtmp_server_start(&t->pg), 0);
    ih_status rc = IH_EIO;
    for (t0 = pgt_now_s(); rc != IH_OK && pgt_now_s() - t0 < 10; usleep(20000))
        rc = pgconn_ready(t->c);
    char *log = pgt_capture_end(&cap);
    assert_int_equal(rc, IH_OK);
    assert_false(pgconn_down(t->c));
    assert_int_equal(pgsettings_get(t->c, "server_version", v, sizeof(v)), IH_OK);
    assert_int_equal(pgt_count(log, "database connection lost"), 1);
    assert_int_equal(pgt_count(log, "database connection restored"), 1);
    assert_int_equal(pgt_count(log, "cannot connect"), 0);
    assert_non_null(strstr(log, "administrator command"));
    /* backoff: a handful of attempts over the outage, not one per call */
    const char *a = strstr(log, "\"attempts\":\"");
    assert_non_null(a);
    long attempts = strtol(a + strlen("\"attempts\":\""), NULL, 10);
    print_message("reconnected after %ld attempts\n", attempts);
    assert_true(attempts >= 2 && attempts <= 10);
    free(log);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_lock_timeout_bites),
        cmocka_unit_test(test_password_file_wins_over_uri),
        cmocka_unit_test(test_wrong_password_never_shown),
        cmocka_unit_test(test_password_file_refused),
        cmocka_unit_test(test_display_has_no_password),
        cmocka_unit_test(test_synchronous_commit),
    };
    const struct CMUnitTest private_cluster[] = {
        cmocka_unit_test(test_lost_and_restored_logged_once),
    };
    int failed = cmocka_run_group_tests_name("shared cluster", shared, pgt_setup, pgt_teardown);
    return failed + cmocka_run_group_tests_name("private cluster", private_cluster, pgt_setup_private, pgt_teardown);
}
