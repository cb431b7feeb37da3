/* Unit tests of the Apiture System Card Activity webhook schema
 * (include/issuerhook/check_card_activity.h, seed apiture-card-activity-webhook.txt).
 *
 * One test per constraint: take the seed's sample request (tests/fixtures/card_activity/
 * valid/seed-sample.json, exactly as the seed prints it), break one thing, and expect
 * exactly the violations that constraint gives, at their JSON Pointers. Where a value
 * breaks a length bound the seed also covers with its pattern (a 13-digit PAN is both
 * too short and not the pattern), both violations are expected, as a JSON Schema
 * validator reports both keywords. The fixture files are checked against
 * tests/fixtures/card_activity/verdicts.json. */
#include "testutil.h"

#include <dirent.h>

#include "issuerhook/check_card_activity.h"

#define SAMPLE "card_activity/valid/seed-sample.json"
#define ITEM "/items/0"
#define ADDR "/merchant/address"

/* ---- helpers ---- */

static json_t *sample(void)
{
    return tu_fixture(SAMPLE);
}

/* Sets (value non-NULL, stolen) or deletes (NULL) the member at rel, a simple pointer
 * inside items[0] such as "/merchant/address/regionCode". Returns root. */
static json_t *item_set(json_t *root, const char *rel, json_t *value)
{
    json_t *item = json_array_get(json_object_get(root, "items"), 0);
    assert_true(json_is_object(item));
    tu_json_set(item, rel, value);
    return root;
}

/* The sample with the merchant's regionCode replaced by a regionName. */
static json_t *named_region(void)
{
    json_t *root = item_set(sample(), ADDR "/regionCode", NULL);
    return item_set(root, ADDR "/regionName", json_string("Washington"));
}

/* A string of n copies of unit. */
static json_t *repeat(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *buf = malloc(ul * n + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * ul, unit, ul);
    buf[ul * n] = '\0';
    json_t *s = json_string(buf);
    free(buf);
    assert_non_null(s);
    return s;
}

/* Checks root (consumed): exactly n violations, each of the n (pointer, rule) pairs
 * that follow present. */
static void verdict_at(const char *file, int line, json_t *root, size_t n, ...)
{
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_card_activity(root, &res);
    tu_assert_violation_count(&res, n, file, line);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *ptr = va_arg(ap, const char *);
        const char *rule = va_arg(ap, const char *);
        tu_assert_violation(&res, ptr, rule, file, line);
    }
    va_end(ap);
    check_result_clear(&res);
    json_decref(root);
}
#define assert_verdict(root, ...) verdict_at(__FILE__, __LINE__, (root), __VA_ARGS__)

/* The sample with items[0]<rel> set to value: accepted / exactly one violation / exactly
 * two at the same pointer / "required" when deleted. */
#define ACCEPT(rel, value) assert_verdict(item_set(sample(), (rel), (value)), 0)
#define REJECT(rel, value, rule) assert_verdict(item_set(sample(), rel, (value)), 1, ITEM rel, rule)
#define REJECT2(rel, value, rule1, rule2) \
    assert_verdict(item_set(sample(), rel, (value)), 2, ITEM rel, rule1, ITEM rel, rule2)
#define REQUIRED(rel) assert_verdict(item_set(sample(), rel, NULL), 1, ITEM rel, "required")

/* The same on named_region() (regionName instead of regionCode). */
#define ACCEPT_NAMED(rel, value) assert_verdict(item_set(named_region(), (rel), (value)), 0)
#define REJECT_NAMED(rel, value, rule) assert_verdict(item_set(named_region(), rel, (value)), 1, ITEM rel, rule)

/* The sample with a root member set (NULL: deleted). */
static json_t *root_set(const char *ptr, json_t *value)
{
    json_t *root = sample();
    tu_json_set(root, ptr, value);
    return root;
}

/* =================== the fixtures =================== */

static void test_seed_sample_is_valid(void **state)
{
    (void)state;
    assert_verdict(sample(), 0);
}

static void test_maximal_items_are_valid(void **state)
{
    (void)state;
    json_t *root = tu_fixture("card_activity/valid/maximal.json");
    /* every optional property of the item, the money, the merchant and the address */
    json_t *item = json_array_get(json_object_get(root, "items"), 0);
    static const char *const every[] = {"customerId", "customerTaxId", "cardId", "pan", "activityType",
                                        "reasonCode", "reason", "amount", "merchant", "occurredAt",
                                        "location", NULL};
    for (const char *const *k = every; *k; k++)
        assert_non_null(json_object_get(item, *k));
    assert_int_equal(json_object_size(item), 11);
    assert_int_equal(json_object_size(json_object_get(item, "amount")), 2);
    assert_int_equal(json_object_size(json_object_get(item, "merchant")), 3);
    assert_int_equal(json_object_size(json_object_get(json_object_get(item, "merchant"), "address")), 6);
    assert_verdict(root, 0);
}

/* Every entry of verdicts.json: its file gives exactly the listed violations. */
static void test_fixture_verdicts(void **state)
{
    (void)state;
    tu_check_verdicts("card_activity", check_card_activity, 3);
}

/* Every payload under valid/ and invalid/ has a verdict: none for valid/, some for invalid/. */
static void test_every_fixture_has_a_verdict(void **state)
{
    (void)state;
    tu_check_every_fixture_has_verdict("card_activity", 1);
}

/* =================== the enums =================== */

static size_t count(const char *const *list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

static void test_enum_tables_match_the_seed(void **state)
{
    (void)state;
    assert_int_equal(count(card_activity_types), 2);
    assert_int_equal(count(card_activity_reason_codes), 11);
    assert_int_equal(count(card_activity_locations), 8);
    assert_int_equal(count(card_merchant_categories), 57);
    assert_string_equal(card_merchant_categories[0], "ageRestricted");
    assert_string_equal(card_merchant_categories[56], "other.atm");
    assert_string_equal(card_activity_reason_codes[10], "merchantBlocked");
    /* no duplicates */
    for (size_t i = 0; card_merchant_categories[i]; i++)
        for (size_t j = i + 1; card_merchant_categories[j]; j++)
            assert_string_not_equal(card_merchant_categories[i], card_merchant_categories[j]);
}

/* =================== the body (incomingSystemCardActivity) =================== */

static void test_body_not_an_object(void **state)
{
    (void)state;
    assert_verdict(tu_json("[]"), 1, "", "type");
    assert_verdict(tu_json("\"TIBURON\""), 1, "", "type");
    assert_verdict(tu_json("null"), 1, "", "type");
}

static void test_body_unknown_property(void **state)
{
    (void)state;
    assert_verdict(root_set("/batchId", json_string("b1")), 1, "/batchId", "unevaluatedProperties");
    /* a name with '/' and '~' is escaped in the pointer (RFC 6901) */
    assert_verdict(root_set("/a~b", json_true()), 1, "/a~0b", "unevaluatedProperties");
}

static void test_institution_id_required(void **state)
{
    (void)state;
    assert_verdict(root_set("/institutionId", NULL), 1, "/institutionId", "required");
}

static void test_institution_id_type(void **state)
{
    (void)state;
    assert_verdict(root_set("/institutionId", json_integer(42)), 1, "/institutionId", "type");
    assert_verdict(root_set("/institutionId", json_null()), 1, "/institutionId", "type");
}

static void test_institution_id_min_length(void **state)
{
    (void)state;
    assert_verdict(root_set("/institutionId", json_string("T")), 2, "/institutionId", "minLength",
                   "/institutionId", "format");
    assert_verdict(root_set("/institutionId", json_string("")), 2, "/institutionId", "minLength",
                   "/institutionId", "format");
    assert_verdict(root_set("/institutionId", json_string("TI")), 0);
}

static void test_institution_id_max_length(void **state)
{
    (void)state;
    assert_verdict(root_set("/institutionId", json_string("TIBURON12")), 2, "/institutionId", "maxLength",
                   "/institutionId", "format");
    assert_verdict(root_set("/institutionId", json_string("TIBURON1")), 0);
}

/* ^[A-Z0-9_]{2,8}$ */
static void test_institution_id_pattern(void **state)
{
    (void)state;
    static const char *const bad[] = {"tiburon", "TIBU-ON", "TIB ON", "TIBURÖN", "TIB.RON", "$TIBURON"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_verdict(root_set("/institutionId", json_string(bad[i])), 1, "/institutionId", "format");
    assert_verdict(root_set("/institutionId", json_string("12345678")), 0);
    assert_verdict(root_set("/institutionId", json_string("TIB_0N")), 0);
}

static void test_items_required(void **state)
{
    (void)state;
    assert_verdict(root_set("/items", NULL), 1, "/items", "required");
}

static void test_items_type(void **state)
{
    (void)state;
    assert_verdict(root_set("/items", json_object()), 1, "/items", "type");
    assert_verdict(root_set("/items", json_string("[]")), 1, "/items", "type");
}

static void test_items_min_items(void **state)
{
    (void)state;
    assert_verdict(root_set("/items", json_array()), 1, "/items", "minItems");
}

/* 1000 items pass; 1001 give maxItems alone, without walking the items (all invalid here). */
static void test_items_max_items(void **state)
{
    (void)state;
    json_t *root = sample();
    json_t *items = json_object_get(root, "items");
    json_t *item = json_array_get(items, 0);
    while (json_array_size(items) < 1000)
        assert_int_equal(json_array_append(items, item), 0);
    assert_verdict(root, 0);

    root = sample();
    items = json_object_get(root, "items");
    json_array_clear(items);
    json_t *bad = tu_json("{\"pan\": 1}");
    for (size_t i = 0; i < 1001; i++)
        assert_int_equal(json_array_append(items, bad), 0);
    json_decref(bad);
    assert_verdict(root, 1, "/items", "maxItems");
}

static void test_item_type(void **state)
{
    (void)state;
    json_t *root = sample();
    assert_int_equal(json_array_append_new(json_object_get(root, "items"), json_string("item")), 0);
    assert_int_equal(json_array_append_new(json_object_get(root, "items"), json_null()), 0);
    assert_verdict(root, 2, "/items/1", "type", "/items/2", "type");
}

/* =================== the item (cardActivity) =================== */

static void test_item_unknown_property(void **state)
{
    (void)state;
    REJECT("/merchantName", json_string("Amazon"), "unevaluatedProperties");
    REJECT("/PAN", json_string("x"), "unevaluatedProperties"); /* names are case-sensitive */
}

/* ---- customerId: minLength 6, maxLength 48, ^[-_:.~$a-zA-Z0-9]{6,48}$, optional ---- */

static void test_customer_id_optional(void **state)
{
    (void)state;
    ACCEPT("/customerId", NULL);
}

static void test_customer_id_type(void **state)
{
    (void)state;
    REJECT("/customerId", json_integer(123456), "type");
}

static void test_customer_id_min_length(void **state)
{
    (void)state;
    REJECT2("/customerId", json_string("abcde"), "minLength", "format");
    ACCEPT("/customerId", json_string("abcdef"));
}

static void test_customer_id_max_length(void **state)
{
    (void)state;
    REJECT2("/customerId", repeat("a", 49), "maxLength", "format");
    ACCEPT("/customerId", repeat("a", 48));
}

static void test_customer_id_pattern(void **state)
{
    (void)state;
    REJECT("/customerId", json_string("d1b957 31fb"), "format");
    REJECT("/customerId", json_string("d1b957/31fb"), "format");
    REJECT("/customerId", json_string("d1b957+31fb"), "format");
    REJECT("/customerId", json_string("d1b9573éfb"), "format");
    json_t *nul = json_stringn("abc\0def", 7);
    REJECT("/customerId", nul, "format");
    ACCEPT("/customerId", json_string("-_:.~$aZ09"));
}

/* ---- customerTaxId: text, minLength 9, maxLength 11, optional ---- */

static void test_customer_tax_id_optional(void **state)
{
    (void)state;
    /* the seed sample has none */
    ACCEPT("/customerTaxId", json_string("123-45-6789"));
    ACCEPT("/customerTaxId", json_string("123456789"));
}

static void test_customer_tax_id_type(void **state)
{
    (void)state;
    REJECT("/customerTaxId", json_integer(123456789), "type");
}

static void test_customer_tax_id_min_length(void **state)
{
    (void)state;
    REJECT("/customerTaxId", json_string("12345678"), "minLength");
}

static void test_customer_tax_id_max_length(void **state)
{
    (void)state;
    REJECT("/customerTaxId", json_string("123-45-67890"), "maxLength");
}

/* ---- cardId: the seed's row is cut off after "The identifier of the card. A": a string ---- */

static void test_card_id_optional_string(void **state)
{
    (void)state;
    ACCEPT("/cardId", NULL);
    ACCEPT("/cardId", json_string(""));
    REJECT("/cardId", json_integer(1), "type");
}

/* ---- pan: required, minLength 14, maxLength 19, ^\d{1}[0-9 ]{12,17}\d{1}$ ---- */

static void test_pan_required(void **state)
{
    (void)state;
    REQUIRED("/pan");
}

static void test_pan_type(void **state)
{
    (void)state;
    REJECT("/pan", json_integer(4242424242424242), "type");
    REJECT("/pan", json_null(), "type");
}

static void test_pan_too_short(void **state)
{
    (void)state;
    REJECT2("/pan", json_string("4242424242424"), "minLength", "format"); /* 13 */
    REJECT2("/pan", json_string(""), "minLength", "format");
    ACCEPT("/pan", json_string("42424242424242")); /* 14 */
}

static void test_pan_too_long(void **state)
{
    (void)state;
    REJECT2("/pan", json_string("42424242424242424242"), "maxLength", "format"); /* 20 */
    REJECT2("/pan", json_string("4242 4242 4242 4242 4"), "maxLength", "format");
    ACCEPT("/pan", json_string("4242424242424242424")); /* 19 */
}

static void test_pan_letters(void **state)
{
    (void)state;
    REJECT("/pan", json_string("4242424242424a42"), "format");
    REJECT("/pan", json_string("A242424242424242"), "format");
    REJECT("/pan", json_string("4242-4242-4242-4242"), "format");
    REJECT("/pan", json_string("4242\t4242424242424"), "format");
    /* full-width digits are not \d */
    REJECT("/pan", json_string("４２４２４２４２４２４２４２４２"), "format");
}

static void test_pan_leading_or_trailing_space(void **state)
{
    (void)state;
    REJECT("/pan", json_string(" 4242424242424242"), "format");
    REJECT("/pan", json_string("4242424242424242 "), "format");
    REJECT("/pan", json_string(" 424242424242424 "), "format");
}

static void test_pan_spaces_inside_allowed(void **state)
{
    (void)state;
    ACCEPT("/pan", json_string("4242 4242 4242 4242"));
    ACCEPT("/pan", json_string("4242  4242424242 42"));
    ACCEPT("/pan", json_string("4            2")); /* the pattern allows it: 14 characters */
}

static void test_check_card_pan(void **state)
{
    (void)state;
    assert_true(check_card_pan("4242424242424242", 16));
    assert_true(check_card_pan("4242 4242 4242 4242", 19));
    assert_false(check_card_pan("4242424242424242", 13));
    assert_false(check_card_pan("4242424242424242", 0));
    assert_false(check_card_pan("4242424242424242 ", 17));
    assert_false(check_card_pan("42424242424242424242", 20));
}

/* ---- activityType, reasonCode, location: required enums ---- */

static void test_activity_type_required(void **state)
{
    (void)state;
    REQUIRED("/activityType");
}

static void test_activity_type_type(void **state)
{
    (void)state;
    REJECT("/activityType", json_true(), "type");
}

static void test_activity_type_enum(void **state)
{
    (void)state;
    for (const char *const *e = card_activity_types; *e; e++)
        ACCEPT("/activityType", json_string(*e));
    REJECT("/activityType", json_string("Approved"), "enum");
    REJECT("/activityType", json_string(""), "enum");
}

static void test_reason_code_required(void **state)
{
    (void)state;
    REQUIRED("/reasonCode");
}

static void test_reason_code_type(void **state)
{
    (void)state;
    REJECT("/reasonCode", json_integer(51), "type");
}

static void test_reason_code_enum(void **state)
{
    (void)state;
    for (const char *const *e = card_activity_reason_codes; *e; e++)
        ACCEPT("/reasonCode", json_string(*e));
    REJECT("/reasonCode", json_string("insufficientFunds"), "enum");
}

static void test_location_required(void **state)
{
    (void)state;
    REQUIRED("/location");
}

static void test_location_type(void **state)
{
    (void)state;
    REJECT("/location", json_array(), "type");
}

static void test_location_enum(void **state)
{
    (void)state;
    for (const char *const *e = card_activity_locations; *e; e++)
        ACCEPT("/location", json_string(*e));
    REJECT("/location", json_string("online"), "enum");
}

/* ---- reason: text, minLength 1, maxLength 400 (characters), optional ---- */

static void test_reason_optional(void **state)
{
    (void)state;
    ACCEPT("/reason", NULL);
}

static void test_reason_type(void **state)
{
    (void)state;
    REJECT("/reason", json_integer(1), "type");
}

static void test_reason_min_length(void **state)
{
    (void)state;
    REJECT("/reason", json_string(""), "minLength");
    ACCEPT("/reason", json_string("x"));
}

static void test_reason_max_length(void **state)
{
    (void)state;
    REJECT("/reason", repeat("x", 401), "maxLength");
    ACCEPT("/reason", repeat("x", 400));
    ACCEPT("/reason", repeat("é", 400)); /* characters, not bytes */
    REJECT("/reason", repeat("é", 401), "maxLength");
}

/* =================== amount (money) =================== */

static void test_amount_optional_and_open_inside(void **state)
{
    (void)state;
    ACCEPT("/amount", NULL);
    ACCEPT("/amount", json_object()); /* the seed marks neither value nor currency required */
    ACCEPT("/amount/currency", NULL);
    ACCEPT("/amount/value", NULL);
}

static void test_amount_type(void **state)
{
    (void)state;
    REJECT("/amount", json_string("5555.55"), "type");
    REJECT("/amount", json_real(5555.55), "type");
}

static void test_amount_unknown_property(void **state)
{
    (void)state;
    REJECT("/amount/sign", json_string("-"), "unevaluatedProperties");
}

static void test_amount_value_type(void **state)
{
    (void)state;
    REJECT("/amount/value", json_real(5555.55), "type");
}

/* ^(0|[1-9][0-9]*)\.[0-9][0-9]$ */
static void test_amount_value_pattern(void **state)
{
    (void)state;
    static const char *const bad[] = {"5555.5", "5555.555", "5555", "5555.", ".55", "-5.00", "+5.00",
                                      "05.00", "00.00", "5,555.55", "5 555.55", "1e3.00", "5555.5a", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        REJECT("/amount/value", json_string(bad[i]), "format");
    ACCEPT("/amount/value", json_string("0.00"));
    ACCEPT("/amount/value", json_string("0.05"));
    ACCEPT("/amount/value", json_string("10.00"));
}

static void test_amount_value_max_length(void **state)
{
    (void)state;
    ACCEPT("/amount/value", json_string("1234567890123.00")); /* 16 */
    REJECT("/amount/value", json_string("12345678901234.00"), "maxLength");
}

static void test_amount_currency_type(void **state)
{
    (void)state;
    REJECT("/amount/currency", json_integer(840), "type");
}

static void test_amount_currency_min_length(void **state)
{
    (void)state;
    REJECT2("/amount/currency", json_string("US"), "minLength", "format");
}

static void test_amount_currency_max_length(void **state)
{
    (void)state;
    REJECT2("/amount/currency", json_string("USDT"), "maxLength", "format");
}

/* ^[A-Z]{3}$ (the pattern only: an unlisted but well-formed code such as XYZ passes) */
static void test_amount_currency_pattern(void **state)
{
    (void)state;
    REJECT("/amount/currency", json_string("usd"), "format");
    REJECT("/amount/currency", json_string("U$D"), "format");
    REJECT("/amount/currency", json_string("840"), "format");
    ACCEPT("/amount/currency", json_string("EUR"));
    ACCEPT("/amount/currency", json_string("XYZ"));
}

/* =================== merchant (cardActivityMerchant) =================== */

static void test_merchant_optional(void **state)
{
    (void)state;
    ACCEPT("/merchant", NULL);
    ACCEPT("/merchant", json_object());
}

static void test_merchant_type(void **state)
{
    (void)state;
    REJECT("/merchant", json_string("Amazon"), "type");
}

static void test_merchant_unknown_property(void **state)
{
    (void)state;
    REJECT("/merchant/mcc", json_string("5942"), "unevaluatedProperties");
}

static void test_merchant_category_type(void **state)
{
    (void)state;
    REJECT("/merchant/category", json_integer(5942), "type");
}

static void test_merchant_category_enum(void **state)
{
    (void)state;
    for (const char *const *e = card_merchant_categories; *e; e++)
        ACCEPT("/merchant/category", json_string(*e));
    REJECT("/merchant/category", json_string("shopping.books"), "enum");
    REJECT("/merchant/category", json_string("Shopping"), "enum");
    REJECT("/merchant/category", json_string("shopping."), "enum");
}

static void test_merchant_name_type(void **state)
{
    (void)state;
    REJECT("/merchant/name", json_false(), "type");
}

static void test_merchant_name_min_length(void **state)
{
    (void)state;
    REJECT("/merchant/name", json_string(""), "minLength");
}

static void test_merchant_name_max_length(void **state)
{
    (void)state;
    REJECT("/merchant/name", repeat("m", 201), "maxLength");
    ACCEPT("/merchant/name", repeat("m", 200));
}

/* =================== merchant address (partialAddress) =================== */

static void test_address_optional_and_partial(void **state)
{
    (void)state;
    ACCEPT(ADDR, NULL);
    ACCEPT(ADDR, json_object()); /* "Partial addresses do not require any property" */
    ACCEPT(ADDR "/regionCode", NULL); /* US without a region: not enforced */
}

static void test_address_type(void **state)
{
    (void)state;
    REJECT(ADDR, json_string("1805 Tiburon Dr."), "type");
}

static void test_address_unknown_property(void **state)
{
    (void)state;
    REJECT(ADDR "/zip", json_string("98101"), "unevaluatedProperties");
    REJECT(ADDR "/address3", json_string("x"), "unevaluatedProperties");
}

static void test_address1_type(void **state)
{
    (void)state;
    REJECT(ADDR "/address1", json_integer(1805), "type");
}

static void test_address1_max_length(void **state)
{
    (void)state;
    ACCEPT(ADDR "/address1", repeat("a", 35));
    REJECT(ADDR "/address1", repeat("a", 36), "maxLength");
    ACCEPT(ADDR "/address1", json_string("")); /* no minLength */
}

static void test_address2_type(void **state)
{
    (void)state;
    REJECT(ADDR "/address2", json_array(), "type");
}

static void test_address2_max_length(void **state)
{
    (void)state;
    ACCEPT(ADDR "/address2", repeat("b", 35));
    REJECT(ADDR "/address2", repeat("b", 36), "maxLength");
}

static void test_locality_type(void **state)
{
    (void)state;
    REJECT(ADDR "/locality", json_null(), "type");
}

static void test_locality_max_length(void **state)
{
    (void)state;
    ACCEPT(ADDR "/locality", repeat("ü", 30));
    REJECT(ADDR "/locality", repeat("l", 31), "maxLength");
}

static void test_country_code_type(void **state)
{
    (void)state;
    REJECT(ADDR "/countryCode", json_integer(840), "type");
}

static void test_country_code_min_length(void **state)
{
    (void)state;
    REJECT2(ADDR "/countryCode", json_string("U"), "minLength", "format");
}

static void test_country_code_max_length(void **state)
{
    (void)state;
    REJECT2(ADDR "/countryCode", json_string("USA"), "maxLength", "format");
}

/* ^[A-Za-z]{2}$ */
static void test_country_code_pattern(void **state)
{
    (void)state;
    REJECT(ADDR "/countryCode", json_string("U1"), "format");
    REJECT(ADDR "/countryCode", json_string("U "), "format");
    REJECT(ADDR "/countryCode", json_string("ÜS"), "format");
    ACCEPT(ADDR "/countryCode", json_string("us"));
}

static void test_region_code_type(void **state)
{
    (void)state;
    REJECT(ADDR "/regionCode", json_integer(53), "type");
}

static void test_region_code_min_length(void **state)
{
    (void)state;
    REJECT2(ADDR "/regionCode", json_string("W"), "minLength", "format");
}

static void test_region_code_max_length(void **state)
{
    (void)state;
    REJECT2(ADDR "/regionCode", json_string("WAS"), "maxLength", "format");
}

/* ^[A-Za-z]{2}$ */
static void test_region_code_pattern(void **state)
{
    (void)state;
    REJECT(ADDR "/regionCode", json_string("W1"), "format");
    REJECT(ADDR "/regionCode", json_string("W-"), "format");
    ACCEPT(ADDR "/regionCode", json_string("wa"));
}

static void test_region_name_type(void **state)
{
    (void)state;
    REJECT_NAMED(ADDR "/regionName", json_integer(1), "type");
}

static void test_region_name_min_length(void **state)
{
    (void)state;
    REJECT_NAMED(ADDR "/regionName", json_string("W"), "minLength");
    ACCEPT_NAMED(ADDR "/regionName", json_string("Wa"));
}

static void test_region_name_max_length(void **state)
{
    (void)state;
    REJECT_NAMED(ADDR "/regionName", repeat("r", 21), "maxLength");
    ACCEPT_NAMED(ADDR "/regionName", repeat("r", 20));
}

static void test_region_code_and_name_mutually_exclusive(void **state)
{
    (void)state;
    REJECT(ADDR "/regionName", json_string("Washington"), "mutuallyExclusive");
    /* presence is what counts, even when the other is itself invalid */
    assert_verdict(item_set(sample(), ADDR "/regionName", json_integer(1)), 2, ITEM ADDR "/regionName", "type",
                   ITEM ADDR "/regionName", "mutuallyExclusive");
    ACCEPT_NAMED(ADDR "/countryCode", json_string("CA"));
}

static void test_postal_code_type(void **state)
{
    (void)state;
    REJECT(ADDR "/postalCode", json_integer(28403), "type");
}

static void test_postal_code_min_length(void **state)
{
    (void)state;
    REJECT2(ADDR "/postalCode", json_string("2"), "minLength", "format");
    ACCEPT(ADDR "/postalCode", json_string("28"));
}

static void test_postal_code_max_length(void **state)
{
    (void)state;
    REJECT(ADDR "/postalCode", repeat("9", 21), "maxLength");
    ACCEPT(ADDR "/postalCode", repeat("9", 20));
}

/* [0-9A-Za-z][- 0-9A-Za-z]{0,18}[0-9A-Za-z], unanchored as the seed prints it */
static void test_postal_code_pattern(void **state)
{
    (void)state;
    static const char *const bad[] = {"!!", "--", "  ", "a!b!", "-a-", "ÄÖ"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        REJECT(ADDR "/postalCode", json_string(bad[i]), "format");
    static const char *const good[] = {"28403", "28403-1234", "SW1A 1AA", "D02 X285", "ab", "A-1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        ACCEPT(ADDR "/postalCode", json_string(good[i]));
    /* unanchored: a matching run anywhere in the string is enough */
    ACCEPT(ADDR "/postalCode", json_string("#28403"));
    ACCEPT(ADDR "/postalCode", json_string("A1!"));
}

/* =================== occurredAt: RFC 3339 date-time, UTC =================== */

static void test_occurred_at_required(void **state)
{
    (void)state;
    REQUIRED("/occurredAt");
}

static void test_occurred_at_type(void **state)
{
    (void)state;
    REJECT("/occurredAt", json_integer(1727769362375), "type");
}

static void test_occurred_at_min_length(void **state)
{
    (void)state;
    REJECT2("/occurredAt", json_string("2024-10-01T07:56Z"), "minLength", "format");
    REJECT2("/occurredAt", json_string("2024-10-01"), "minLength", "format");
    ACCEPT("/occurredAt", json_string("2024-10-01T07:56:02Z")); /* 20 */
}

static void test_occurred_at_max_length(void **state)
{
    (void)state;
    REJECT2("/occurredAt", json_string("2024-10-01T07:56:02.1234567890Z"), "maxLength", "format");
    ACCEPT("/occurredAt", json_string("2024-10-01T07:56:02.123456789Z")); /* 30 */
}

static void test_occurred_at_utc_only(void **state)
{
    (void)state;
    REJECT("/occurredAt", json_string("2024-10-01T07:56:02.375"), "format");
    REJECT("/occurredAt", json_string("2024-10-01T07:56:02.375+00:00"), "format");
    REJECT("/occurredAt", json_string("2024-10-01T07:56:02-05:00"), "format");
    REJECT("/occurredAt", json_string("2024-10-01T07:56:02.375ZZ"), "format");
}

static void test_occurred_at_calendar(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2024-13-01T07:56:02.375Z", "2024-00-01T07:56:02.375Z", "2024-10-00T07:56:02.375Z",
        "2024-10-32T07:56:02.375Z", "2024-02-30T07:56:02.375Z", "2023-02-29T07:56:02.375Z",
        "1900-02-29T07:56:02.375Z", "2024-04-31T07:56:02.375Z", "2024-10-01T24:00:00.000Z",
        "2024-10-01T07:60:02.375Z", "2024-10-01T07:56:61.375Z", "2024-10-01T12:00:60Z",
        "2024-10-01T23:58:60Z",     "2024-1-01T07:56:02.375Z ", "2024-10-01T07:56:02.3x5Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        REJECT("/occurredAt", json_string(bad[i]), "format");
    ACCEPT("/occurredAt", json_string("2024-02-29T07:56:02.375Z"));
    ACCEPT("/occurredAt", json_string("2000-02-29T00:00:00Z"));
    ACCEPT("/occurredAt", json_string("2024-12-31T23:59:60Z")); /* a leap second */
    ACCEPT("/occurredAt", json_string("2024-10-31T23:59:59.999Z"));
}

static void test_occurred_at_fraction(void **state)
{
    (void)state;
    REJECT("/occurredAt", json_string("2024-10-01T07:56:02.Z"), "format");
    REJECT("/occurredAt", json_string("2024-10-01T07:56:02,375Z"), "format");
    REJECT("/occurredAt", json_string("2024-10-01T07:56:02..375Z"), "format");
    ACCEPT("/occurredAt", json_string("2024-10-01T07:56:02.3Z"));
}

/* RFC 3339 section 5.6: "T" and "Z" may alternatively be lower case. No space or other
 * separator for "T". */
static void test_occurred_at_case_and_separator(void **state)
{
    (void)state;
    ACCEPT("/occurredAt", json_string("2024-10-01t07:56:02.375z"));
    ACCEPT("/occurredAt", json_string("2024-10-01T07:56:02.375z"));
    REJECT("/occurredAt", json_string("2024-10-01 07:56:02.375Z"), "format");
    REJECT("/occurredAt", json_string("2024-10-01_07:56:02.375Z"), "format");
}

static void test_check_is_datetime_utc(void **state)
{
    (void)state;
    static const char *const good[] = {"2024-10-01T07:56:02.375Z", "0000-01-01T00:00:00Z",
                                       "9999-12-31T23:59:59.999999999Z", "2400-02-29T12:00:00Z"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        assert_true(check_is_datetime_utc(good[i], strlen(good[i])));
    static const char *const bad[] = {"2100-02-29T12:00:00Z", "２０２４-10-01T07:56:02Z", "2024-10-01T07:56:02Z\n",
                                      "+2024-10-01T07:56:02Z", "2024-10-01T7:56:02.375Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_false(check_is_datetime_utc(bad[i], strlen(bad[i])));
    /* bounded by len, not by a terminator */
    assert_false(check_is_datetime_utc("2024-10-01T07:56:02Z", 19));
    assert_false(check_is_datetime_utc("2024-10-01T07:56:02.", 20));
}

/* =================== several violations, the cap, card data =================== */

static void test_several_violations_in_different_items(void **state)
{
    (void)state;
    json_t *root = sample();
    json_t *items = json_object_get(root, "items");
    for (int i = 0; i < 3; i++)
        assert_int_equal(json_array_append_new(items, json_deep_copy(json_array_get(items, 0))), 0);
    tu_json_set(json_array_get(items, 1), "/pan", json_string("4242"));
    tu_json_set(json_array_get(items, 2), "/location", NULL);
    tu_json_set(json_array_get(items, 2), "/merchant/address/regionName", json_string("Washington"));
    tu_json_set(json_array_get(items, 3), "/amount/value", json_string("1.0"));
    tu_json_set(json_array_get(items, 3), "/extra", json_null());
    tu_json_set(root, "/institutionId", json_string("t"));
    assert_verdict(root, 8, "/institutionId", "minLength", "/institutionId", "format", "/items/1/pan", "minLength",
                   "/items/1/pan", "format", "/items/2/location", "required", "/items/2/merchant/address/regionName",
                   "mutuallyExclusive", "/items/3/amount/value", "format", "/items/3/extra", "unevaluatedProperties");
}

/* More violations than the cap: the first CHECK_MAX_VIOLATIONS are kept, the rest counted. */
static void test_violation_cap(void **state)
{
    (void)state;
    json_t *root = sample();
    json_t *items = json_object_get(root, "items");
    json_array_clear(items);
    json_t *bad = tu_json("{\"pan\": \"x\", \"activityType\": \"declined\", \"reasonCode\": \"cardFrozen\","
                          " \"occurredAt\": \"2024-10-01T07:56:02Z\", \"location\": \"atm\"}");
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(json_array_append(items, bad), 0);
    json_decref(bad);
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_card_activity(root, &res);
    assert_int_equal(res.n, CHECK_MAX_VIOLATIONS);
    assert_int_equal(res.n + res.dropped, 2000); /* minLength + format for each PAN */
    assert_string_equal(res.v[0].pointer, "/items/0/pan");
    check_result_clear(&res);
    json_decref(root);
}

static const char *const secrets[] = {"4242424242424242", "4242 4242", "4242", "123-45-6789", "6789",
                                      "123456789", "12345", "5555", NULL};

/* No violation of a body full of card numbers and tax ids in every wrong place quotes one
 * of them, in its message or in its pointer. */
static void test_no_card_data_in_violations(void **state)
{
    (void)state;
    json_t *root = tu_json(
        "{\"institutionId\": \"4242424242424242\", \"4242424242424242\": 1, \"123-45-6789\": 2,"
        " \"items\": ["
        "  {\"customerId\": \"4242424242424242 \", \"customerTaxId\": \"123-45-67890\", \"cardId\": 4242424242424242,"
        "   \"pan\": \"4242424242424242X\", \"activityType\": \"4242424242424242\", \"reasonCode\": \"123-45-6789\","
        "   \"reason\": 123456789, \"amount\": {\"value\": \"4242424242424242\", \"currency\": \"123-45-6789\","
        "   \"4242 4242 4242 4242\": 1}, \"merchant\": {\"category\": \"4242424242424242\", \"name\": 123456789,"
        "   \"address\": {\"postalCode\": \"4242424242424242!!!!!\", \"regionCode\": \"123-45-6789\","
        "   \"regionName\": \"4242424242424242 4242424242424242\", \"countryCode\": \"123456789\","
        "   \"123456789\": 0}}, \"occurredAt\": \"4242424242424242\", \"location\": \"123456789\", \"x4242424242424242\": 0},"
        "  {\"pan\": \"4242 4242 4242 4242 4\", \"customerTaxId\": 123456789, \"occurredAt\": \"123-45-6789\","
        "   \"activityType\": \"approved\", \"reasonCode\": \"cardFrozen\", \"location\": \"atm\"},"
        "  {\"pan\": \"555555555555444\", \"activityType\": \"approved\", \"reasonCode\": \"cardFrozen\","
        "   \"location\": \"atm\", \"occurredAt\": \"2024-10-01T07:56:02Z\", \"customerTaxId\": \"12345\"}"
        " ]}");
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_card_activity(root, &res);
    assert_true(res.n >= 30);
    assert_int_equal(res.dropped, 0);
    for (size_t i = 0; i < res.n; i++)
        for (const char *const *s = secrets; *s; s++) {
            assert_not_contains(res.v[i].message, *s);
            assert_not_contains(res.v[i].pointer, *s);
        }
    /* unknown names that look like card or tax numbers are masked, yet still located */
    assert_violation(&res, "/****************", "unevaluatedProperties");
    assert_violation(&res, "/***-**-****", "unevaluatedProperties");
    assert_violation(&res, "/items/0/x****************", "unevaluatedProperties");
    assert_violation(&res, "/items/0/amount/**** **** **** ****", "unevaluatedProperties");
    assert_violation(&res, "/items/0/merchant/address/*********", "unevaluatedProperties");
    assert_violation(&res, "/items/0/pan", "format");
    assert_violation(&res, "/items/1/customerTaxId", "type");
    assert_violation(&res, "/items/2/customerTaxId", "minLength");
    check_result_clear(&res);
    json_decref(root);
}

/* Short digit runs (at most 8) are not card data and stay as they are. */
static void test_short_digit_names_not_masked(void **state)
{
    (void)state;
    REJECT("/12345678", json_true(), "unevaluatedProperties");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_sample_is_valid),
        cmocka_unit_test(test_maximal_items_are_valid),
        cmocka_unit_test(test_fixture_verdicts),
        cmocka_unit_test(test_every_fixture_has_a_verdict),
        cmocka_unit_test(test_enum_tables_match_the_seed),

        cmocka_unit_test(test_body_not_an_object),
        cmocka_unit_test(test_body_unknown_property),
        cmocka_unit_test(test_institution_id_required),
        cmocka_unit_test(test_institution_id_type),
        cmocka_unit_test(test_institution_id_min_length),
        cmocka_unit_test(test_institution_id_max_length),
        cmocka_unit_test(test_institution_id_pattern),
        cmocka_unit_test(test_items_required),
        cmocka_unit_test(test_items_type),
        cmocka_unit_test(test_items_min_items),
        cmocka_unit_test(test_items_max_items),
        cmocka_unit_test(test_item_type),

        cmocka_unit_test(test_item_unknown_property),
        cmocka_unit_test(test_customer_id_optional),
        cmocka_unit_test(test_customer_id_type),
        cmocka_unit_test(test_customer_id_min_length),
        cmocka_unit_test(test_customer_id_max_length),
        cmocka_unit_test(test_customer_id_pattern),
        cmocka_unit_test(test_customer_tax_id_optional),
        cmocka_unit_test(test_customer_tax_id_type),
        cmocka_unit_test(test_customer_tax_id_min_length),
        cmocka_unit_test(test_customer_tax_id_max_length),
        cmocka_unit_test(test_card_id_optional_string),
        cmocka_unit_test(test_pan_required),
        cmocka_unit_test(test_pan_type),
        cmocka_unit_test(test_pan_too_short),
        cmocka_unit_test(test_pan_too_long),
        cmocka_unit_test(test_pan_letters),
        cmocka_unit_test(test_pan_leading_or_trailing_space),
        cmocka_unit_test(test_pan_spaces_inside_allowed),
        cmocka_unit_test(test_check_card_pan),
        cmocka_unit_test(test_activity_type_required),
        cmocka_unit_test(test_activity_type_type),
        cmocka_unit_test(test_activity_type_enum),
        cmocka_unit_test(test_reason_code_required),
        cmocka_unit_test(test_reason_code_type),
        cmocka_unit_test(test_reason_code_enum),
        cmocka_unit_test(test_location_required),
        cmocka_unit_test(test_location_type),
        cmocka_unit_test(test_location_enum),
        cmocka_unit_test(test_reason_optional),
        cmocka_unit_test(test_reason_type),
        cmocka_unit_test(test_reason_min_length),
        cmocka_unit_test(test_reason_max_length),

        cmocka_unit_test(test_amount_optional_and_open_inside),
        cmocka_unit_test(test_amount_type),
        cmocka_unit_test(test_amount_unknown_property),
        cmocka_unit_test(test_amount_value_type),
        cmocka_unit_test(test_amount_value_pattern),
        cmocka_unit_test(test_amount_value_max_length),
        cmocka_unit_test(test_amount_currency_type),
        cmocka_unit_test(test_amount_currency_min_length),
        cmocka_unit_test(test_amount_currency_max_length),
        cmocka_unit_test(test_amount_currency_pattern),

        cmocka_unit_test(test_merchant_optional),
        cmocka_unit_test(test_merchant_type),
        cmocka_unit_test(test_merchant_unknown_property),
        cmocka_unit_test(test_merchant_category_type),
        cmocka_unit_test(test_merchant_category_enum),
        cmocka_unit_test(test_merchant_name_type),
        cmocka_unit_test(test_merchant_name_min_length),
        cmocka_unit_test(test_merchant_name_max_length),

        cmocka_unit_test(test_address_optional_and_partial),
        cmocka_unit_test(test_address_type),
        cmocka_unit_test(test_address_unknown_property),
        cmocka_unit_test(test_address1_type),
        cmocka_unit_test(test_address1_max_length),
        cmocka_unit_test(test_address2_type),
        cmocka_unit_test(test_address2_max_length),
        cmocka_unit_test(test_locality_type),
        cmocka_unit_test(test_locality_max_length),
        cmocka_unit_test(test_country_code_type),
        cmocka_unit_test(test_country_code_min_length),
        cmocka_unit_test(test_country_code_max_length),
        cmocka_unit_test(test_country_code_pattern),
        cmocka_unit_test(test_region_code_type),
        cmocka_unit_test(test_region_code_min_length),
        cmocka_unit_test(test_region_code_max_length),
        cmocka_unit_test(test_region_code_pattern),
        cmocka_unit_test(test_region_name_type),
        cmocka_unit_test(test_region_name_min_length),
        cmocka_unit_test(test_region_name_max_length),
        cmocka_unit_test(test_region_code_and_name_mutually_exclusive),
        cmocka_unit_test(test_postal_code_type),
        cmocka_unit_test(test_postal_code_min_length),
        cmocka_unit_test(test_postal_code_max_length),
        cmocka_unit_test(test_postal_code_pattern),

        cmocka_unit_test(test_occurred_at_required),
        cmocka_unit_test(test_occurred_at_type),
        cmocka_unit_test(test_occurred_at_min_length),
        cmocka_unit_test(test_occurred_at_max_length),
        cmocka_unit_test(test_occurred_at_utc_only),
        cmocka_unit_test(test_occurred_at_calendar),
        cmocka_unit_test(test_occurred_at_fraction),
        cmocka_unit_test(test_occurred_at_case_and_separator),
        cmocka_unit_test(test_check_is_datetime_utc),

        cmocka_unit_test(test_several_violations_in_different_items),
        cmocka_unit_test(test_violation_cap),
        cmocka_unit_test(test_no_card_data_in_violations),
        cmocka_unit_test(test_short_digit_names_not_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
