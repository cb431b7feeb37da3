/* Unit tests of the Riverty customer-account event schema (include/issuerhook/check_riverty.h):
 * the body of POST /api/v3/customer-account/{accountNumber}/event (check_riverty_event),
 * the path's account number (check_riverty_account) and the obsolete conversation
 * languages (check_riverty_obsolete_language).
 *
 * The field rules come from the seed (riverty-customer-account-event-api.txt), the rest
 * from the "Riverty customer-account event" section of the contract (API.md). The seed's
 * request sample is not valid as published (every string is the word "string"):
 * tests/fixtures/riverty/valid/seed-sample.json is that sample with real values, and the
 * sample as published is tests/fixtures/riverty/invalid/seed-sample-as-published.json.
 * Invalid events are the sample with exactly one rule broken, expecting exactly one
 * violation at its JSON Pointer with its rule. Every fixture file is checked against
 * tests/fixtures/riverty/verdicts.json. */
#include "testutil.h"

#include <dirent.h>

#include "issuerhook/check_riverty.h"

#define SAMPLE "riverty/valid/seed-sample.json"
#define MINIMAL "riverty/valid/minimal.json"
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

static json_t *sample(void)
{
    return tu_fixture(SAMPLE);
}

static size_t count_of(const char *const *values)
{
    size_t n = 0;
    while (values[n])
        n++;
    return n;
}

static bool listed(const char *const *values, const char *s)
{
    for (; *values; values++)
        if (strcmp(*values, s) == 0)
            return true;
    return false;
}

/* A string of n copies of unit (n * strlen(unit) bytes); caller frees. */
static char *repeat(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(n * ul + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ul, unit, ul);
    s[n * ul] = '\0';
    return s;
}

/* Checks b (consumed) with check_riverty_event: exactly one violation (want_ptr,
 * want_rule), or none when want_ptr is NULL. what, when given, names the case on failure. */
static void event_verdict(json_t *b, const char *want_ptr, const char *want_rule, const char *what,
                          const char *file, int line)
{
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_riverty_event(b, &res);
    bool ok = want_ptr ? res.n == 1 && !res.dropped && tu_find_violation(&res, want_ptr, want_rule)
                       : res.n == 0 && !res.dropped;
    if (!ok && what)
        print_error("case: %s\n", what);
    if (want_ptr)
        tu_assert_only_violation(&res, want_ptr, want_rule, file, line);
    else
        tu_assert_violation_count(&res, 0, file, line);
    check_result_clear(&res);
    json_decref(b);
}

/* b (consumed) has no violation. */
#define assert_event_valid(b) event_verdict((b), NULL, NULL, NULL, __FILE__, __LINE__)
#define assert_event_valid_case(b, what) event_verdict((b), NULL, NULL, (what), __FILE__, __LINE__)
/* b (consumed) has exactly one violation: rule at ptr. */
#define assert_event_only(b, ptr, rule) event_verdict((b), (ptr), (rule), NULL, __FILE__, __LINE__)
#define assert_event_only_case(b, ptr, rule, what) event_verdict((b), (ptr), (rule), (what), __FILE__, __LINE__)

/* The sample with the top-level pointer set to value (stolen; NULL: deleted) has exactly
 * one violation, rule at want_ptr. */
#define assert_rejected(pointer, value, want_ptr, want_rule)                                 \
    do {                                                                                     \
        json_t *b_ = sample();                                                               \
        tu_json_set(b_, (pointer), (value));                                                 \
        event_verdict(b_, (want_ptr), (want_rule), (pointer), __FILE__, __LINE__);           \
    } while (0)
/* The sample without pointer has exactly one violation: "required" at pointer. */
#define assert_required(pointer) assert_rejected((pointer), NULL, (pointer), "required")
/* The sample with pointer set to value (stolen; NULL: deleted) has no violation. */
#define assert_accepted(pointer, value)                                                      \
    do {                                                                                     \
        json_t *b_ = sample();                                                               \
        tu_json_set(b_, (pointer), (value));                                                 \
        event_verdict(b_, NULL, NULL, (pointer), __FILE__, __LINE__);                        \
    } while (0)

/* The sample with member name of items[0] set to value (stolen; NULL: deleted). */
static json_t *with_item_member(const char *name, json_t *value)
{
    json_t *b = sample();
    json_t *item = json_array_get(json_object_get(b, "items"), 0);
    assert_true(json_is_object(item));
    if (value)
        assert_int_equal(json_object_set_new(item, name, value), 0);
    else
        assert_int_equal(json_object_del(item, name), 0);
    return b;
}

/* The sample with items[0].name set to value (stolen; NULL: deleted) has exactly one
 * violation: rule at /items/0/name; with rule NULL, none. */
#define assert_item_verdict(name, value, rule) item_verdict((name), (value), (rule), __FILE__, __LINE__)

static void item_verdict(const char *name, json_t *value, const char *rule, const char *file, int line)
{
    char ptr[128];
    snprintf(ptr, sizeof(ptr), "/items/0/%s", name);
    event_verdict(with_item_member(name, value), rule ? ptr : NULL, rule, ptr, file, line);
}

/* The sample with time set to t: accepted (want true) or one "format" violation at /time. */
static void time_verdict(const char *t, bool want, const char *file, int line)
{
    json_t *b = sample();
    tu_json_set(b, "/time", json_string(t));
    event_verdict(b, want ? NULL : "/time", want ? NULL : "format", t, file, line);
}
#define assert_time_accepted(t) time_verdict((t), true, __FILE__, __LINE__)
#define assert_time_refused(t) time_verdict((t), false, __FILE__, __LINE__)

/* got (NULL-terminated) is exactly want[0..n), in order; what names the list. */
static void assert_list_is(const char *const *got, const char *const *want, size_t n, const char *what)
{
    bool same = count_of(got) == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(got[i], want[i]) == 0;
    if (!same) {
        print_error("%s: the exported list is not the seed's\n  exported:", what);
        for (size_t i = 0; got[i]; i++)
            print_error(" %s", got[i]);
        print_error("\n  seed:    ");
        for (size_t i = 0; i < n; i++)
            print_error(" %s", want[i]);
        print_error("\n");
        fail();
    }
}

/* The seed's enums, split at their words. The seed prints each enum as one word
 * ("InfoPurchaseWithdrawal..."); where a capital could start a value or continue one,
 * the split follows Riverty's (formerly AfterPay's) published enum for the same
 * operation, "Add event to customer account request". */
static const char *const seed_event_types[] = {"Info",         "Purchase",        "Withdrawal",
                                               "WithdrawalCorrection", "WithdrawalCommission", "InterestCorrection"};
static const char *const seed_category_types[] = {"NotSet", "Charge",   "Sales",    "Deposit",     "Payout",
                                                  "Transfer", "Unit",   "Consumer", "Cancel",      "Clearing",
                                                  "CardDeposit", "CardClearing"};
static const char *const seed_currencies[] = {"EUR", "NOK", "SEK", "DKK", "CHF"};
static const char *const seed_countries[] = {"NO", "SE", "FI", "DK", "DE", "AT", "CH", "NL", "BE"};
static const char *const seed_languages[] = {"NO", "SV", "SE", "FI", "DA", "DK", "EN", "DE", "NL", "FR"};

/* Every enum-valued member, with the exported list of its values. */
static const struct {
    const char *pointer;
    const char *const *values;
} enums[] = {
    {"/eventType", riverty_event_types},
    {"/categoryType", riverty_category_types},
    {"/currency", riverty_currencies},
    {"/countryCode", riverty_countries},
    {"/conversationLanguage", riverty_languages},
};

/* =================== valid events =================== */

/* The seed's sample with every member of the event and of an item, made valid. */
static void test_seed_sample_is_valid(void **state)
{
    (void)state;
    json_t *b = sample();
    assert_int_equal(json_object_size(b), 13);
    json_t *items = json_object_get(b, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_int_equal(json_object_size(json_array_get(items, 0)), 9);
    assert_event_valid(b);
}

/* Only the five required members. */
static void test_minimal_event_is_valid(void **state)
{
    (void)state;
    json_t *b = tu_fixture(MINIMAL);
    assert_int_equal(json_object_size(b), 5);
    assert_event_valid(b);
}

/* The sample without any optional member (event and item), one at a time and all at once. */
static void test_optional_members_absent_are_accepted(void **state)
{
    (void)state;
    static const char *const optional[] = {"/categoryType", "/nfcId",  "/posId", "/posName",
                                           "/totalTax",     "/totalAmount", "/items", "/accountTransactionId"};
    static const char *const item_optional[] = {"netAmount", "taxAmount", "discount", "grossAmount"};
    for (size_t i = 0; i < N_OF(optional); i++)
        assert_accepted(optional[i], NULL);
    for (size_t i = 0; i < N_OF(item_optional); i++)
        assert_item_verdict(item_optional[i], NULL, NULL);

    json_t *b = sample();
    json_t *item = json_array_get(json_object_get(b, "items"), 0);
    for (size_t i = 0; i < N_OF(item_optional); i++)
        assert_int_equal(json_object_del(item, item_optional[i]), 0);
    assert_int_equal(json_object_size(item), 5);
    json_incref(b);
    assert_event_valid(b); /* only the item's five required members */
    for (size_t i = 0; i < N_OF(optional); i++)
        tu_json_del(b, optional[i]);
    assert_int_equal(json_object_size(b), 5);
    assert_event_valid(b);
}

/* The exported enums are the seed's lists, value for value, in the seed's order. */
static void test_enum_arrays_are_the_seeds(void **state)
{
    (void)state;
    assert_list_is(riverty_event_types, seed_event_types, N_OF(seed_event_types), "eventType");
    assert_list_is(riverty_currencies, seed_currencies, N_OF(seed_currencies), "currency");
    assert_list_is(riverty_countries, seed_countries, N_OF(seed_countries), "countryCode");
    assert_list_is(riverty_languages, seed_languages, N_OF(seed_languages), "conversationLanguage");
    for (size_t l = 0; l < N_OF(enums); l++)
        for (size_t i = 0; enums[l].values[i]; i++)
            for (size_t j = i + 1; enums[l].values[j]; j++)
                if (strcmp(enums[l].values[i], enums[l].values[j]) == 0)
                    fail_msg("%s: duplicate enum value %s", enums[l].pointer, enums[l].values[i]);
}

/* The seed's "...TransferUnitConsumerCancel..." is two values, "Unit" and "Consumer"
 * (12 category types in all), as Riverty's/AfterPay's published enum lists them; not one
 * value "UnitConsumer". */
static void test_category_types_are_the_seeds(void **state)
{
    (void)state;
    assert_list_is(riverty_category_types, seed_category_types, N_OF(seed_category_types), "categoryType");
    assert_accepted("/categoryType", json_string("Unit"));
    assert_accepted("/categoryType", json_string("Consumer"));
    assert_rejected("/categoryType", json_string("UnitConsumer"), "/categoryType", "enum");
}

/* Every value of every enum, from the exported lists, is accepted where it belongs. */
static void test_every_enum_value_is_accepted(void **state)
{
    (void)state;
    size_t total = 0;
    for (size_t l = 0; l < N_OF(enums); l++) {
        for (const char *const *v = enums[l].values; *v; v++) {
            char what[96];
            snprintf(what, sizeof(what), "%s = %s", enums[l].pointer, *v);
            json_t *b = sample();
            tu_json_set(b, enums[l].pointer, json_string(*v));
            assert_event_valid_case(b, what);
            total++;
        }
    }
    /* 6 event types, 11 or 12 category types (see test_category_types_are_the_seeds),
     * 5 currencies, 9 countries, 10 languages */
    assert_true(total == 41 || total == 42);
}

/* The seed's own values as well (independently of the exported lists). */
static void test_every_seed_enum_value_is_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(seed_event_types); i++)
        assert_accepted("/eventType", json_string(seed_event_types[i]));
    for (size_t i = 0; i < N_OF(seed_currencies); i++)
        assert_accepted("/currency", json_string(seed_currencies[i]));
    for (size_t i = 0; i < N_OF(seed_countries); i++)
        assert_accepted("/countryCode", json_string(seed_countries[i]));
    for (size_t i = 0; i < N_OF(seed_languages); i++)
        assert_accepted("/conversationLanguage", json_string(seed_languages[i]));
}

/* The obsolete languages SE and DK are valid values (the route adds a notification). */
static void test_obsolete_languages_are_valid(void **state)
{
    (void)state;
    assert_accepted("/conversationLanguage", json_string("SE"));
    assert_accepted("/conversationLanguage", json_string("DK"));
}

/* The seed gives no range for the numbers: integers, fractions, zero and negative
 * amounts (corrections) are all numbers. */
static void test_numbers_of_any_kind_are_accepted(void **state)
{
    (void)state;
    assert_accepted("/totalAmount", json_integer(12));
    assert_accepted("/totalAmount", json_real(-12.5));
    assert_accepted("/totalTax", json_integer(0));
    assert_accepted("/totalTax", json_real(1e300));
    assert_item_verdict("quantity", json_real(0.25), NULL);
    assert_item_verdict("quantity", json_integer(0), NULL);
    assert_item_verdict("unitPrice", json_integer(-5), NULL);
    assert_item_verdict("discount", json_real(-0.0), NULL);
    assert_item_verdict("grossAmount", json_integer(1000000000000LL), NULL);
}

static void test_items_empty_or_many_are_accepted(void **state)
{
    (void)state;
    assert_accepted("/items", json_array());
    json_t *b = sample();
    json_t *items = json_object_get(b, "items");
    json_t *first = json_array_get(items, 0);
    for (int i = 0; i < 99; i++)
        json_array_append_new(items, json_deep_copy(first));
    assert_int_equal(json_array_size(items), 100);
    assert_event_valid(b);
}

/* The seed sets no length on the strings but accountTransactionId's minimum (contract):
 * empty item and POS strings are accepted. */
static void test_empty_strings_are_accepted_where_the_seed_allows(void **state)
{
    (void)state;
    assert_accepted("/nfcId", json_string(""));
    assert_accepted("/posId", json_string(""));
    assert_accepted("/posName", json_string(""));
    assert_item_verdict("itemId", json_string(""), NULL);
    assert_item_verdict("itemDescription", json_string(""), NULL);
    assert_item_verdict("unitCode", json_string(""), NULL);
}

/* The seed does not close its objects: an unknown member is not a violation. */
static void test_unknown_members_are_accepted(void **state)
{
    (void)state;
    assert_accepted("/somethingNew", json_string("x"));
    assert_item_verdict("somethingNew", json_integer(1), NULL);
}

/* =================== invalid events =================== */

static void test_not_an_object(void **state)
{
    (void)state;
    static const char *const texts[] = {"[]", "\"event\"", "null", "42", "true"};
    for (size_t i = 0; i < N_OF(texts); i++)
        assert_event_only_case(tu_json(texts[i]), "", "type", texts[i]);
}

static void test_required_member_missing(void **state)
{
    (void)state;
    static const char *const required[] = {"/eventType", "/time", "/currency", "/countryCode",
                                           "/conversationLanguage"};
    for (size_t i = 0; i < N_OF(required); i++)
        assert_required(required[i]);
}

static void test_required_item_member_missing(void **state)
{
    (void)state;
    static const char *const required[] = {"itemId", "itemDescription", "unitCode", "quantity", "unitPrice"};
    for (size_t i = 0; i < N_OF(required); i++)
        assert_item_verdict(required[i], NULL, "required");
}

/* An empty object: exactly the five required members are reported. */
static void test_empty_object(void **state)
{
    (void)state;
    struct check_result res;
    memset(&res, 0, sizeof(res));
    json_t *b = json_object();
    check_riverty_event(b, &res);
    assert_violation_count(&res, 5);
    assert_violation(&res, "/eventType", "required");
    assert_violation(&res, "/time", "required");
    assert_violation(&res, "/currency", "required");
    assert_violation(&res, "/countryCode", "required");
    assert_violation(&res, "/conversationLanguage", "required");
    check_result_clear(&res);
    json_decref(b);
}

/* One wrong value for each enum (case matters; near misses are refused). */
static void test_enum_value_wrong(void **state)
{
    (void)state;
    assert_rejected("/eventType", json_string("string"), "/eventType", "enum");
    assert_rejected("/eventType", json_string("purchase"), "/eventType", "enum");
    assert_rejected("/eventType", json_string("Refund"), "/eventType", "enum");
    assert_rejected("/eventType", json_string(""), "/eventType", "enum");
    assert_rejected("/categoryType", json_string("Sale"), "/categoryType", "enum");
    assert_rejected("/categoryType", json_string("notset"), "/categoryType", "enum");
    assert_rejected("/currency", json_string("USD"), "/currency", "enum");
    assert_rejected("/currency", json_string("nok"), "/currency", "enum");
    assert_rejected("/countryCode", json_string("GB"), "/countryCode", "enum");
    assert_rejected("/countryCode", json_string("NOR"), "/countryCode", "enum");
    assert_rejected("/conversationLanguage", json_string("SW"), "/conversationLanguage", "enum");
    assert_rejected("/conversationLanguage", json_string("sv"), "/conversationLanguage", "enum");
    assert_rejected("/conversationLanguage", json_string("nb"), "/conversationLanguage", "enum");
}

/* A country code is not a language: "AT", "CH", "BE" are countries only, "SV", "DA",
 * "EN" languages only. */
static void test_countries_and_languages_are_separate_lists(void **state)
{
    (void)state;
    assert_rejected("/conversationLanguage", json_string("AT"), "/conversationLanguage", "enum");
    assert_rejected("/conversationLanguage", json_string("BE"), "/conversationLanguage", "enum");
    assert_rejected("/countryCode", json_string("SV"), "/countryCode", "enum");
    assert_rejected("/countryCode", json_string("DA"), "/countryCode", "enum");
    assert_rejected("/countryCode", json_string("EN"), "/countryCode", "enum");
    for (const char *const *c = riverty_countries; *c; c++)
        if (!listed(seed_countries, *c))
            fail_msg("country %s is not the seed's", *c);
}

/* Each string member given a number, each number member given a string. */
static void test_member_of_the_wrong_type(void **state)
{
    (void)state;
    static const char *const strings[] = {"/eventType", "/categoryType", "/time",
                                          "/nfcId",     "/posId",        "/posName",
                                          "/currency",  "/accountTransactionId", "/countryCode",
                                          "/conversationLanguage"};
    for (size_t i = 0; i < N_OF(strings); i++)
        assert_rejected(strings[i], json_integer(1), strings[i], "type");
    /* numbers given as strings, as the seed's own sample prints them ("1.00") */
    assert_rejected("/totalTax", json_string("2.50"), "/totalTax", "type");
    assert_rejected("/totalAmount", json_string("12.50"), "/totalAmount", "type");
    assert_rejected("/totalAmount", json_true(), "/totalAmount", "type");
    /* null is not a value of any member (and not "absent") */
    assert_rejected("/eventType", json_null(), "/eventType", "type");
    assert_rejected("/totalTax", json_null(), "/totalTax", "type");
    assert_rejected("/time", json_object(), "/time", "type");
    assert_rejected("/currency", tu_json("[\"NOK\"]"), "/currency", "type");
}

static void test_item_member_of_the_wrong_type(void **state)
{
    (void)state;
    static const char *const strings[] = {"itemId", "itemDescription", "unitCode"};
    static const char *const numbers[] = {"quantity", "unitPrice", "netAmount", "taxAmount", "discount",
                                          "grossAmount"};
    for (size_t i = 0; i < N_OF(strings); i++)
        assert_item_verdict(strings[i], json_integer(1001), "type");
    for (size_t i = 0; i < N_OF(numbers); i++) {
        assert_item_verdict(numbers[i], json_string("1.00"), "type");
        assert_item_verdict(numbers[i], json_false(), "type");
        assert_item_verdict(numbers[i], json_null(), "type");
    }
}

static void test_items_not_an_array(void **state)
{
    (void)state;
    assert_rejected("/items", json_object(), "/items", "type");
    assert_rejected("/items", json_string("SKU-1001"), "/items", "type");
    assert_rejected("/items", json_integer(1), "/items", "type");
    assert_rejected("/items", json_null(), "/items", "type");
    /* an item object in place of the array */
    json_t *b = sample();
    json_t *item = json_incref(json_array_get(json_object_get(b, "items"), 0));
    tu_json_set(b, "/items", item);
    assert_event_only(b, "/items", "type");
}

static void test_item_not_an_object(void **state)
{
    (void)state;
    static const char *const texts[] = {"[1]", "[\"SKU-1001\"]", "[[]]", "[null]", "[true]"};
    for (size_t i = 0; i < N_OF(texts); i++)
        assert_rejected("/items", tu_json(texts[i]), "/items/0", "type");
    /* the third item of three, the first two valid */
    json_t *b = sample();
    json_t *items = json_object_get(b, "items");
    json_array_append_new(items, json_deep_copy(json_array_get(items, 0)));
    json_array_append_new(items, json_integer(3));
    assert_event_only(b, "/items/2", "type");
}

/* An item's violation names the item by its index. */
static void test_item_violation_names_its_index(void **state)
{
    (void)state;
    json_t *b = sample();
    json_t *items = json_object_get(b, "items");
    for (int i = 0; i < 11; i++)
        json_array_append_new(items, json_deep_copy(json_array_get(items, 0)));
    json_object_set_new(json_array_get(items, 10), "quantity", json_string("2"));
    assert_event_only(b, "/items/10/quantity", "type");
}

/* =================== time =================== */

static void test_time_formats_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "2024-10-01T07:56:02Z",          /* UTC */
        "2024-10-01T07:56:02.375Z",      /* with milliseconds */
        "2024-10-01T07:56:02.1Z",        /* 1 fraction digit */
        "2024-10-01T07:56:02.123456789Z", /* 9 fraction digits */
        "2024-10-01T09:56:02+02:00",     /* an offset east */
        "2024-10-01T09:56:02.375+02:00",
        "2024-10-01T02:26:02-05:30",     /* an offset west, with minutes */
        "2024-10-01T07:56:02+00:00",
        "2024-10-01T07:56:02-00:00",     /* RFC 3339 4.3: unknown local offset */
        "2024-10-01T21:56:02+14:00",
        "2024-10-01t07:56:02z",          /* RFC 3339 5.6 allows lower case */
        "2024-02-29T12:00:00Z",          /* leap day */
        "2000-02-29T12:00:00+01:00",     /* leap day of a century divisible by 400 */
        "2016-12-31T23:59:60Z",          /* a leap second */
        "2017-01-01T00:59:60+01:00",     /* the same leap second, local time */
        "1970-01-01T00:00:00Z",
        "2024-12-31T23:59:59.999-12:00",
    };
    for (size_t i = 0; i < N_OF(ok); i++)
        assert_time_accepted(ok[i]);
}

static void test_time_formats_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2024-10-01T09:56:02",          /* no offset */
        "2024-10-01T09:56:02.375",      /* no offset */
        "2024-10-01",                   /* a date only */
        "09:56:02Z",                    /* a time only */
        "2024-10-01 09:56:02Z",         /* space for T */
        "20241001T095602Z",             /* ISO 8601 basic format */
        "2024-10-01T09:56Z",            /* no seconds */
        "2024-10-01T09:56:02+0200",     /* offset without colon */
        "2024-10-01T09:56:02+02",       /* offset without minutes */
        "2024-10-01T09:56:02 +02:00",   /* space before offset */
        "2024-10-01T09:56:02+24:00",    /* offset hour */
        "2024-10-01T09:56:02+02:60",    /* offset minute */
        "2024-10-01T09:56:02ZZ",
        "2024-10-01T09:56:02Z+02:00",
        "2024-10-01T09:56:02UTC",
        "2024-10-01T09:56:02.Z",        /* empty fraction */
        "2024-10-01T09:56:02.1234567890Z", /* 10 fraction digits */
        "2024-13-01T09:56:02Z",         /* month 13 */
        "2024-00-01T09:56:02Z",         /* month 0 */
        "2024-10-00T09:56:02Z",         /* day 0 */
        "2024-10-32T09:56:02Z",
        "2024-04-31T09:56:02Z",         /* April has 30 days */
        "2024-02-30T09:56:02Z",
        "2023-02-29T09:56:02Z",         /* not a leap year */
        "1900-02-29T09:56:02Z",         /* not a leap year (century) */
        "2024-10-01T24:00:00Z",         /* hour 24 */
        "2024-10-01T09:60:00Z",         /* minute 60 */
        "2024-10-01T09:56:61Z",         /* second 61 */
        "2024-1-01T09:56:02Z",          /* one-digit month */
        "24-10-01T09:56:02Z",           /* two-digit year */
        " 2024-10-01T09:56:02Z",
        "2024-10-01T09:56:02Z ",
        "1727769362",                   /* epoch seconds */
        "string",                       /* the seed's sample */
        "",
    };
    for (size_t i = 0; i < N_OF(bad); i++)
        assert_time_refused(bad[i]);
}

/* The format message says what is expected and does not quote the value. */
static void test_time_message(void **state)
{
    (void)state;
    json_t *b = sample();
    tu_json_set(b, "/time", json_string("1999-12-31T23:59:59"));
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_riverty_event(b, &res);
    assert_only_violation(&res, "/time", "format");
    assert_contains(res.v[0].message, "RFC 3339");
    assert_not_contains(res.v[0].message, "1999");
    check_result_clear(&res);
    json_decref(b);
}

/* =================== accountTransactionId =================== */

static void test_account_transaction_id(void **state)
{
    (void)state;
    assert_rejected("/accountTransactionId", json_string(""), "/accountTransactionId", "minLength");
    assert_accepted("/accountTransactionId", json_string("1"));
    assert_accepted("/accountTransactionId", json_string("kassa 7 / 2024-10-01 / #42"));
    /* the daemon's own limit (the seed gives none): 128 characters, counted as characters */
    char *s = repeat("x", 128);
    assert_accepted("/accountTransactionId", json_string(s));
    free(s);
    s = repeat("\xc3\xb8", 128); /* 128 times U+00F8, 256 bytes */
    assert_accepted("/accountTransactionId", json_string(s));
    free(s);
    s = repeat("x", 129);
    assert_rejected("/accountTransactionId", json_string(s), "/accountTransactionId", "maxLength");
    free(s);
}

/* =================== several violations =================== */

/* Every violation is reported at once, each at its own pointer. */
static void test_several_violations_at_once(void **state)
{
    (void)state;
    json_t *b = sample();
    tu_json_del(b, "/eventType");
    tu_json_set(b, "/time", json_string("1999-12-31T23:59:59"));
    tu_json_set(b, "/currency", json_string("USD"));
    tu_json_set(b, "/totalTax", json_string("2.50"));
    tu_json_set(b, "/accountTransactionId", json_string(""));
    json_t *items = json_object_get(b, "items");
    json_t *second = json_deep_copy(json_array_get(items, 0));
    json_object_del(second, "unitCode");
    json_object_set_new(second, "unitPrice", json_string("6.25"));
    json_array_append_new(items, second);
    json_array_append_new(items, json_string("SKU-1003"));
    json_object_set_new(json_array_get(items, 0), "quantity", json_string("2"));

    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_riverty_event(b, &res);
    assert_violation_count(&res, 9);
    assert_violation(&res, "/eventType", "required");
    assert_violation(&res, "/time", "format");
    assert_violation(&res, "/currency", "enum");
    assert_violation(&res, "/totalTax", "type");
    assert_violation(&res, "/accountTransactionId", "minLength");
    assert_violation(&res, "/items/0/quantity", "type");
    assert_violation(&res, "/items/1/unitCode", "required");
    assert_violation(&res, "/items/1/unitPrice", "type");
    assert_violation(&res, "/items/2", "type");
    /* messages never quote the offending value */
    for (size_t i = 0; i < res.n; i++) {
        assert_not_contains(res.v[i].message, "USD");
        assert_not_contains(res.v[i].message, "SKU-1003");
        assert_not_contains(res.v[i].message, "1999");
    }
    check_result_clear(&res);
    json_decref(b);
}

/* A hostile body cannot make the list grow without bound: 150 empty items (750
 * violations) keep the first CHECK_MAX_VIOLATIONS and count the rest as dropped. */
static void test_violations_are_capped(void **state)
{
    (void)state;
    json_t *b = sample();
    json_t *items = json_array();
    for (int i = 0; i < 150; i++)
        json_array_append_new(items, json_object());
    tu_json_set(b, "/items", items);
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_riverty_event(b, &res);
    assert_int_equal(res.n, CHECK_MAX_VIOLATIONS);
    assert_int_equal(res.dropped, 150 * 5 - CHECK_MAX_VIOLATIONS);
    assert_violation(&res, "/items/0/itemId", "required");
    assert_violation(&res, "/items/19/unitPrice", "required");
    check_result_clear(&res);
    json_decref(b);
}

/* =================== fixtures =================== */

/* Every entry of verdicts.json: its file, checked with check_riverty_event, gives exactly
 * the listed violations. */
static void test_fixture_verdicts(void **state)
{
    (void)state;
    tu_check_verdicts("riverty", check_riverty_event, 5);
}

/* Every payload under valid/ and invalid/ has a verdict: none for valid/, some for invalid/. */
static void test_every_fixture_has_a_verdict(void **state)
{
    (void)state;
    tu_check_every_fixture_has_verdict("riverty", 2);
}

/* =================== check_riverty_account =================== */

static void test_account_numbers_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {"ACC-1", "a", "Z", "0", "_", "-", "acc_123-XYZ", "1234567890",
                                     "NO9386011117947"};
    for (size_t i = 0; i < N_OF(ok); i++)
        if (!check_riverty_account(ok[i], strlen(ok[i])))
            fail_msg("refused account number \"%s\"", ok[i]);
    char *s = repeat("a", 64);
    assert_true(check_riverty_account(s, 64));
    free(s);
    /* only len bytes are read */
    assert_true(check_riverty_account("ACC-1/event", 5));
}

static void test_account_numbers_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"",      "ACC 1", "ACC/1", "ACC.1",  "ACC%2F1", "ACC+1", "ACC:1",
                                      "ACC~1", "..",    "acc\t1", "ACC#1", "ACC?x=1", "\xc3\x85SE" /* ÅSE */,
                                      "ACC\\1"};
    for (size_t i = 0; i < N_OF(bad); i++)
        if (check_riverty_account(bad[i], strlen(bad[i])))
            fail_msg("accepted account number \"%s\"", bad[i]);
    char *s = repeat("a", 65);
    assert_false(check_riverty_account(s, 65));
    free(s);
    assert_false(check_riverty_account("AB\0C", 4)); /* a NUL inside */
    assert_false(check_riverty_account(NULL, 0));
}

/* =================== check_riverty_obsolete_language =================== */

static void test_obsolete_languages(void **state)
{
    (void)state;
    const char *instead = NULL;
    assert_true(check_riverty_obsolete_language("SE", &instead));
    assert_non_null(instead);
    assert_string_equal(instead, "SV");
    instead = NULL;
    assert_true(check_riverty_obsolete_language("DK", &instead));
    assert_non_null(instead);
    assert_string_equal(instead, "DA");
    /* what to use instead is itself a current language */
    assert_true(listed(riverty_languages, "SV"));
    assert_true(listed(riverty_languages, "DA"));
}

static void test_current_languages_are_not_obsolete(void **state)
{
    (void)state;
    static const char sentinel[] = "unchanged";
    size_t obsolete = 0;
    for (const char *const *l = riverty_languages; *l; l++) {
        const char *instead = sentinel;
        bool is = check_riverty_obsolete_language(*l, &instead);
        if (is != (strcmp(*l, "SE") == 0 || strcmp(*l, "DK") == 0))
            fail_msg("%s: obsolete is %d", *l, is);
        if (!is && instead != sentinel)
            fail_msg("%s: use_instead written for a current language", *l);
        obsolete += is;
    }
    assert_int_equal(obsolete, 2);
    static const char *const others[] = {"se", "dk", "SEK", "S", "", "SV", "DA", "NO"};
    for (size_t i = 0; i < N_OF(others); i++) {
        const char *instead = sentinel;
        if (check_riverty_obsolete_language(others[i], &instead))
            fail_msg("\"%s\" called obsolete", others[i]);
        assert_ptr_equal(instead, sentinel);
    }
    const char *instead = sentinel;
    assert_false(check_riverty_obsolete_language(NULL, &instead));
    assert_ptr_equal(instead, sentinel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* valid events */
        cmocka_unit_test(test_seed_sample_is_valid),
        cmocka_unit_test(test_minimal_event_is_valid),
        cmocka_unit_test(test_optional_members_absent_are_accepted),
        cmocka_unit_test(test_enum_arrays_are_the_seeds),
        cmocka_unit_test(test_category_types_are_the_seeds),
        cmocka_unit_test(test_every_enum_value_is_accepted),
        cmocka_unit_test(test_every_seed_enum_value_is_accepted),
        cmocka_unit_test(test_obsolete_languages_are_valid),
        cmocka_unit_test(test_numbers_of_any_kind_are_accepted),
        cmocka_unit_test(test_items_empty_or_many_are_accepted),
        cmocka_unit_test(test_empty_strings_are_accepted_where_the_seed_allows),
        cmocka_unit_test(test_unknown_members_are_accepted),
        /* invalid events */
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_required_member_missing),
        cmocka_unit_test(test_required_item_member_missing),
        cmocka_unit_test(test_empty_object),
        cmocka_unit_test(test_enum_value_wrong),
        cmocka_unit_test(test_countries_and_languages_are_separate_lists),
        cmocka_unit_test(test_member_of_the_wrong_type),
        cmocka_unit_test(test_item_member_of_the_wrong_type),
        cmocka_unit_test(test_items_not_an_array),
        cmocka_unit_test(test_item_not_an_object),
        cmocka_unit_test(test_item_violation_names_its_index),
        /* time */
        cmocka_unit_test(test_time_formats_accepted),
        cmocka_unit_test(test_time_formats_refused),
        cmocka_unit_test(test_time_message),
        /* accountTransactionId */
        cmocka_unit_test(test_account_transaction_id),
        /* several violations */
        cmocka_unit_test(test_several_violations_at_once),
        cmocka_unit_test(test_violations_are_capped),
        /* fixtures */
        cmocka_unit_test(test_fixture_verdicts),
        cmocka_unit_test(test_every_fixture_has_a_verdict),
        /* the path's account number */
        cmocka_unit_test(test_account_numbers_accepted),
        cmocka_unit_test(test_account_numbers_refused),
        /* obsolete languages */
        cmocka_unit_test(test_obsolete_languages),
        cmocka_unit_test(test_current_languages_are_not_obsolete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
