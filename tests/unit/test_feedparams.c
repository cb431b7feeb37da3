/* The feed's query parameters (src/api/feedparams.c): watermarks, page cursors, the
 * occurredAt interval syntax of the Apiture seed and pipe-delimited name lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "issuerhook/feedparams.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define DAY 86400000LL
#define HOUR 3600000LL
#define JAN1_2024 1704067200000LL /* 2024-01-01T00:00:00Z */
#define FEB1_2024 1706745600000LL /* 2024-02-01T00:00:00Z */

/* ---- watermarks ---- */

/* Positions {0, seq} (every SQLite position) and their tokens. */
static struct feed_pos at(int64_t seq)
{
    return (struct feed_pos){0, seq};
}

static void pos_round_trip(struct feed_pos p, const char *want)
{
    char out[FEED_TOKEN_MAX];
    memset(out, 'X', sizeof(out));
    feedparams_watermark_encode(p, out);
    assert_string_equal(out, want);
    struct feed_pos back = {-1, -1};
    if (!feedparams_watermark_decode(out, &back))
        fail_msg("%s (from %lld.%lld) does not decode", out, (long long)p.a, (long long)p.b);
    assert_int_equal(back.a, p.a);
    assert_int_equal(back.b, p.b);
}

static void watermark_round_trip(int64_t seq, const char *want)
{
    pos_round_trip(at(seq), want);
}

static void test_watermark_round_trip(void **state)
{
    (void)state;
    watermark_round_trip(0, "w1.0");
    watermark_round_trip(1, "w1.1");
    watermark_round_trip(35, "w1.z");
    watermark_round_trip(36, "w1.10");
    watermark_round_trip(36 * 36 - 1, "w1.zz");
    watermark_round_trip(1727769362375LL, "w1.m1q59o7b");
    watermark_round_trip(INT64_MAX, "w1.1y2p0ij32e8e7");
    /* every value in a range survives, and the encoding keeps to the seed's pattern */
    for (int64_t v = 0; v < 5000; v += 7) {
        char out[FEED_TOKEN_MAX];
        struct feed_pos back = {-1, -1};
        feedparams_watermark_encode(at(v), out);
        assert_true(strspn(out, "w1.0123456789abcdefghijklmnopqrstuvwxyz") == strlen(out));
        assert_true(feedparams_watermark_decode(out, &back));
        assert_int_equal(back.a, 0);
        assert_int_equal(back.b, v);
    }
    /* a negative position is never produced: it reads as the start */
    char out[FEED_TOKEN_MAX];
    feedparams_watermark_encode(at(-5), out);
    assert_string_equal(out, "w1.0");
}

/* A position of two numbers (a > 0: what a backend with a transaction id in its
 * positions gives out) has its own form, told apart from w1 and from cursors. */
static void test_watermark_two_numbers(void **state)
{
    (void)state;
    pos_round_trip((struct feed_pos){1, 0}, "w2.1.0");
    pos_round_trip((struct feed_pos){36, 35}, "w2.10.z");
    pos_round_trip((struct feed_pos){744, 1727769362375LL}, "w2.ko.m1q59o7b");
    pos_round_trip((struct feed_pos){INT64_MAX, INT64_MAX}, "w2.1y2p0ij32e8e7.1y2p0ij32e8e7");
    /* a negative a is never produced: it is spelt as a SQLite position */
    char out[FEED_TOKEN_MAX];
    feedparams_watermark_encode((struct feed_pos){-3, 9}, out);
    assert_string_equal(out, "w1.9");
    const char *bad[] = {
        "w2.",               /* no numbers */
        "w2.1",              /* one number */
        "w2.1.",             /* no second number */
        "w2..1",             /* no first number */
        "w2.0.1",            /* a == 0 is spelt w1.1 */
        "w2.01.1",           /* leading zero */
        "w2.1.01",           /* leading zero */
        "w2.1.1.1",          /* three numbers */
        "w2.1.1 ",           /* trailing space */
        "w2.A.1",            /* upper-case digit */
        "w2.1y2p0ij32e8e8.1", /* a above INT64_MAX */
        "w2.1.1y2p0ij32e8e8", /* b above INT64_MAX */
        "w3.1.1",            /* other version */
    };
    for (size_t i = 0; i < N(bad); i++) {
        struct feed_pos p = {-7, -7};
        if (feedparams_watermark_decode(bad[i], &p))
            fail_msg("accepted watermark \"%s\" (as %lld.%lld)", bad[i], (long long)p.a, (long long)p.b);
    }
}

static void test_watermark_empty_is_start(void **state)
{
    (void)state;
    struct feed_pos p = {99, 99};
    assert_true(feedparams_watermark_decode("", &p));
    assert_true(p.a == 0 && p.b == 0);
    p = (struct feed_pos){99, 99};
    assert_true(feedparams_watermark_decode(NULL, &p));
    assert_true(p.a == 0 && p.b == 0);
}

static void test_watermark_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "w1.",                /* no digits */
        "w1",                 /* no dot */
        "w11",                /* no dot */
        "w2.1",               /* w2 has two numbers */
        "x1.1",               /* other prefix */
        "c1.1",               /* a cursor's prefix */
        "c1.0.1",             /* a cursor */
        "W1.1",               /* upper-case prefix */
        "w1.A",               /* upper-case digit */
        "w1.1Z",              /* upper-case digit */
        "w1.00",              /* leading zero */
        "w1.01",              /* leading zero */
        "w1.0z",              /* leading zero */
        "w1.-1",              /* sign */
        "w1.+1",              /* sign */
        "w1._",               /* not base 36 */
        "w1.1_",              /* not base 36 */
        "w1.é",               /* not ASCII */
        "w1. 1",              /* space */
        "w1.1 ",              /* trailing space */
        " w1.1",              /* leading space */
        "w1.1.",              /* trailing junk */
        "w1.1.2",             /* trailing junk */
        "w1.1?",              /* trailing junk */
        "w1.1\n",             /* trailing newline */
        "w1.10000000000000",  /* 14 digits: too long */
        "w1.zzzzzzzzzzzzzz",  /* 14 digits */
        "w1.1y2p0ij32e8e8",   /* INT64_MAX + 1 */
        "w1.1y2p0ij32e8ez",   /* above INT64_MAX */
        "w1.2000000000000",   /* above INT64_MAX */
    };
    for (size_t i = 0; i < N(bad); i++) {
        struct feed_pos p = {-7, -7};
        if (feedparams_watermark_decode(bad[i], &p))
            fail_msg("accepted watermark \"%s\" (as %lld)", bad[i], (long long)p.b);
    }
}

/* 13 base-36 digits can exceed 2^64: the value must be refused, not wrapped around. */
static void test_watermark_overflow_not_wrapped(void **state)
{
    (void)state;
    const char *bad[] = {
        "w1.3w5e11264sgsg",  /* 2^64, which wraps to 0 */
        "w1.3w5e11264sgsl",  /* 2^64 + 5, which wraps to 5 */
        "w1.zzzzzzzzzzzzz",  /* 36^13 - 1 */
        "w1.5000000000000",
    };
    for (size_t i = 0; i < N(bad); i++) {
        struct feed_pos p = {-7, -7};
        if (feedparams_watermark_decode(bad[i], &p))
            fail_msg("accepted watermark \"%s\" above INT64_MAX (as %lld)", bad[i], (long long)p.b);
    }
}

/* ---- page cursors ---- */

static void cursor_round_trip(int64_t ms, int64_t seq, const char *want)
{
    char out[FEED_TOKEN_MAX];
    memset(out, 'X', sizeof(out));
    feedparams_cursor_encode(ms, seq, out);
    if (want)
        assert_string_equal(out, want);
    int64_t bms = -1, bseq = -1;
    if (!feedparams_cursor_decode(out, &bms, &bseq))
        fail_msg("%s does not decode", out);
    assert_int_equal(bms, ms);
    assert_int_equal(bseq, seq);
}

static void test_cursor_round_trip(void **state)
{
    (void)state;
    cursor_round_trip(0, 0, "c1.0.0");
    cursor_round_trip(1, 35, "c1.1.z");
    cursor_round_trip(35, 36, "c1.z.10");
    cursor_round_trip(36, 1, "c1.10.1");
    cursor_round_trip(1727769362375LL, 36, "c1.m1q59o7b.10");
    cursor_round_trip(INT64_MAX, INT64_MAX, "c1.1y2p0ij32e8e7.1y2p0ij32e8e7");
    cursor_round_trip(INT64_MAX, 0, "c1.1y2p0ij32e8e7.0");
    cursor_round_trip(0, INT64_MAX, "c1.0.1y2p0ij32e8e7");
    for (int64_t v = 0; v < 3000; v += 13)
        cursor_round_trip(v * 1000003, v, NULL);
    /* the longest cursor fits, with its NUL */
    char out[FEED_TOKEN_MAX];
    feedparams_cursor_encode(INT64_MAX, INT64_MAX, out);
    assert_true(strlen(out) < FEED_TOKEN_MAX);
}

static void test_cursor_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "c1.",
        "c1.0",
        "c1.0.",
        "c1..0",
        "c1..",
        "c1.0.0.",
        "c1.0.0.0",
        "c1.0,0",
        "c10.0",
        "C1.0.0",
        "c2.0.0",
        "w1.0",
        "w1.0.0",
        "c1.00.0",  /* leading zero */
        "c1.0.00",  /* leading zero */
        "c1.01.1",  /* leading zero */
        "c1.A.0",   /* upper case */
        "c1.0.B",   /* upper case */
        "c1.-1.0",  /* sign */
        "c1.0.-1",
        "c1.0.0 ",  /* trailing junk */
        "c1.0.0x!",
        " c1.0.0",
        "c1.0 .0",
        "c1.10000000000000.0",  /* 14 digits */
        "c1.0.10000000000000",
        "c1.1y2p0ij32e8e8.0",   /* INT64_MAX + 1 */
        "c1.0.1y2p0ij32e8e8",
    };
    for (size_t i = 0; i < N(bad); i++) {
        int64_t ms = -7, seq = -7;
        if (feedparams_cursor_decode(bad[i], &ms, &seq))
            fail_msg("accepted cursor \"%s\" (as %lld/%lld)", bad[i], (long long)ms, (long long)seq);
    }
    int64_t ms, seq;
    assert_false(feedparams_cursor_decode(NULL, &ms, &seq));
}

static void test_cursor_overflow_not_wrapped(void **state)
{
    (void)state;
    const char *bad[] = {"c1.3w5e11264sgsg.0", "c1.0.3w5e11264sgsl", "c1.zzzzzzzzzzzzz.1", "c1.1.zzzzzzzzzzzzz"};
    for (size_t i = 0; i < N(bad); i++) {
        int64_t ms = -7, seq = -7;
        if (feedparams_cursor_decode(bad[i], &ms, &seq))
            fail_msg("accepted cursor \"%s\" above INT64_MAX (as %lld/%lld)", bad[i], (long long)ms,
                     (long long)seq);
    }
}

/* ---- occurredAt intervals ---- */

static struct feed_interval iv_ok(const char *s)
{
    struct feed_interval iv;
    memset(&iv, 0x5a, sizeof(iv));
    if (!feedparams_interval_parse(s, &iv))
        fail_msg("refused interval \"%s\"", s);
    return iv;
}

#define assert_interval(s, hf, f, ht, t)                                                                           \
    do {                                                                                                           \
        struct feed_interval iv_ = iv_ok(s);                                                                       \
        assert_int_equal(iv_.has_from, (hf));                                                                      \
        assert_int_equal(iv_.has_to, (ht));                                                                        \
        if (hf)                                                                                                    \
            assert_int_equal(iv_.from_ms, (f));                                                                    \
        if (ht)                                                                                                    \
            assert_int_equal(iv_.to_ms, (t));                                                                      \
    } while (0)

static void test_interval_dates(void **state)
{
    (void)state;
    /* the seed's example: May 2023, the two spellings equivalent */
    struct feed_interval a = iv_ok("[2023-05-01,2023-06-01)");
    struct feed_interval b = iv_ok("[2023-05-01T00:00:00.00Z,2023-06-01T00:00:00.00Z)");
    assert_true(a.has_from && a.has_to && b.has_from && b.has_to);
    assert_int_equal(a.from_ms, 1682899200000LL);
    assert_int_equal(a.to_ms, 1685577600000LL);
    assert_int_equal(a.from_ms, b.from_ms);
    assert_int_equal(a.to_ms, b.to_ms);

    /* [ includes the start day; ( starts after it; ) ends before the end day; ] goes through it */
    assert_interval("[2024-01-01,2024-02-01)", true, JAN1_2024, true, FEB1_2024);
    assert_interval("(2024-01-01,2024-02-01)", true, JAN1_2024 + DAY, true, FEB1_2024);
    assert_interval("[2024-01-01,2024-02-01]", true, JAN1_2024, true, FEB1_2024 + DAY);
    assert_interval("(2024-01-01,2024-02-01]", true, JAN1_2024 + DAY, true, FEB1_2024 + DAY);
    assert_interval("(2023-12-31,2024-01-31]", true, JAN1_2024, true, FEB1_2024);
    /* one whole day */
    assert_interval("[2024-01-01,2024-01-01]", true, JAN1_2024, true, JAN1_2024 + DAY);
    assert_interval("[2024-01-01,2024-01-02)", true, JAN1_2024, true, JAN1_2024 + DAY);
    /* leap day */
    assert_interval("[2024-02-29,2024-03-01)", true, 1709164800000LL, true, 1709164800000LL + DAY);
}

static void test_interval_date_times(void **state)
{
    (void)state;
    assert_interval("[2024-01-01T00:00:00Z,2024-01-01T01:00:00Z)", true, JAN1_2024, true, JAN1_2024 + HOUR);
    assert_interval("[2024-01-01T00:00:00.000Z,2024-01-01T01:00:00.000Z)", true, JAN1_2024, true,
                    JAN1_2024 + HOUR);
    /* ( starts just after the instant; ] ends just after it (the instant included) */
    assert_interval("(2024-01-01T00:00:00Z,2024-01-01T01:00:00Z)", true, JAN1_2024 + 1, true, JAN1_2024 + HOUR);
    assert_interval("[2024-01-01T00:00:00Z,2024-01-01T01:00:00Z]", true, JAN1_2024, true, JAN1_2024 + HOUR + 1);
    assert_interval("(2024-01-01T00:00:00.500Z,2024-01-01T01:00:00.250Z]", true, JAN1_2024 + 501, true,
                    JAN1_2024 + HOUR + 251);
    /* one instant */
    assert_interval("[2024-01-01T00:00:00.007Z,2024-01-01T00:00:00.007Z]", true, JAN1_2024 + 7, true,
                    JAN1_2024 + 8);
    /* RFC 3339 allows lower-case t and z, and up to 9 fraction digits (63 characters) */
    assert_interval("[2024-01-01t00:00:00z,2024-01-01t00:00:01z)", true, JAN1_2024, true, JAN1_2024 + 1000);
    assert_interval("[2024-01-01T00:00:00.123456789Z,2024-01-02T00:00:00.987654321Z)", true, JAN1_2024 + 123, true,
                    JAN1_2024 + DAY + 987);
    /* a date and a date-time together */
    assert_interval("[2024-01-01,2024-01-01T12:00:00Z)", true, JAN1_2024, true, JAN1_2024 + 12 * HOUR);
    assert_interval("(2024-01-01,2024-01-02T12:00:00Z]", true, JAN1_2024 + DAY, true,
                    JAN1_2024 + DAY + 12 * HOUR + 1);
    assert_interval("[2023-12-31T23:59:59.999Z,2024-01-01]", true, JAN1_2024 - 1, true, JAN1_2024 + DAY);
}

static void test_interval_open_ends(void **state)
{
    (void)state;
    assert_interval("[2024-01-01,)", true, JAN1_2024, false, 0);
    assert_interval("(2024-01-01,)", true, JAN1_2024 + DAY, false, 0);
    assert_interval("[2024-01-01T00:00:00Z,)", true, JAN1_2024, false, 0);
    assert_interval("(2024-01-01T00:00:00Z,]", true, JAN1_2024 + 1, false, 0);
    assert_interval("(,2024-01-31]", false, 0, true, FEB1_2024);
    assert_interval("[,2024-02-01)", false, 0, true, FEB1_2024);
    assert_interval("(,2024-01-01T00:00:00Z]", false, 0, true, JAN1_2024 + 1);
    assert_interval("(,2024-01-01T00:00:00Z)", false, 0, true, JAN1_2024);
    /* both ends open: everything */
    assert_interval("[,)", false, 0, false, 0);
    assert_interval("(,]", false, 0, false, 0);
}

static void test_interval_malformed(void **state)
{
    (void)state;
    char long_one[200];
    memset(long_one, 0, sizeof(long_one));
    /* 65 characters (the longest well-formed interval has 63) */
    snprintf(long_one, sizeof(long_one), "[2024-01-01T00:00:00.1234567890Z,2024-01-02T00:00:00.1234567890Z)");
    const char *bad[] = {
        "",
        "[",
        "[]",
        "[)",
        ",",
        "[,",
        ",)",
        /* brackets */
        "2024-01-01,2024-02-01",
        "2024-01-01,2024-02-01)",
        "[2024-01-01,2024-02-01",
        "{2024-01-01,2024-02-01}",
        "<2024-01-01,2024-02-01>",
        ")2024-01-01,2024-02-01[",
        "[2024-01-01,2024-02-01))",
        "[[2024-01-01,2024-02-01)",
        " [2024-01-01,2024-02-01)",
        "[2024-01-01,2024-02-01) ",
        /* commas */
        "[2024-01-01)",
        "[2024-01-01 2024-02-01)",
        "[2024-01-01;2024-02-01)",
        "[2024-01-01,2024-01-15,2024-02-01)",
        "[2024-01-01,,2024-02-01)",
        "[,,)",
        "[2024-01-01,,)",
        /* dates */
        "[2024-13-01,)",
        "[2024-00-10,)",
        "[2024-01-32,)",
        "[2024-01-00,)",
        "[2023-02-29,)",
        "[2024-04-31,)",
        "[2024-1-01,)",
        "[24-01-01,)",
        "[2024/01/01,)",
        "[20240101,)",
        "[2024-01-01 ,)",
        "[ 2024-01-01,)",
        "[2024-01-0x,)",
        "[abcdefghij,)",
        "[,2024-02-30)",
        /* date-times */
        "[2024-01-01T00:00:00,)",
        "[2024-01-01T00:00Z,)",
        "[2024-01-01T24:00:00Z,)",
        "[2024-01-01T00:60:00Z,)",
        "[2024-01-01T00:00:00.Z,)",
        "[2024-01-01T00:00:00.1234567890Z,)",
        "[2024-01-01 00:00:00Z,)",
        "[2024-01-01T00:00:00ZZ,)",
        /* non-UTC offsets */
        "[2024-01-01T00:00:00+00:00,)",
        "[2024-01-01T00:00:00+02:00,)",
        "[2024-01-01T00:00:00-05:30,)",
        "[,2024-01-01T00:00:00-05:00)",
        "[2024-01-01T00:00:00.000+01:00,2024-01-02T00:00:00Z)",
        /* end before (or at) start: empty */
        "[2024-02-01,2024-01-01)",
        "[2024-01-01,2024-01-01)",
        "(2024-01-01,2024-01-01]",
        "(2024-01-01,2024-01-02)",
        "[2024-01-01T01:00:00Z,2024-01-01T00:00:00Z)",
        "[2024-01-01T00:00:00Z,2024-01-01T00:00:00Z)",
        "(2024-01-01T00:00:00Z,2024-01-01T00:00:00Z]",
        "(2024-01-01T00:00:00Z,2024-01-01T00:00:00.001Z)",
        /* too long */
        long_one,
        "[2024-01-01T00:00:00.000000000Z,2024-01-02T00:00:00.000000000Z)xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    };
    for (size_t i = 0; i < N(bad); i++) {
        struct feed_interval iv;
        if (feedparams_interval_parse(bad[i], &iv))
            fail_msg("accepted interval \"%s\"", bad[i]);
    }
    struct feed_interval iv;
    assert_false(feedparams_interval_parse(NULL, &iv));
    /* a long string of valid characters is refused on its length */
    char huge[4096];
    memset(huge, '1', sizeof(huge));
    huge[0] = '[';
    huge[2000] = ',';
    huge[sizeof(huge) - 2] = ')';
    huge[sizeof(huge) - 1] = '\0';
    assert_false(feedparams_interval_parse(huge, &iv));
}

/* ---- pipe-delimited names ---- */

static void test_names_valid(void **state)
{
    (void)state;
    struct feed_names n;
    assert_true(feedparams_names_parse("caseCreated", 32, 4, 48, &n));
    assert_int_equal(n.n, 1);
    assert_string_equal(n.v[0], "caseCreated");
    assert_true(feedparams_names_has(&n, "caseCreated"));
    assert_false(feedparams_names_has(&n, "casecreated"));
    assert_false(feedparams_names_has(&n, "caseCreate"));

    assert_true(feedparams_names_parse("caseCreated|bookingFailed|accountInfo", 32, 4, 48, &n));
    assert_int_equal(n.n, 3);
    assert_string_equal(n.v[0], "caseCreated");
    assert_string_equal(n.v[1], "bookingFailed");
    assert_string_equal(n.v[2], "accountInfo");
    assert_true(feedparams_names_has(&n, "bookingFailed"));
    assert_true(feedparams_names_has(&n, "accountInfo"));
    assert_false(feedparams_names_has(&n, "bookings"));

    /* shortest and longest, digits after the first character */
    assert_true(feedparams_names_parse("abcd", 32, 4, 48, &n));
    assert_true(feedparams_names_parse("a1B2", 32, 4, 48, &n));
    char longest[64];
    memset(longest, 'x', 48);
    longest[48] = '\0';
    assert_true(feedparams_names_parse(longest, 32, 4, 48, &n));
    assert_int_equal(strlen(n.v[0]), 48);

    /* categories: 4 to 40 */
    memset(longest, 'c', 40);
    longest[40] = '\0';
    assert_true(feedparams_names_parse(longest, 16, 4, 40, &n));
}

static void test_names_counts(void **state)
{
    (void)state;
    struct feed_names n;
    char list[32 * 8 + 64] = "";
    for (int i = 0; i < 32; i++) {
        char one[16];
        snprintf(one, sizeof(one), "%sname%02d", i ? "|" : "", i);
        strcat(list, one);
    }
    assert_true(feedparams_names_parse(list, 32, 4, 48, &n));
    assert_int_equal(n.n, 32);
    assert_string_equal(n.v[31], "name31");
    assert_true(feedparams_names_has(&n, "name17"));
    strcat(list, "|name32");
    assert_false(feedparams_names_parse(list, 32, 4, 48, &n)); /* 33 */

    /* at most 16 categories */
    char cats[16 * 8 + 64] = "";
    for (int i = 0; i < 16; i++) {
        char one[16];
        snprintf(one, sizeof(one), "%scats%02d", i ? "|" : "", i);
        strcat(cats, one);
    }
    assert_true(feedparams_names_parse(cats, 16, 4, 40, &n));
    assert_int_equal(n.n, 16);
    strcat(cats, "|cats16");
    assert_false(feedparams_names_parse(cats, 16, 4, 40, &n));

    /* more items than the structure holds is a caller error */
    assert_false(feedparams_names_parse("abcd", FEED_NAMES_MAX + 1, 4, 48, &n));
    assert_false(feedparams_names_parse("abcd", 32, 4, FEED_NAME_LEN + 1, &n));
}

static void test_names_malformed(void **state)
{
    (void)state;
    char too_long[64], too_long_cat[64];
    memset(too_long, 'x', 49);
    too_long[49] = '\0';
    memset(too_long_cat, 'c', 41);
    too_long_cat[41] = '\0';
    const char *bad[] = {
        "",
        "|",
        "||",
        "abcd|",
        "|abcd",
        "abcd||efgh",
        "abcd|efgh|",
        /* duplicates */
        "abcd|abcd",
        "abcd|efgh|abcd",
        "caseCreated|bookingFailed|caseCreated",
        /* first character */
        "Abcd",
        "1abc",
        "_abc",
        "-abc",
        " abc",
        "abcd|Efgh",
        "abcd|9fgh",
        /* other characters */
        "ab-cd",
        "ab_cd",
        "ab cd",
        "abc.d",
        "abcd ",
        "abcd,efgh",
        "abcd%7Cefgh",
        "ab\xc3\xa9" "cd",
        "abcd|ef$gh",
        /* lengths */
        "abc",
        "abcd|efg",
        "a",
        too_long,
    };
    for (size_t i = 0; i < N(bad); i++) {
        struct feed_names n;
        if (feedparams_names_parse(bad[i], 32, 4, 48, &n))
            fail_msg("accepted name list \"%s\"", bad[i]);
    }
    struct feed_names n;
    assert_false(feedparams_names_parse(NULL, 32, 4, 48, &n));
    assert_false(feedparams_names_parse(too_long_cat, 16, 4, 40, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watermark_round_trip),
        cmocka_unit_test(test_watermark_two_numbers),
        cmocka_unit_test(test_watermark_empty_is_start),
        cmocka_unit_test(test_watermark_malformed),
        cmocka_unit_test(test_watermark_overflow_not_wrapped),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_malformed),
        cmocka_unit_test(test_cursor_overflow_not_wrapped),
        cmocka_unit_test(test_interval_dates),
        cmocka_unit_test(test_interval_date_times),
        cmocka_unit_test(test_interval_open_ends),
        cmocka_unit_test(test_interval_malformed),
        cmocka_unit_test(test_names_valid),
        cmocka_unit_test(test_names_counts),
        cmocka_unit_test(test_names_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
