/* The SQLite store (src/store/sqlite/db.c and lock.c) through the store's interface: one
 * process per database (the lock file), whatever path names it; a planted symlink is not
 * followed; what cannot be retried is refused, what can is reported through
 * store_writable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/store.h"
#include "issuerhook/log.h"

static const struct store_options OPT = {.busy_timeout_ms = 100};

static char dir[64];

static int setup(void **state)
{
    (void)state;
    log_configure(LOG_ERROR, true);
    snprintf(dir, sizeof(dir), "/tmp/ihdb.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void test_second_open_is_refused_naming_the_holder(void **state)
{
    (void)state;
    char path[128], other[128], link[128], err[640], pid[32];
    path_in(path, sizeof(path), "a/x.db");
    path_in(link, sizeof(link), "b");
    struct store *one = NULL, *two = NULL;
    assert_int_equal(store_open(path, &OPT, &one, err, sizeof(err)), IH_OK);
    assert_true(store_writable(one, err, sizeof(err)));
    assert_true(store_schema_version(one) > 0);
    /* the same file through a symlinked folder and a "..": still the same lock */
    path_in(other, sizeof(other), "a");
    assert_int_equal(symlink(other, link), 0);
    path_in(other, sizeof(other), "b/../a/../b/x.db");
    assert_int_equal(store_open(other, &OPT, &two, err, sizeof(err)), IH_EBUSY);
    assert_null(two);
    snprintf(pid, sizeof(pid), "(PID %ld)", (long)getpid());
    assert_non_null(strstr(err, pid));
    assert_non_null(strstr(err, "x.db.lock"));
    /* released with the first: the second may open it now */
    store_close(one);
    assert_int_equal(store_open(other, &OPT, &two, err, sizeof(err)), IH_OK);
    assert_true(store_writable(two, err, sizeof(err)));
    store_close(two);
}

/* A lock file planted as a symlink to another file is neither followed nor truncated:
 * the store does not take writes, and says why. */
static void test_planted_lock_symlink_is_not_followed(void **state)
{
    (void)state;
    char path[128], lock[128], victim[128], why[640], err[640];
    path_in(path, sizeof(path), "c.db");
    path_in(lock, sizeof(lock), "c.db.lock");
    path_in(victim, sizeof(victim), "victim");
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, lock), 0);
    struct store *db = NULL;
    assert_int_equal(store_open(path, &OPT, &db, err, sizeof(err)), IH_OK);
    assert_false(store_writable(db, why, sizeof(why)));
    assert_non_null(strstr(why, "cannot open the lock file"));
    store_close(db);
    struct stat sb;
    assert_int_equal(stat(victim, &sb), 0);
    assert_int_equal(sb.st_size, 8);
    assert_int_equal(stat(path, &sb), -1); /* nothing was written before the lock */
}

static void test_what_retrying_cannot_fix_is_refused(void **state)
{
    (void)state;
    char path[128], err[640];
    struct store *db = NULL;
    /* a folder where the database should be */
    path_in(path, sizeof(path), "folder.db");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(store_open(path, &OPT, &db, err, sizeof(err)), IH_EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
    /* a file that is not a database */
    path_in(path, sizeof(path), "text.db");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database file\n", f);
    fclose(f);
    assert_int_not_equal(store_open(path, &OPT, &db, err, sizeof(err)), IH_OK);
    assert_null(db);
    /* a schema newer than this binary */
    path_in(path, sizeof(path), "new.db");
    assert_int_equal(store_open(path, &OPT, &db, err, sizeof(err)), IH_OK);
    store_close(db);
    sqlite3 *c = NULL;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    assert_int_equal(sqlite3_exec(c, "INSERT INTO schema_migrations(version, name) VALUES (9999, 'future')", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    db = NULL;
    assert_int_equal(store_open(path, &OPT, &db, err, sizeof(err)), IH_ENEWER);
    assert_non_null(strstr(err, "newer than this issuerhookd"));
}

/* A database that cannot take a commit (here: another process holds its write lock past
 * the busy timeout) opens all the same, and says why it does not take writes. */
static void test_unwritable_store_opens_and_says_why(void **state)
{
    (void)state;
    char path[128], err[640], why[640];
    path_in(path, sizeof(path), "locked.db");
    struct store *db = NULL;
    assert_int_equal(store_open(path, &OPT, &db, err, sizeof(err)), IH_OK);
    store_close(db);
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_open(path, &OPT, &db, err, sizeof(err)), IH_OK);
    assert_false(store_writable(db, why, sizeof(why)));
    assert_non_null(strstr(why, "writes fail since "));
    assert_non_null(strstr(why, "database is locked (SQLITE_BUSY"));
    store_close(db);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_open_is_refused_naming_the_holder),
        cmocka_unit_test(test_planted_lock_symlink_is_not_followed),
        cmocka_unit_test(test_what_retrying_cannot_fix_is_refused),
        cmocka_unit_test(test_unwritable_store_opens_and_says_why),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
