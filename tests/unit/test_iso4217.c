/* Unit tests of the ISO 4217 currency table (include/issuerhook/iso4217.h):
 * known lookups, the invariants the lookups rely on (sorted, unique, well-formed)
 * and the rejection of unknown, withdrawn and malformed codes. */
#include "testutil.h"

#include "issuerhook/iso4217.h"

/* ---- helpers ---- */

struct known {
    const char *alpha;
    const char *numeric;
    unsigned minor_units;
};

/* A sample of List One across 0, 2, 3 and 4 decimals, funds, X-codes and the
 * newest codes (SLE 2023, ZWG 2024, XCG 2025). */
static const struct known known[] = {
    {"USD", "840", 2}, {"EUR", "978", 2}, {"GBP", "826", 2}, {"HUF", "348", 2}, {"ALL", "008", 2},
    {"JPY", "392", 0}, {"ISK", "352", 0}, {"KRW", "410", 0}, {"VND", "704", 0}, {"XAF", "950", 0},
    {"KWD", "414", 3}, {"BHD", "048", 3}, {"TND", "788", 3}, {"CLF", "990", 4}, {"UYW", "927", 4},
    {"SLE", "925", 2}, {"VES", "928", 2}, {"VED", "926", 2}, {"ZWG", "924", 2}, {"XCG", "532", 2},
    {"CHE", "947", 2}, {"CHW", "948", 2}, {"USN", "997", 2}, {"UYI", "940", 0}, {"MXV", "979", 2},
    {"BOV", "984", 2}, {"COU", "970", 2}, {"XAD", "396", 2},
};

/* X-codes whose minor units are "N.A." in the standard: stored as 0. */
static const struct known not_applicable[] = {
    {"XAU", "959", 0}, {"XAG", "961", 0}, {"XPT", "962", 0}, {"XPD", "964", 0}, {"XDR", "960", 0},
    {"XSU", "994", 0}, {"XUA", "965", 0}, {"XBA", "955", 0}, {"XBB", "956", 0}, {"XBC", "957", 0},
    {"XBD", "958", 0}, {"XTS", "963", 0}, {"XXX", "999", 0},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct iso4217 *table(size_t *n)
{
    const struct iso4217 *t = iso4217_table(n);
    assert_non_null(t);
    assert_true(*n > 0);
    return t;
}

static void assert_known(const struct known *k)
{
    const struct iso4217 *a = iso4217_by_alpha(k->alpha);
    const struct iso4217 *n = iso4217_by_numeric(k->numeric);
    if (!a || !n)
        print_error("%s / %s not found\n", k->alpha, k->numeric);
    assert_non_null(a);
    assert_non_null(n);
    assert_ptr_equal(a, n);
    assert_string_equal(a->alpha, k->alpha);
    assert_string_equal(a->numeric, k->numeric);
    assert_int_equal(a->minor_units, k->minor_units);
    assert_non_null(a->name);
    assert_true(a->name[0] != '\0');
}

/* ---- known codes ---- */

static void test_known_by_alpha_and_numeric(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(known); i++)
        assert_known(&known[i]);
}

static void test_not_applicable_minor_units_are_zero(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(not_applicable); i++)
        assert_known(&not_applicable[i]);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(iso4217_by_alpha("USD")->name, "US Dollar");
    assert_string_equal(iso4217_by_alpha("EUR")->name, "Euro");
    assert_string_equal(iso4217_by_alpha("XCG")->name, "Caribbean Guilder");
    assert_string_equal(iso4217_by_numeric("924")->name, "Zimbabwe Gold");
}

/* The table as sourced (SIX List One, Pblshd 2026-01-01): 178 codes. A new ISO
 * amendment changes this count on purpose; update it with the table. */
static void test_table_size_as_sourced(void **state)
{
    (void)state;
    size_t n = 0;
    const struct iso4217 *t = table(&n);
    assert_int_equal(n, 178);
    unsigned by_units[5] = {0};
    for (size_t i = 0; i < n; i++)
        if (t[i].minor_units < 5)
            by_units[t[i].minor_units]++;
    /* 17 with 0 decimals plus the 13 "N.A." codes stored as 0. */
    assert_int_equal(by_units[0], 17 + 13);
    assert_int_equal(by_units[1], 0);
    assert_int_equal(by_units[2], 139);
    assert_int_equal(by_units[3], 7);
    assert_int_equal(by_units[4], 2);
}

/* ---- invariants of the whole table ---- */

static void test_round_trip_every_entry(void **state)
{
    (void)state;
    size_t n = 0;
    const struct iso4217 *t = table(&n);
    for (size_t i = 0; i < n; i++) {
        if (iso4217_by_alpha(t[i].alpha) != &t[i] || iso4217_by_numeric(t[i].numeric) != &t[i])
            print_error("round trip fails for %s / %s\n", t[i].alpha, t[i].numeric);
        assert_ptr_equal(iso4217_by_alpha(t[i].alpha), &t[i]);
        assert_ptr_equal(iso4217_by_numeric(t[i].numeric), &t[i]);
    }
}

static void test_codes_unique(void **state)
{
    (void)state;
    size_t n = 0;
    const struct iso4217 *t = table(&n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(t[i].alpha, t[j].alpha) == 0 || strcmp(t[i].numeric, t[j].numeric) == 0)
                print_error("duplicate: %s/%s and %s/%s\n", t[i].alpha, t[i].numeric, t[j].alpha, t[j].numeric);
            assert_int_not_equal(strcmp(t[i].alpha, t[j].alpha), 0);
            assert_int_not_equal(strcmp(t[i].numeric, t[j].numeric), 0);
        }
}

static void test_sorted_by_alpha(void **state)
{
    (void)state;
    size_t n = 0;
    const struct iso4217 *t = table(&n);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(t[i - 1].alpha, t[i].alpha) >= 0)
            print_error("out of order: %s before %s\n", t[i - 1].alpha, t[i].alpha);
        assert_true(strcmp(t[i - 1].alpha, t[i].alpha) < 0);
    }
}

static void test_alpha_is_three_upper_case_letters(void **state)
{
    (void)state;
    size_t n = 0;
    const struct iso4217 *t = table(&n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(strnlen(t[i].alpha, sizeof(t[i].alpha)), 3);
        for (size_t k = 0; k < 3; k++)
            assert_true(t[i].alpha[k] >= 'A' && t[i].alpha[k] <= 'Z');
    }
}

static void test_numeric_is_three_digits(void **state)
{
    (void)state;
    size_t n = 0;
    const struct iso4217 *t = table(&n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(strnlen(t[i].numeric, sizeof(t[i].numeric)), 3);
        for (size_t k = 0; k < 3; k++)
            assert_true(t[i].numeric[k] >= '0' && t[i].numeric[k] <= '9');
    }
}

static void test_minor_units_at_most_four_and_names_set(void **state)
{
    (void)state;
    size_t n = 0;
    const struct iso4217 *t = table(&n);
    for (size_t i = 0; i < n; i++) {
        assert_true(t[i].minor_units <= 4);
        assert_non_null(t[i].name);
        assert_true(t[i].name[0] != '\0');
    }
}

static void test_table_count_pointer_may_be_null(void **state)
{
    (void)state;
    size_t n = 0;
    assert_ptr_equal(iso4217_table(NULL), iso4217_table(&n));
}

/* ---- unknown, withdrawn and malformed ---- */

static void test_unknown_and_withdrawn_alpha(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* withdrawn */
        "HRK", "SLL", "VEF", "MRO", "STD", "ZWL", "ANG", "BGN", "CUC", "LTL", "BYR",
        /* never assigned, or not this case / length */
        "ABC", "ZZZ", "AAA", "usd", "Usd", "uSD", "US", "U", "", "USDX", "USD ", " USD", "U5D", "US-", "840",
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        if (iso4217_by_alpha(bad[i]))
            print_error("\"%s\" was accepted\n", bad[i]);
        assert_null(iso4217_by_alpha(bad[i]));
    }
    assert_null(iso4217_by_alpha(NULL));
}

static void test_unknown_and_withdrawn_numeric(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* HRK, SLL, VEF, MRO, STD, ZWL, BGN, CUC: withdrawn numerics not reused */
        "191", "694", "937", "478", "678", "932", "975", "931",
        /* unassigned or malformed */
        "000", "001", "84", "8", "", "8400", "840 ", " 840", "84a", "-84", "USD", "+84",
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        if (iso4217_by_numeric(bad[i]))
            print_error("\"%s\" was accepted\n", bad[i]);
        assert_null(iso4217_by_numeric(bad[i]));
    }
    assert_null(iso4217_by_numeric(NULL));
}

/* Short strings in buffers of exactly their size: the lookups must stop at the
 * terminator (valgrind and ASan report any read past it). */
static void test_short_strings_are_not_over_read(void **state)
{
    (void)state;
    static const char *const shorts[] = {"", "U", "US", "8", "84"};
    for (size_t i = 0; i < N_OF(shorts); i++) {
        size_t len = strlen(shorts[i]) + 1;
        char *p = malloc(len);
        assert_non_null(p);
        memcpy(p, shorts[i], len);
        assert_null(iso4217_by_alpha(p));
        assert_null(iso4217_by_numeric(p));
        free(p);
    }
    /* Exactly three characters in a four-byte buffer still works. */
    char *usd = malloc(4);
    assert_non_null(usd);
    memcpy(usd, "USD", 4);
    assert_non_null(iso4217_by_alpha(usd));
    memcpy(usd, "840", 4);
    assert_non_null(iso4217_by_numeric(usd));
    free(usd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_by_alpha_and_numeric),
        cmocka_unit_test(test_not_applicable_minor_units_are_zero),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_table_size_as_sourced),
        cmocka_unit_test(test_round_trip_every_entry),
        cmocka_unit_test(test_codes_unique),
        cmocka_unit_test(test_sorted_by_alpha),
        cmocka_unit_test(test_alpha_is_three_upper_case_letters),
        cmocka_unit_test(test_numeric_is_three_digits),
        cmocka_unit_test(test_minor_units_at_most_four_and_names_set),
        cmocka_unit_test(test_table_count_pointer_may_be_null),
        cmocka_unit_test(test_unknown_and_withdrawn_alpha),
        cmocka_unit_test(test_unknown_and_withdrawn_numeric),
        cmocka_unit_test(test_short_strings_are_not_over_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
