/* Unit tests of client-certificate subject rules (include/issuerhook/subject.h). */
#include "testutil.h"

#include "issuerhook/scope.h"
#include "issuerhook/subject.h"

static void test_parse(void **state)
{
    (void)state;
    struct subject_rule r;
    char err[160];
    assert_int_equal(subject_rule_parse("AMIKO", "amiko:events,amiko:bookings CN=amiko-prod,O=Amiko", &r, err,
                                        sizeof(err)),
                     IH_OK);
    assert_int_equal(r.scopes, SCOPE_AMIKO_EVENTS | SCOPE_AMIKO_BOOKINGS);
    assert_string_equal(r.subject, "CN=amiko-prod,O=Amiko");
    assert_int_equal(subject_rule_parse("X", "amiko:events", &r, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "subject DN");
    assert_int_equal(subject_rule_parse("X", "amiko:events amiko", &r, err, sizeof(err)), IH_EINVAL);
    assert_int_equal(subject_rule_parse("X", "bogus CN=a", &r, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "unknown scope 'bogus'");
    assert_int_equal(subject_rule_parse("", "amiko:events CN=a", &r, err, sizeof(err)), IH_EINVAL);
}

static void test_required_and_allowed(void **state)
{
    (void)state;
    struct subject_rule rules[2];
    char err[160];
    assert_int_equal(subject_rule_parse("A", "amiko:events CN=amiko-a", &rules[0], err, sizeof(err)), IH_OK);
    assert_int_equal(subject_rule_parse("B", "amiko:events,riverty:events CN=amiko-b", &rules[1], err, sizeof(err)),
                     IH_OK);
    assert_true(subject_required(rules, 2, SCOPE_AMIKO_EVENTS));
    assert_true(subject_required(rules, 2, SCOPE_RIVERTY_EVENTS));
    assert_false(subject_required(rules, 2, SCOPE_LEDGER_READ));
    assert_true(subject_allowed(rules, 2, SCOPE_AMIKO_EVENTS, "CN=amiko-a"));
    assert_true(subject_allowed(rules, 2, SCOPE_AMIKO_EVENTS, "CN=amiko-b")); /* any of the rules */
    assert_false(subject_allowed(rules, 2, SCOPE_RIVERTY_EVENTS, "CN=amiko-a"));
    assert_false(subject_allowed(rules, 2, SCOPE_AMIKO_EVENTS, NULL));
    assert_false(subject_allowed(rules, 2, SCOPE_AMIKO_EVENTS, "cn=amiko-a")); /* exact */
    assert_true(subject_allowed(rules, 2, SCOPE_LEDGER_READ, NULL));           /* not covered */
    assert_true(subject_allowed(NULL, 0, SCOPE_AMIKO_EVENTS, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_required_and_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
