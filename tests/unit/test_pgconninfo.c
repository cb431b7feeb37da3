/* Unit tests of src/store/pg/pgconninfo.c: connection strings shown without their secrets
 * (URI and key=value forms, hostile cases), libpq's parse errors scrubbed, and messages
 * with a known secret masked. No server needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pgconninfo.h"

/* display(in) == want, and none of the secrets appears in it. */
static void check_display(const char *in, const char *want, const char *const *secrets)
{
    char *got = pgconninfo_display(in);
    assert_non_null(got);
    if (want && strcmp(got, want) != 0)
        print_error("display(%s) = %s, want %s\n", in, got, want);
    if (want)
        assert_string_equal(got, want);
    for (const char *const *s = secrets; s && *s; s++) {
        if (strstr(got, *s))
            print_error("display(%s) = %s shows %s\n", in, got, *s);
        assert_null(strstr(got, *s));
    }
    free(got);
}

static void test_uri_password_removed(void **state)
{
    (void)state;
    const char *const s[] = {"s3cret", NULL};
    check_display("postgresql://issuerhook:s3cret@db.internal:5433/issuerhook?sslmode=verify-full",
                  "user=issuerhook dbname=issuerhook host=db.internal port=5433 sslmode=verify-full", s);
    check_display("postgres://issuerhook:s3cret@db.internal/issuerhook", "user=issuerhook dbname=issuerhook host=db.internal",
                  s);
}

static void test_uri_nasty_passwords(void **state)
{
    (void)state;
    /* percent-encoded '@', space, newline, quote: decoded by libpq, and gone */
    const char *const a[] = {"p@ss w", "p%40ss", "ss%20w", NULL};
    check_display("postgresql://u:p%40ss%20w@h1,h2:5433/db", "user=u dbname=db host=h1,h2 port=,5433", a);
    const char *const b[] = {"sec", "ret", NULL};
    check_display("postgresql://u:sec%0Aret@h/d", "user=u dbname=d host=h", b);
    /* in the query string instead of the userinfo, and twice */
    const char *const c[] = {"qs3cret", "other", NULL};
    check_display("postgresql://u@host/db?password=qs3cret&application_name=x&password=other",
                  "user=u dbname=db host=host application_name=x", c);
    /* an unencoded '@': libpq takes the rest of the password for the host; not shown */
    const char *const d[] = {"ss", NULL};
    check_display("postgresql://u:p@ss@host/db", "user=u dbname=db host=...", d);
    /* sslpassword (the client key's) too */
    const char *const e[] = {"keypw", NULL};
    check_display("postgresql://u@h/db?sslpassword=keypw&sslmode=require", "user=u dbname=db host=h sslmode=require",
                  e);
}

static void test_keyvalue_password_removed(void **state)
{
    (void)state;
    const char *const a[] = {"a b", "b\\'c", "'c", NULL};
    check_display("host=db password='a b\\'c' dbname=x", "dbname=x host=db", a);
    const char *const b[] = {"kp", NULL};
    check_display("sslpassword=kp host=h", "host=h", b);
    const char *const c[] = {"hunter2", NULL};
    check_display("  password = hunter2   host=h user='o''brien'", NULL, c);
    check_display("host=h application_name='it''s me' options='-c x=1'", NULL, NULL);
}

static void test_values_quoted_as_libpq_reads_them(void **state)
{
    (void)state;
    check_display("host=h application_name='two words'", "host=h application_name='two words'", NULL);
    check_display("host=h application_name='it\\'s'", "host=h application_name='it\\'s'", NULL);
    check_display("host=h application_name='back\\\\slash'", "host=h application_name='back\\\\slash'", NULL);
    check_display("host=h application_name=''", "host=h application_name=''", NULL);
    /* what is shown parses back to the same options */
    char *shown = pgconninfo_display("host=h application_name='a \\'b\\' \\\\c'");
    char err[128];
    assert_int_equal(pgconninfo_check(shown, err, sizeof(err)), IH_OK);
    char *again = pgconninfo_display(shown);
    assert_string_equal(shown, again);
    free(shown);
    free(again);
}

static void test_nested_connection_string(void **state)
{
    (void)state;
    const char *const s[] = {"nested", NULL};
    check_display("dbname='postgresql://u:nested@h/db'", "dbname='user=u dbname=db host=h'", s);
    check_display("dbname='password=nested host=h'", "dbname=host=h", s);
    char err[256];
    assert_int_equal(pgconninfo_check("dbname='postgresql://u:nested@h/db'", err, sizeof(err)), IH_EINVAL);
    assert_non_null(strstr(err, "another connection string"));
    assert_null(strstr(err, "nested"));
}

static void test_unreadable_shows_nothing(void **state)
{
    (void)state;
    const char *const s[] = {"s3cret", NULL};
    check_display("postgresql://u:s3cret@[::1", "(unreadable connection string)", s);
    check_display("host=h password", "(unreadable connection string)", NULL);
    check_display("/var/lib/issuerhook/issuerhook.db", "(unreadable connection string)", NULL);
}

static void test_check_scrubs_libpq_quotes(void **state)
{
    (void)state;
    char err[256];
    /* libpq quotes the whole URI in these messages: password and all */
    assert_int_equal(pgconninfo_check("postgresql://u:s3cret@[::1", err, sizeof(err)), IH_EINVAL);
    assert_null(strstr(err, "s3cret"));
    assert_non_null(strstr(err, "IPv6"));
    assert_int_equal(pgconninfo_check("postgresql://u:pw%zzs3cret@h/db", err, sizeof(err)), IH_EINVAL);
    assert_null(strstr(err, "s3cret"));
    assert_non_null(strstr(err, "percent-encoded"));
    assert_int_equal(pgconninfo_check("host=h s3cret", err, sizeof(err)), IH_EINVAL);
    assert_null(strstr(err, "s3cret"));
    assert_int_equal(pgconninfo_check("postgresql://u:p@ss@host/db", err, sizeof(err)), IH_EINVAL);
    assert_non_null(strstr(err, "%40"));
    assert_null(strstr(err, "ss@"));
    assert_int_equal(pgconninfo_check("host=h port=5432 dbname=x", err, sizeof(err)), IH_OK);
}

static void test_scrub_and_clean(void **state)
{
    (void)state;
    char out[128];
    pgconninfo_scrub("bad \"p4ss\" here\nand \"more\"\n", out, sizeof(out));
    assert_string_equal(out, "bad \"...\" here and \"...\"");
    pgconninfo_scrub("unterminated \"p4ss", out, sizeof(out));
    assert_string_equal(out, "unterminated \"...\"");
    pgconninfo_scrub("cut", out, 3);
    assert_string_equal(out, "cu");

    /* a known secret masked wherever it appears, quotes kept */
    pgconninfo_clean("FATAL:  password authentication failed for user \"u\" (pw hunter2hunter2)\n",
                     "host=h password=hunter2", NULL, out, sizeof(out));
    assert_string_equal(out, "FATAL:  password authentication failed for user \"u\" (pw ......)");
    pgconninfo_clean("x file-secret y", "postgresql://u@h/db", "file-secret", out, sizeof(out));
    assert_string_equal(out, "x ... y");
    /* a short secret in a full buffer: still masked, the end cut */
    char small[8];
    pgconninfo_clean("abcdeXY", "password=XY", NULL, small, sizeof(small));
    assert_null(strstr(small, "XY"));
}

static void test_recognising(void **state)
{
    (void)state;
    assert_true(pgconninfo_is_uri("postgresql://h"));
    assert_true(pgconninfo_is_uri("postgres://h"));
    assert_false(pgconninfo_is_uri("postgresq://h"));
    assert_false(pgconninfo_is_uri("POSTGRESQL://h")); /* libpq's prefix is case-sensitive */
    assert_true(pgconninfo_is_keyvalue("host=h"));
    assert_true(pgconninfo_is_keyvalue("  dbname = x"));
    assert_true(pgconninfo_is_keyvalue("service=ih"));
    assert_false(pgconninfo_is_keyvalue("data=1.db")); /* not a libpq keyword */
    assert_false(pgconninfo_is_keyvalue("./host=x.db"));
    assert_false(pgconninfo_is_keyvalue("/var/lib/x.db"));
    assert_false(pgconninfo_is_keyvalue("host"));
    assert_false(pgconninfo_is_keyvalue("=x"));
    assert_false(pgconninfo_is_keyvalue(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_password_removed),
        cmocka_unit_test(test_uri_nasty_passwords),
        cmocka_unit_test(test_keyvalue_password_removed),
        cmocka_unit_test(test_values_quoted_as_libpq_reads_them),
        cmocka_unit_test(test_nested_connection_string),
        cmocka_unit_test(test_unreadable_shows_nothing),
        cmocka_unit_test(test_check_scrubs_libpq_quotes),
        cmocka_unit_test(test_scrub_and_clean),
        cmocka_unit_test(test_recognising),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
