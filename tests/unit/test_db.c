/* store/db.c and store/lock.c: one process per database (the lock file), whatever path
 * names it; a planted symlink is not followed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/db.h"
#include "issuerhook/log.h"

static const struct db_options OPT = {.busy_timeout_ms = 100};

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
    struct db *one = NULL, *two = NULL;
    assert_int_equal(db_open(path, &OPT, &one, err, sizeof(err)), IH_OK);
    /* the same file through a symlinked folder and a "..": still the same lock */
    path_in(other, sizeof(other), "a");
    assert_int_equal(symlink(other, link), 0);
    path_in(other, sizeof(other), "b/../a/../b/x.db");
    assert_int_equal(db_open(other, &OPT, &two, err, sizeof(err)), IH_EBUSY);
    assert_null(two);
    snprintf(pid, sizeof(pid), "(PID %ld)", (long)getpid());
    assert_non_null(strstr(err, pid));
    assert_non_null(strstr(err, "x.db.lock"));
    /* released with the first: the second may open it now */
    db_close(one);
    assert_int_equal(db_open(other, &OPT, &two, err, sizeof(err)), IH_OK);
    db_close(two);
}

/* A lock file planted as a symlink to another file is neither followed nor truncated,
 * and nothing is written before the lock is held. */
static void test_planted_lock_symlink_is_not_followed(void **state)
{
    (void)state;
    char path[128], lock[128], victim[128], err[640];
    path_in(path, sizeof(path), "c.db");
    path_in(lock, sizeof(lock), "c.db.lock");
    path_in(victim, sizeof(victim), "victim");
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, lock), 0);
    struct db *db = NULL;
    assert_int_equal(db_open(path, &OPT, &db, err, sizeof(err)), IH_EIO);
    assert_non_null(strstr(err, "cannot open the lock file"));
    struct stat sb;
    assert_int_equal(stat(victim, &sb), 0);
    assert_int_equal(sb.st_size, 8);
    assert_int_equal(stat(path, &sb), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_open_is_refused_naming_the_holder),
        cmocka_unit_test(test_planted_lock_symlink_is_not_followed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
