/* Unit tests of src/store/pg/pgerr.c and pgsettings.c's pure parts: which SQLSTATEs mean
 * a lost connection, the daemon status of the others, and which synchronous_commit values
 * can lose an acknowledged event. No server needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pgerr.h"
#include "pgsettings.h"

static void test_lost_sqlstates(void **state)
{
    (void)state;
    static const char *const lost[] = {"08000", "08003", "08006", "08001", "08004", "57P01", "57P02", "57P03"};
    for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
        assert_true(pgerr_sqlstate_lost(lost[i]));
    static const char *const kept[] = {"57014", "40P01", "23505", "22P02", "P0001", "42883", "57P04", "0800",
                                       "080000", "", NULL};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        assert_false(pgerr_sqlstate_lost(kept[i]));
}

static void test_no_connection_is_lost(void **state)
{
    (void)state;
    assert_true(pgerr_is_lost(NULL, NULL));
}

static void test_status_of_sqlstates(void **state)
{
    (void)state;
    assert_int_equal(pgerr_status("57014"), IH_EBUSY); /* statement timeout */
    assert_int_equal(pgerr_status("55P03"), IH_EBUSY); /* lock timeout */
    assert_int_equal(pgerr_status("40P01"), IH_EBUSY); /* deadlock */
    assert_int_equal(pgerr_status("40001"), IH_EBUSY); /* serialization */
    assert_int_equal(pgerr_status("53300"), IH_EBUSY); /* too many connections */
    assert_int_equal(pgerr_status("53200"), IH_ENOMEM);
    assert_int_equal(pgerr_status("23505"), IH_EINVAL);
    assert_int_equal(pgerr_status("22P02"), IH_EINVAL);
    assert_int_equal(pgerr_status("P0001"), IH_EIO); /* a function's RAISE: an inconsistency */
    assert_int_equal(pgerr_status("08006"), IH_EIO);
    assert_int_equal(pgerr_status(NULL), IH_EIO);
    assert_int_equal(pgerr_status("5701"), IH_EIO);
}

static void test_unsafe_synchronous_commit(void **state)
{
    (void)state;
    assert_true(pgsettings_sync_commit_unsafe("off"));
    assert_true(pgsettings_sync_commit_unsafe("OFF"));
    assert_true(pgsettings_sync_commit_unsafe("local"));
    assert_false(pgsettings_sync_commit_unsafe("on"));
    assert_false(pgsettings_sync_commit_unsafe("remote_write"));
    assert_false(pgsettings_sync_commit_unsafe("remote_apply"));
    assert_false(pgsettings_sync_commit_unsafe(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_sqlstates),
        cmocka_unit_test(test_no_connection_is_lost),
        cmocka_unit_test(test_status_of_sqlstates),
        cmocka_unit_test(test_unsafe_synchronous_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
