/* The callback dispatcher's backoff: exponential, capped, with equal jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "issuerhook/callback.h"

static const struct callback_options opt = {.backoff_ms = 1000, .backoff_max_ms = 60000};

static void test_doubles_after_each_failure(void **state)
{
    (void)state;
    /* rnd = 1 (just under) gives the full delay, rnd = 0 half of it */
    assert_int_equal(callback_backoff_ms(&opt, 1, 0.0), 500);
    assert_in_range(callback_backoff_ms(&opt, 1, 0.999999), 999, 1000);
    assert_int_equal(callback_backoff_ms(&opt, 2, 0.0), 1000);
    assert_int_equal(callback_backoff_ms(&opt, 3, 0.0), 2000);
    assert_int_equal(callback_backoff_ms(&opt, 4, 0.0), 4000);
}

static void test_capped(void **state)
{
    (void)state;
    assert_int_equal(callback_backoff_ms(&opt, 7, 0.0), 30000); /* 64 s capped at 60 s, halved */
    assert_in_range(callback_backoff_ms(&opt, 1000, 0.999999), 59999, 60000);
    struct callback_options small = {.backoff_ms = 100, .backoff_max_ms = 50};
    assert_int_equal(callback_backoff_ms(&small, 1, 0.0), 25);
}

static void test_jitter_stays_in_range(void **state)
{
    (void)state;
    for (unsigned a = 1; a < 12; a++) {
        unsigned lo = callback_backoff_ms(&opt, a, 0.0), hi = callback_backoff_ms(&opt, a, 1.0);
        for (double r = 0; r < 1; r += 0.1) {
            unsigned d = callback_backoff_ms(&opt, a, r);
            assert_in_range(d, lo, hi);
        }
        assert_true(hi <= 2 * lo + 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_after_each_failure),
        cmocka_unit_test(test_capped),
        cmocka_unit_test(test_jitter_stays_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
