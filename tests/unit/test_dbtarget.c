/* Unit tests of src/store/dbtarget.c: is ISSUERHOOK_DB a SQLite path or a PostgreSQL
 * connection string, and a bad one refused without echoing its password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "issuerhook/dbtarget.h"

static enum dbtarget_kind kind_of(const char *db)
{
    enum dbtarget_kind k = DBTARGET_POSTGRESQL;
    char err[256] = "";
    ih_status rc = dbtarget_classify(db, &k, err, sizeof(err));
    if (rc != IH_OK)
        print_error("%s: %s\n", db, err);
    assert_int_equal(rc, IH_OK);
    return k;
}

static void test_paths_are_sqlite(void **state)
{
    (void)state;
    assert_int_equal(kind_of("/var/lib/issuerhook/issuerhook.db"), DBTARGET_SQLITE);
    assert_int_equal(kind_of("./var/issuerhook.db"), DBTARGET_SQLITE);
    assert_int_equal(kind_of("issuerhook.db"), DBTARGET_SQLITE);
    assert_int_equal(kind_of("data=1.db"), DBTARGET_SQLITE);     /* "data" is no libpq keyword */
    assert_int_equal(kind_of("./host=x.db"), DBTARGET_SQLITE);   /* the documented way out */
    assert_int_equal(kind_of("/srv/db/postgresql://x"), DBTARGET_SQLITE);
    assert_int_equal(kind_of("file:issuerhook.db"), DBTARGET_SQLITE);
    assert_int_equal(kind_of(""), DBTARGET_SQLITE);
    assert_int_equal(kind_of(NULL), DBTARGET_SQLITE);
}

static void test_connection_strings_are_postgresql(void **state)
{
    (void)state;
    assert_int_equal(kind_of("postgresql://issuerhook@db.internal/issuerhook?sslmode=verify-full"),
                     DBTARGET_POSTGRESQL);
    assert_int_equal(kind_of("postgres://db.internal"), DBTARGET_POSTGRESQL);
    assert_int_equal(kind_of("postgresql:///issuerhook?host=/var/run/postgresql"), DBTARGET_POSTGRESQL);
    assert_int_equal(kind_of("host=db.internal dbname=issuerhook user=issuerhook"), DBTARGET_POSTGRESQL);
    assert_int_equal(kind_of("  dbname = issuerhook"), DBTARGET_POSTGRESQL);
    assert_int_equal(kind_of("service=issuerhook"), DBTARGET_POSTGRESQL);
    assert_int_equal(kind_of("host=x.db"), DBTARGET_POSTGRESQL);
}

static void test_bad_postgresql_refused_without_secrets(void **state)
{
    (void)state;
    static const char *const bad[] = {"postgresql://u:s3cret@[::1/db", "postgresql://u:s3cret%zz@h/db",
                                      "host=h dbname=x hots=s3cret", "host=h s3cret",
                                      "postgresql://u:s3@cret@h/db", "dbname='postgresql://u:s3cret@h/d'"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum dbtarget_kind k = DBTARGET_SQLITE;
        char err[256] = "";
        assert_int_equal(dbtarget_classify(bad[i], &k, err, sizeof(err)), IH_EINVAL);
        assert_int_equal(k, DBTARGET_POSTGRESQL);
        assert_non_null(strstr(err, "not a valid PostgreSQL connection string"));
        if (strstr(err, "s3cret") || strstr(err, "cret"))
            print_error("%s -> %s\n", bad[i], err);
        assert_null(strstr(err, "cret"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_are_sqlite),
        cmocka_unit_test(test_connection_strings_are_postgresql),
        cmocka_unit_test(test_bad_postgresql_refused_without_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
