/* Unit tests of the card-number scanner (include/issuerhook/panscan.h): what is masked,
 * what is left alone, and the JSON walk over values and member names. */
#include "testutil.h"

#include "issuerhook/panscan.h"

/* s masked in a copy; caller frees. *n: how many were masked. */
static char *masked(const char *s, size_t *n)
{
    char *c = strdup(s);
    assert_non_null(c);
    *n = panscan_mask(c, strlen(c));
    return c;
}

#define assert_masks(in, want, count) tu_assert_masks((in), (want), (count), __FILE__, __LINE__)
static void tu_assert_masks(const char *in, const char *want, size_t count, const char *file, int line)
{
    size_t n;
    char *got = masked(in, &n);
    if (strcmp(got, want) != 0 || n != count) {
        print_error("mask(\"%s\") = \"%s\" (%zu), want \"%s\" (%zu)\n", in, got, n, want, count);
        free(got);
        _fail(file, line);
    }
    free(got);
}

static void test_masks_all_but_the_last_four(void **state)
{
    (void)state;
    assert_masks("card 5200828282828210 declined", "card ************8210 declined", 1);
    assert_masks("5200828282828210", "************8210", 1);
    assert_masks("card 5200 8282 8282 8210.", "card **** **** **** 8210.", 1);
    assert_masks("5200-8282-8282-8210", "****-****-****-8210", 1);
    assert_masks("pan:4111111111111111,", "pan:************1111,", 1);
    /* 13 (Visa), 15 (Amex) and 19 digits */
    assert_masks("4222222222222", "*********2222", 1);
    assert_masks("3782 822463 10005", "**** ****** *0005", 1);
    assert_masks("6011000990139424", "************9424", 1);
    assert_masks("4111111111111111110", "***************1110", 1);
    /* two in one string, and in UTF-8 text */
    assert_masks("4111111111111111 / 5555555555554444", "************1111 / ************4444", 2);
    assert_masks("Karte \xc2\xbb" "4111111111111111\xc2\xab", "Karte \xc2\xbb************1111\xc2\xab", 1);
}

static void test_leaves_what_is_not_a_card_number(void **state)
{
    (void)state;
    /* Luhn fails */
    assert_masks("card 4111111111111112 declined", "card 4111111111111112 declined", 0);
    /* too short, too long (a longer digit run is not a card number) */
    assert_masks("411111111111", "411111111111", 0);
    assert_masks("41111111111111111111", "41111111111111111111", 0);
    /* glued to letters or digits: part of a longer token (an IBAN, a hex id) */
    assert_masks("DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00", 0);
    assert_masks("ab4111111111111111", "ab4111111111111111", 0);
    assert_masks("4111111111111111ff", "4111111111111111ff", 0);
    /* a decimal number */
    assert_masks("4111111111111111.25", "4111111111111111.25", 0);
    assert_masks("1,4111111111111111", "1,4111111111111111", 0);
    /* two separators are not one */
    assert_masks("4111  1111  1111  1111", "4111  1111  1111  1111", 0);
    /* a UUID is an identifier */
    assert_masks("41111111-1111-1111-1111-111111111111", "41111111-1111-1111-1111-111111111111", 0);
    assert_masks("", "", 0);
}

/* A card number beside other groups of digits: the longest valid run of whole groups. */
static void test_finds_a_card_number_among_groups(void **state)
{
    (void)state;
    assert_masks("4111 1111 1111 1111 2024", "**** **** **** 1111 2024", 1);
    assert_masks("ref 12 4111111111111111", "ref 12 ************1111", 1);
    assert_masks("4111111111111111 5555555555554444", "************1111 ************4444", 2);
}

static void test_has(void **state)
{
    (void)state;
    const char *s = "x 4111 1111 1111 1111 y";
    assert_true(panscan_has(s, strlen(s)));
    assert_false(panscan_has("x 4111 1111 1111 1112 y", 23));
    /* only len bytes count */
    assert_false(panscan_has(s, 10));
}

static void test_json_values_and_names(void **state)
{
    (void)state;
    json_t *v = tu_json("{\"reason\": \"card 5200828282828210 declined\", \"n\": 5200828282828210,"
                        " \"list\": [\"4111111111111111\", {\"deep\": \"4111-1111-1111-1111\"}],"
                        " \"5555555555554444\": true, \"id\": \"41111111-1111-1111-1111-111111111111\"}");
    size_t n = 0;
    assert_int_equal(panscan_json(v, NULL, &n), IH_OK);
    assert_int_equal(n, 4);
    assert_string_equal(json_string_value(json_object_get(v, "reason")), "card ************8210 declined");
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "list"), 0)), "************1111");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(v, "list"), 1), "deep")),
                        "****-****-****-1111");
    assert_null(json_object_get(v, "5555555555554444"));
    assert_true(json_is_true(json_object_get(v, "************4444")));
    /* numbers are not strings; UUIDs stay */
    assert_int_equal(json_integer_value(json_object_get(v, "n")), 5200828282828210LL);
    assert_string_equal(json_string_value(json_object_get(v, "id")), "41111111-1111-1111-1111-111111111111");
    /* a second pass finds nothing */
    n = 0;
    assert_int_equal(panscan_json(v, NULL, &n), IH_OK);
    assert_int_equal(n, 0);
    json_decref(v);
}

static void test_json_skip_and_collisions(void **state)
{
    (void)state;
    static const char *const skip[] = {"pan", NULL};
    json_t *v = tu_json("{\"pan\": \"4111111111111111\", \"reason\": \"4111111111111111\","
                        " \"inner\": {\"pan\": \"4111111111111111\"}}");
    size_t n = 0;
    assert_int_equal(panscan_json(v, skip, &n), IH_OK);
    assert_int_equal(n, 2); /* skip applies to v's own members only */
    assert_string_equal(json_string_value(json_object_get(v, "pan")), "4111111111111111");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "inner"), "pan")), "************1111");
    json_decref(v);

    /* two names that mask alike cannot both stay */
    v = tu_json("{\"4111111111111111\": 1, \"4011111111611111\": 2}");
    n = 0;
    assert_int_equal(panscan_json(v, NULL, &n), IH_EINVAL);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masks_all_but_the_last_four),
        cmocka_unit_test(test_leaves_what_is_not_a_card_number),
        cmocka_unit_test(test_finds_a_card_number_among_groups),
        cmocka_unit_test(test_has),
        cmocka_unit_test(test_json_values_and_names),
        cmocka_unit_test(test_json_skip_and_collisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
