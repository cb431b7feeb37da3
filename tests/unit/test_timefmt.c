/* RFC 3339 formatting and parsing (UTC). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "issuerhook/timefmt.h"

static int64_t parse_ok(const char *s)
{
    int64_t ms = -1;
    if (!timefmt_parse_rfc3339_utc(s, strlen(s), &ms))
        fail_msg("refused %s", s);
    return ms;
}

static void test_parse(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("2024-10-01T07:56:02.375Z"), 1727769362375LL);
    assert_int_equal(parse_ok("2024-10-01t07:56:02.3z"), 1727769362300LL);
    assert_int_equal(parse_ok("2024-10-01T07:56:02.123456789Z"), 1727769362123LL);
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), 1709164800000LL);
    assert_int_equal(parse_ok("2000-02-29T00:00:00Z"), 951782400000LL);
}

static void test_refuse(void **state)
{
    (void)state;
    const char *bad[] = {"", "2024-10-01", "2024-10-01T07:56:02", "2024-10-01T07:56:02+00:00",
                         "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                         "2024-04-31T00:00:00Z", "2024-10-01T24:00:00Z", "2024-10-01T07:60:00Z",
                         "2024-10-01T07:56:02.Z", "2024-10-01T07:56:02.1234567890Z", "2024-10-01T07:56:02ZZ",
                         "2024-1-01T07:56:02Z", " 2024-10-01T07:56:02Z"};
    int64_t ms;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (timefmt_parse_rfc3339_utc(bad[i], strlen(bad[i]), &ms))
            fail_msg("accepted '%s'", bad[i]);
}

static void test_offsets(void **state)
{
    (void)state;
    int64_t ms;
    assert_true(timefmt_parse_rfc3339("2024-10-01T09:56:02.375+02:00", 29, &ms));
    assert_int_equal(ms, 1727769362375LL);
    assert_true(timefmt_parse_rfc3339("2024-10-01T02:26:02.375-05:30", 29, &ms));
    assert_int_equal(ms, 1727769362375LL);
    assert_true(timefmt_parse_rfc3339("2024-10-01T07:56:02.375Z", 24, &ms));
    assert_false(timefmt_parse_rfc3339_utc("2024-10-01T09:56:02+02:00", 25, &ms)); /* UTC only */
    assert_false(timefmt_parse_rfc3339("2024-10-01T09:56:02+0200", 24, &ms));
    assert_false(timefmt_parse_rfc3339("2024-10-01T09:56:02+24:00", 25, &ms));
    assert_false(timefmt_parse_rfc3339("2024-10-01T09:56:02", 19, &ms));
}

static void test_format_round_trip(void **state)
{
    (void)state;
    char out[TIMEFMT_LEN];
    timefmt_rfc3339_ms(1727769362375LL, out);
    assert_string_equal(out, "2024-10-01T07:56:02.375Z");
    assert_int_equal(parse_ok(out), 1727769362375LL);
    timefmt_rfc3339_ms(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_refuse),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
