/* Tests of tests/kit/pgtmp.c, the throwaway PostgreSQL: a private cluster is what the
 * durability tests need (fsync and synchronous commit on, not run as root, password over
 * TCP, socket folder closed to others); a test process killed with SIGKILL leaves neither a
 * server nor a folder behind; the shared cluster hands each test a database of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgtmp.h"

static PGconn *connect_tcp(const struct pgtmp *pg, bool with_password)
{
    char ci[768], pw[64] = "";
    FILE *f = fopen(pg->password_file, "r");
    assert_non_null(f);
    assert_non_null(fgets(pw, sizeof(pw), f));
    fclose(f);
    pw[strcspn(pw, "\n")] = '\0';
    snprintf(ci, sizeof(ci), "%s password=%s", pg->conninfo, with_password ? pw : "wrong");
    return PQconnectdb(ci);
}

static char *setting(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* The uid of the cluster's postmaster (its pid is postmaster.pid's first line). */
static long postmaster_pid(const struct pgtmp *pg)
{
    char path[256], line[64] = "";
    snprintf(path, sizeof(path), "%s/data/postmaster.pid", pg->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    return ok ? strtol(line, NULL, 10) : -1;
}

/* pid runs (a zombie does not count: PID 1 may be slow to reap a reparented server). */
static bool alive(long pid)
{
    char path[64], line[256] = "";
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    const char *paren = ok ? strrchr(line, ')') : NULL;
    return paren && paren[1] == ' ' && paren[2] != 'Z';
}

/* Waits up to 10 s for the folder and the process to be gone. */
static bool gone(const char *dir, long pid)
{
    for (int i = 0; i < 200; i++) {
        if (access(dir, F_OK) != 0 && !alive(pid))
            return true;
        usleep(50000);
    }
    print_error("after 10 s: folder %s %s, postmaster %ld %s\n", dir, access(dir, F_OK) ? "gone" : "still there",
                pid, alive(pid) ? "still running" : "gone");
    return false;
}

static void test_private_cluster_is_real(void **state)
{
    (void)state;
    struct pgtmp pg;
    assert_int_equal(pgtmp_start_private(&pg), 0);
    assert_true(pg.own);
    PGconn *c = connect_tcp(&pg, true);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char *v = setting(c, "SELECT current_setting('fsync') || ' ' || current_setting('synchronous_commit')");
    assert_string_equal(v, "on on");
    free(v);
    v = setting(c, "SELECT current_database()");
    assert_string_equal(v, pg.dbname);
    free(v);
    PQfinish(c);
    /* over TCP the password is needed */
    c = connect_tcp(&pg, false);
    assert_int_equal(PQstatus(c), CONNECTION_BAD);
    PQfinish(c);
    /* the folder is closed to others, and the server does not run as root */
    struct stat sb;
    assert_int_equal(stat(pg.dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0077, 0);
    long pid = postmaster_pid(&pg);
    assert_true(pid > 0);
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/%ld", pid);
    assert_int_equal(stat(proc, &sb), 0);
    assert_true(sb.st_uid != 0);
    char dir[sizeof(pg.dir)];
    memcpy(dir, pg.dir, sizeof(dir));
    pgtmp_stop(&pg);
    assert_int_equal(access(dir, F_OK), -1);
    assert_true(gone(dir, pid));
}

/* A test process SIGKILLed with its cluster running: the watchdog removes both. */
static void test_killed_owner_leaves_nothing(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[0]);
        struct pgtmp pg;
        if (pgtmp_start_private(&pg) != 0)
            _exit(1);
        char msg[256];
        int n = snprintf(msg, sizeof(msg), "%ld %s\n", postmaster_pid(&pg), pg.dir);
        if (write(fds[1], msg, (size_t)n) != n)
            _exit(1);
        pause();
        _exit(0);
    }
    close(fds[1]);
    char msg[256] = "";
    FILE *f = fdopen(fds[0], "r");
    assert_non_null(fgets(msg, sizeof(msg), f));
    fclose(f);
    char *dir = NULL;
    long pid = strtol(msg, &dir, 10);
    assert_true(pid > 0);
    dir++;
    dir[strcspn(dir, "\n")] = '\0';
    assert_int_equal(access(dir, F_OK), 0);
    assert_true(alive(pid));

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_true(gone(dir, pid));
}

/* With $IH_PGTMP (under CTest), each start is a database of its own in the shared cluster. */
static void test_shared_cluster_databases(void **state)
{
    (void)state;
    if (!getenv("IH_PGTMP")) {
        print_message("IH_PGTMP unset (not under CTest): the shared cluster is not there to test\n");
        skip();
    }
    struct pgtmp a, b;
    assert_int_equal(pgtmp_start(&a), 0);
    assert_int_equal(pgtmp_start(&b), 0);
    assert_false(a.own);
    assert_false(b.own);
    assert_string_equal(a.dir, b.dir);
    assert_string_not_equal(a.dbname, b.dbname);
    PGconn *c = connect_tcp(&a, true);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);
    pgtmp_stop(&a);
    c = connect_tcp(&a, true);
    assert_int_equal(PQstatus(c), CONNECTION_BAD); /* dropped */
    assert_non_null(strstr(PQerrorMessage(c), "does not exist"));
    PQfinish(c);
    c = connect_tcp(&b, true);
    assert_int_equal(PQstatus(c), CONNECTION_OK); /* the other one stays */
    PQfinish(c);
    pgtmp_stop(&b);
    assert_int_equal(access(b.dir, F_OK), 0); /* the cluster stays for the other tests */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_cluster_is_real),
        cmocka_unit_test(test_killed_owner_leaves_nothing),
        cmocka_unit_test(test_shared_cluster_databases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
