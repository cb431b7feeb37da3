/* Unit tests of the Amiko booking schema (include/issuerhook/check_booking.h):
 * POST /bookings (check_booking), the amount format (check_booking_amount) and the
 * ledger worker's result body (check_booking_result).
 *
 * The field rules come from the seed (amiko-booking-api.txt), the cross-field rules
 * from the "Amiko booking" section of the contract (API.md). Valid bookings: the seed's
 * sample (tests/fixtures/booking/valid/seed-sample.json) and one booking per allowed
 * target/operation/reason combination. Invalid ones: the sample with exactly one rule
 * broken, expecting exactly one violation at its JSON Pointer with its rule. The other
 * fixture files are checked against tests/fixtures/booking/verdicts.json. */
#include "testutil.h"

#include <dirent.h>

#include "issuerhook/check_booking.h"

#define SAMPLE "booking/valid/seed-sample.json"
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A JSON string literal for tu_json: S("USD") is "\"USD\"". */
#define S(text) "\"" text "\""

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

/* Checks b (consumed) with check_booking: exactly one violation (want_ptr, want_rule),
 * or none when want_ptr is NULL. what, when given, names the case on failure. */
static void booking_verdict(json_t *b, const char *want_ptr, const char *want_rule, const char *what,
                            const char *file, int line)
{
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_booking(b, &res);
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
#define assert_booking_valid(b) booking_verdict((b), NULL, NULL, NULL, __FILE__, __LINE__)
#define assert_booking_valid_case(b, what) booking_verdict((b), NULL, NULL, (what), __FILE__, __LINE__)
/* b (consumed) has exactly one violation: rule at ptr. */
#define assert_booking_only(b, ptr, rule) booking_verdict((b), (ptr), (rule), NULL, __FILE__, __LINE__)
#define assert_booking_only_case(b, ptr, rule, what) booking_verdict((b), (ptr), (rule), (what), __FILE__, __LINE__)

/* The sample with pointer set to value (stolen; NULL: deleted) has exactly one
 * violation, rule at want_ptr. */
#define assert_rejected(pointer, value, want_ptr, want_rule)                                             \
    do {                                                                                                 \
        json_t *b_ = sample();                                                                           \
        tu_json_set(b_, (pointer), (value));                                                             \
        booking_verdict(b_, (want_ptr), (want_rule), (pointer), __FILE__, __LINE__);                     \
    } while (0)
/* The sample without pointer has exactly one violation: "required" at pointer. */
#define assert_required(pointer) assert_rejected((pointer), NULL, (pointer), "required")
/* The sample with pointer set to value (stolen; NULL: deleted) has no violation. */
#define assert_accepted(pointer, value)                                                                  \
    do {                                                                                                 \
        json_t *b_ = sample();                                                                           \
        tu_json_set(b_, (pointer), (value));                                                             \
        booking_verdict(b_, NULL, NULL, (pointer), __FILE__, __LINE__);                                  \
    } while (0)

/* Sets pointer to the string s, or deletes it when s is NULL (the member must exist). */
static void set_str(json_t *b, const char *pointer, const char *s)
{
    tu_json_set(b, pointer, s ? json_string(s) : NULL);
}

/* The sample as a partial booking (isFullAmount false) with the given amount and
 * currencies; NULL removes the member. The sample has all three. */
static json_t *partial(const char *amount, const char *numeric, const char *alpha)
{
    json_t *b = sample();
    tu_json_set(b, "/isFullAmount", json_false());
    set_str(b, "/bookingAmount", amount);
    set_str(b, "/currencyCode", numeric);
    set_str(b, "/currencyCodeAlpha", alpha);
    return b;
}

/* The test's own reading of the contract: the operation a reason belongs to and the
 * target an operation belongs to. */
static const char *operation_for(const char *reason)
{
    if (strncmp(reason, "credit_", 7) == 0)
        return "credit";
    if (strncmp(reason, "debit_", 6) == 0)
        return "debit";
    if (strncmp(reason, "write_off_reversal_", 19) == 0)
        return "write_off_reversal";
    if (strncmp(reason, "write_off_", 10) == 0)
        return "write_off";
    fail_msg("reason %s has no operation", reason);
    return NULL;
}

static const char *target_for(const char *operation)
{
    return strcmp(operation, "credit") == 0 || strcmp(operation, "debit") == 0 ? "card_account" : "general_ledger";
}

static const char *const operations[] = {"credit", "debit", "write_off", "write_off_reversal"};

/* The first reason of booking_reasons[] that belongs to operation. */
static const char *reason_for(const char *operation)
{
    for (const char *const *r = booking_reasons; *r; r++)
        if (strcmp(operation_for(*r), operation) == 0)
            return *r;
    fail_msg("no reason for %s", operation);
    return NULL;
}

/* The sample as a booking with this target, operation and reason. */
static json_t *combination(const char *target, const char *operation, const char *reason)
{
    json_t *b = sample();
    set_str(b, "/bookingTarget", target);
    set_str(b, "/bookingOperation", operation);
    set_str(b, "/bookingReason", reason);
    return b;
}

/* =================== valid bookings =================== */

static void test_seed_sample_is_valid(void **state)
{
    (void)state;
    assert_booking_valid(sample());
}

/* The exported enums are the seed's lists, value for value in count. */
static void test_enum_arrays_are_the_seeds(void **state)
{
    (void)state;
    assert_int_equal(count_of(booking_reasons), 11);
    assert_int_equal(count_of(booking_dispute_reason_codes), 67);
    assert_int_equal(count_of(booking_lifecycles), 59);
    assert_string_equal(booking_reasons[0], "credit_permanent_refund");
    assert_string_equal(booking_reasons[10], "write_off_reversal_direct_merchant_credit");
    assert_string_equal(booking_dispute_reason_codes[0], "4880");
    assert_string_equal(booking_dispute_reason_codes[66], "13.9");
    assert_string_equal(booking_lifecycles[0], "dispute_rejected");
    assert_string_equal(booking_lifecycles[58], "incoming_pre_compliance_won");
    const char *const *lists[] = {booking_reasons, booking_dispute_reason_codes, booking_lifecycles};
    for (size_t l = 0; l < N_OF(lists); l++)
        for (size_t i = 0; lists[l][i]; i++)
            for (size_t j = i + 1; lists[l][j]; j++)
                if (strcmp(lists[l][i], lists[l][j]) == 0)
                    fail_msg("duplicate enum value %s", lists[l][i]);
}

/* card_account + credit with each credit_*, card_account + debit with each debit_*,
 * general_ledger + write_off with each other write_off_*, general_ledger +
 * write_off_reversal with each write_off_reversal_*. */
static void test_every_allowed_combination_is_valid(void **state)
{
    (void)state;
    size_t per_op[N_OF(operations)] = {0};
    for (const char *const *r = booking_reasons; *r; r++) {
        const char *op = operation_for(*r), *target = target_for(op);
        char what[160];
        snprintf(what, sizeof(what), "%s + %s + %s", target, op, *r);
        assert_booking_valid_case(combination(target, op, *r), what);
        for (size_t o = 0; o < N_OF(operations); o++)
            per_op[o] += strcmp(operations[o], op) == 0;
    }
    assert_int_equal(per_op[0], 2); /* credit_permanent_refund, credit_temporary_refund */
    assert_int_equal(per_op[1], 3); /* debit_cardholder_deductible, _liability, _direct_merchant_credit */
    assert_int_equal(per_op[2], 4); /* write_off_goodwill, _handling_mistake, _issuer_liability, _issuer_policy */
    assert_int_equal(per_op[3], 2); /* write_off_reversal_cardholder_liability, _direct_merchant_credit */
}

static void test_every_lifecycle_is_accepted(void **state)
{
    (void)state;
    for (const char *const *l = booking_lifecycles; *l; l++) {
        json_t *b = sample();
        set_str(b, "/transactionLifecycle", *l);
        assert_booking_valid_case(b, *l);
    }
}

static void test_every_dispute_reason_code_is_accepted(void **state)
{
    (void)state;
    for (const char *const *c = booking_dispute_reason_codes; *c; c++) {
        json_t *b = sample();
        set_str(b, "/disputeReasonCode", *c);
        assert_booking_valid_case(b, *c);
    }
}

static void test_both_case_types_are_accepted(void **state)
{
    (void)state;
    assert_accepted("/amikoCaseType", json_string("fraud"));
    assert_accepted("/amikoCaseType", json_string("cardholder_dispute"));
}

static void test_booking_reference_empty_is_accepted(void **state)
{
    (void)state;
    assert_accepted("/bookingReference", json_array());
    assert_accepted("/bookingReference", tu_json("[\"a\", \"b\", \"c\"]"));
}

static void test_partial_with_numeric_currency_only(void **state)
{
    (void)state;
    assert_booking_valid(partial("100.35", "840", NULL));
    assert_booking_valid(partial("1", "008", NULL)); /* leading zeros of a numeric code (ALL) */
}

static void test_partial_with_alpha_currency_only(void **state)
{
    (void)state;
    assert_booking_valid(partial("100.35", NULL, "USD"));
}

static void test_partial_with_both_currencies_agreeing(void **state)
{
    (void)state;
    assert_booking_valid(partial("100.35", "840", "USD"));
    assert_booking_valid(partial("7.5", "978", "EUR"));
}

static void test_partial_jpy_without_decimals(void **state)
{
    (void)state;
    assert_booking_valid(partial("100", "392", "JPY"));
    assert_booking_valid(partial("100", NULL, "JPY"));
    assert_booking_valid(partial("100", "392", NULL));
}

static void test_partial_kwd_with_three_decimals(void **state)
{
    (void)state;
    assert_booking_valid(partial("1.125", "414", "KWD"));
    assert_booking_valid(partial("1.125", NULL, "KWD"));
}

static void test_partial_with_fewer_decimals_than_the_currency(void **state)
{
    (void)state;
    assert_booking_valid(partial("1.5", NULL, "USD"));
    assert_booking_valid(partial("7", NULL, "USD"));
    assert_booking_valid(partial("0.01", NULL, "USD"));
    assert_booking_valid(partial("0.5", NULL, "KWD"));
}

static void test_amount_with_eighteen_integer_digits(void **state)
{
    (void)state;
    assert_booking_valid(partial("123456789012345678", NULL, "JPY"));
    assert_booking_valid(partial("999999999999999999.99", NULL, "USD"));
}

/* Deprecated: accepted, stored, ignored (no format). */
static void test_booking_amount_percentage_is_accepted(void **state)
{
    (void)state;
    assert_accepted("/bookingAmountPercentage", json_string("94.450000"));
    assert_accepted("/bookingAmountPercentage", json_string("not a number"));
    assert_accepted("/bookingAmountPercentage", NULL);
}

/* Only the ten required fields, full amount: no amount, no currency needed. */
static void test_optional_fields_absent_are_accepted(void **state)
{
    (void)state;
    static const char *const optional[] = {"/agentOidcId",      "/bookingAmount",     "/bookingAmountPercentage",
                                           "/currencyCode",     "/currencyCodeAlpha", "/disputeReasonCode",
                                           "/issuerWriteOffReason"};
    for (size_t i = 0; i < N_OF(optional); i++)
        assert_accepted(optional[i], NULL);

    json_t *b = sample();
    for (size_t i = 0; i < N_OF(optional); i++)
        tu_json_del(b, optional[i]);
    tu_json_set(b, "/transaction", json_object()); /* every field of transaction is optional */
    assert_int_equal(json_object_size(b), 10);
    assert_booking_valid(b);
}

/* The seed does not close the booking object (unlike Apiture's "Unevaluated Properties:
 * false"): an unknown member is not a violation. */
static void test_unknown_property_is_accepted(void **state)
{
    (void)state;
    assert_accepted("/somethingNew", json_string("x"));
    assert_accepted("/transaction/somethingNew", json_integer(1));
}

/* =================== invalid bookings: field rules =================== */

static void test_not_an_object(void **state)
{
    (void)state;
    static const char *const texts[] = {"[]", S("booking"), "null", "42"};
    for (size_t i = 0; i < N_OF(texts); i++)
        assert_booking_only_case(tu_json(texts[i]), "", "type", texts[i]);
}

static void test_required_field_missing(void **state)
{
    (void)state;
    static const char *const required[] = {"/amikoBookingId",   "/amikoCaseType",  "/isFullAmount",
                                           "/cardId",           "/bookingTarget",  "/bookingOperation",
                                           "/bookingReason",    "/transactionLifecycle", "/bookingReference",
                                           "/transaction"};
    for (size_t i = 0; i < N_OF(required); i++)
        assert_required(required[i]);
}

static void test_amiko_booking_id_not_a_uuid(void **state)
{
    (void)state;
    assert_rejected("/amikoBookingId", json_string("booking-1"), "/amikoBookingId", "format");
    assert_rejected("/amikoBookingId", json_string("37b48334-3ad1-43e3-aa84-26075e51368"), "/amikoBookingId", "format");
    assert_rejected("/amikoBookingId", json_string("37b48334-3ad1-43e3-aa84-26075e51368g"), "/amikoBookingId",
                    "format");
    assert_rejected("/amikoBookingId", json_string("37b483343ad143e3aa8426075e513683"), "/amikoBookingId", "format");
    assert_rejected("/amikoBookingId", json_string(""), "/amikoBookingId", "format");
    assert_accepted("/amikoBookingId", json_string("37B48334-3AD1-43E3-AA84-26075E513683"));
}

static void test_amiko_booking_id_not_a_string(void **state)
{
    (void)state;
    assert_rejected("/amikoBookingId", json_integer(37), "/amikoBookingId", "type");
}

static void test_amiko_case_type_wrong(void **state)
{
    (void)state;
    assert_rejected("/amikoCaseType", json_string("chargeback"), "/amikoCaseType", "enum");
    assert_rejected("/amikoCaseType", json_string("Fraud"), "/amikoCaseType", "enum");
    assert_rejected("/amikoCaseType", json_integer(1), "/amikoCaseType", "type");
}

static void test_booking_target_wrong(void **state)
{
    (void)state;
    assert_rejected("/bookingTarget", json_string("ledger"), "/bookingTarget", "enum");
    assert_rejected("/bookingTarget", json_string("CARD_ACCOUNT"), "/bookingTarget", "enum");
}

static void test_booking_operation_wrong(void **state)
{
    (void)state;
    assert_rejected("/bookingOperation", json_string("refund"), "/bookingOperation", "enum");
    assert_rejected("/bookingOperation", json_string(""), "/bookingOperation", "enum");
}

static void test_booking_reason_wrong(void **state)
{
    (void)state;
    assert_rejected("/bookingReason", json_string("refund"), "/bookingReason", "enum");
    /* a credit_ prefix with the sample's credit operation: only the enum rule */
    assert_rejected("/bookingReason", json_string("credit_bogus"), "/bookingReason", "enum");
}

static void test_dispute_reason_code_wrong(void **state)
{
    (void)state;
    assert_rejected("/disputeReasonCode", json_string("9999"), "/disputeReasonCode", "enum");
    assert_rejected("/disputeReasonCode", json_string("12.6"), "/disputeReasonCode", "enum");
    assert_rejected("/disputeReasonCode", json_integer(4880), "/disputeReasonCode", "type");
}

static void test_transaction_lifecycle_wrong(void **state)
{
    (void)state;
    assert_rejected("/transactionLifecycle", json_string("NONE"), "/transactionLifecycle", "enum");
    assert_rejected("/transactionLifecycle", json_string("dispute-submitted"), "/transactionLifecycle", "enum");
}

static void test_is_full_amount_not_a_boolean(void **state)
{
    (void)state;
    assert_rejected("/isFullAmount", json_string("true"), "/isFullAmount", "type");
    assert_rejected("/isFullAmount", json_string("false"), "/isFullAmount", "type");
    assert_rejected("/isFullAmount", json_integer(0), "/isFullAmount", "type");
    assert_rejected("/isFullAmount", json_null(), "/isFullAmount", "type");
}

static void test_card_id_wrong(void **state)
{
    (void)state;
    assert_rejected("/cardId", json_string(""), "/cardId", "minLength");
    assert_rejected("/cardId", json_integer(42), "/cardId", "type");
}

static void test_booking_reference_not_an_array(void **state)
{
    (void)state;
    assert_rejected("/bookingReference", json_string("id_provided_by_ledger"), "/bookingReference", "type");
    assert_rejected("/bookingReference", json_object(), "/bookingReference", "type");
    assert_rejected("/bookingReference", json_null(), "/bookingReference", "type");
}

static void test_booking_reference_item_not_a_string(void **state)
{
    (void)state;
    assert_rejected("/bookingReference", tu_json("[1]"), "/bookingReference/0", "type");
    assert_rejected("/bookingReference", tu_json("[null]"), "/bookingReference/0", "type");
    assert_rejected("/bookingReference", tu_json("[\"a\", {}]"), "/bookingReference/1", "type");
}

static void test_transaction_not_an_object(void **state)
{
    (void)state;
    assert_rejected("/transaction", json_string("x"), "/transaction", "type");
    assert_rejected("/transaction", json_array(), "/transaction", "type");
}

static void test_transaction_field_wrong_type(void **state)
{
    (void)state;
    static const char *const fields[] = {"issuerBIN",     "issuerICA",
                                         "scheme",        "ARN",
                                         "dateAndTimeLocal", "originalTransactionAmount",
                                         "originalTransactionCurrency", "merchantName",
                                         "MCC",           "merchantState",
                                         "merchantCountry"};
    for (size_t i = 0; i < N_OF(fields); i++) {
        char ptr[96];
        snprintf(ptr, sizeof(ptr), "/transaction/%s", fields[i]);
        assert_rejected(ptr, json_integer(513659), ptr, "type");
    }
}

static void test_other_optional_fields_wrong_type(void **state)
{
    (void)state;
    assert_rejected("/agentOidcId", json_integer(1), "/agentOidcId", "type");
    assert_rejected("/issuerWriteOffReason", json_true(), "/issuerWriteOffReason", "type");
    assert_rejected("/bookingAmountPercentage", json_real(94.45), "/bookingAmountPercentage", "type");
    assert_rejected("/bookingAmount", json_real(100.35), "/bookingAmount", "type");
    assert_rejected("/currencyCode", json_integer(840), "/currencyCode", "type");
    assert_rejected("/currencyCodeAlpha", json_integer(840), "/currencyCodeAlpha", "type");
}

/* =================== invalid bookings: cross-field rules =================== */

/* card_account allows only credit/debit, general_ledger only write_off/write_off_reversal;
 * the reason is the operation's own so only the target rule is broken. */
static void test_target_with_a_foreign_operation(void **state)
{
    (void)state;
    static const char *const cases[][2] = {{"card_account", "write_off"},
                                           {"card_account", "write_off_reversal"},
                                           {"general_ledger", "credit"},
                                           {"general_ledger", "debit"}};
    for (size_t i = 0; i < N_OF(cases); i++) {
        char what[96];
        snprintf(what, sizeof(what), "%s + %s", cases[i][0], cases[i][1]);
        assert_booking_only_case(combination(cases[i][0], cases[i][1], reason_for(cases[i][1])), "/bookingOperation",
                                 "bookingTarget", what);
    }
}

/* Every reason with every operation it does not belong to (the target matching the
 * operation, so only the reason rule is broken). */
static void test_every_reason_with_a_foreign_operation(void **state)
{
    (void)state;
    size_t n = 0;
    for (const char *const *r = booking_reasons; *r; r++) {
        for (size_t o = 0; o < N_OF(operations); o++) {
            if (strcmp(operations[o], operation_for(*r)) == 0)
                continue;
            char what[160];
            snprintf(what, sizeof(what), "%s + %s", operations[o], *r);
            assert_booking_only_case(combination(target_for(operations[o]), operations[o], *r), "/bookingReason",
                                     "bookingOperation", what);
            n++;
        }
    }
    assert_int_equal(n, 11 * 3);
}

/* Target, operation and reason all disagreeing: both cross rules reported. */
static void test_target_and_reason_both_foreign(void **state)
{
    (void)state;
    json_t *b = combination("card_account", "write_off", "credit_temporary_refund");
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_booking(b, &res);
    assert_violation_count(&res, 2);
    assert_violation(&res, "/bookingOperation", "bookingTarget");
    assert_violation(&res, "/bookingReason", "bookingOperation");
    check_result_clear(&res);
    json_decref(b);
}

/* An operation outside the enum is reported once: the cross rules stay silent. */
static void test_invalid_operation_reported_once(void **state)
{
    (void)state;
    assert_booking_only(combination("general_ledger", "refund", "credit_temporary_refund"), "/bookingOperation",
                        "enum");
    assert_booking_only(combination("ledger", "write_off", "write_off_goodwill"), "/bookingTarget", "enum");
}

static void test_partial_without_amount(void **state)
{
    (void)state;
    assert_booking_only(partial(NULL, "840", "USD"), "/bookingAmount", "required");
}

static void test_partial_without_currency(void **state)
{
    (void)state;
    assert_booking_only(partial("100.35", NULL, NULL), "/currencyCode", "required");
}

static void test_partial_without_amount_and_currency(void **state)
{
    (void)state;
    json_t *b = partial(NULL, NULL, NULL);
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_booking(b, &res);
    assert_violation_count(&res, 2);
    assert_violation(&res, "/bookingAmount", "required");
    assert_violation(&res, "/currencyCode", "required");
    check_result_clear(&res);
    json_decref(b);
}

static void test_currency_code_format(void **state)
{
    (void)state;
    static const char *const bad[] = {"999999", "abc", "000", "84", "8400", "", " 840", "12a"};
    for (size_t i = 0; i < N_OF(bad); i++)
        assert_rejected("/currencyCode", json_string(bad[i]), "/currencyCode", "format");
    /* also when it is the only currency of a partial booking: format, not required */
    assert_booking_only(partial("100.35", "abc", NULL), "/currencyCode", "format");
}

static void test_currency_code_alpha_format(void **state)
{
    (void)state;
    static const char *const bad[] = {"usd", "XYZ", "US", "USDD", "", "Usd", "840"};
    for (size_t i = 0; i < N_OF(bad); i++)
        assert_rejected("/currencyCodeAlpha", json_string(bad[i]), "/currencyCodeAlpha", "format");
    assert_booking_only(partial("100.35", NULL, "usd"), "/currencyCodeAlpha", "format");
}

static void test_currencies_disagree(void **state)
{
    (void)state;
    assert_rejected("/currencyCodeAlpha", json_string("EUR"), "/currencyCodeAlpha", "currencyMismatch");
    assert_booking_only(partial("100.35", "978", "USD"), "/currencyCodeAlpha", "currencyMismatch");
    assert_booking_only(partial("100", "392", "USD"), "/currencyCodeAlpha", "currencyMismatch");
}

static void test_amount_format(void **state)
{
    (void)state;
    static const char *const bad[] = {"0",   "0.00", "-1",   "+1",  "1e3", "1.",  ".5",    "01.5",   "abc",
                                      "",    "00",   "0.0",  " 1",  "1 ",  "1,5", "1.2.3", "1..2",   "0x10",
                                      "1.5.", "-0.5", "NaN", "Infinity"};
    for (size_t i = 0; i < N_OF(bad); i++) {
        assert_rejected("/bookingAmount", json_string(bad[i]), "/bookingAmount", "format");
        assert_booking_only_case(partial(bad[i], "840", NULL), "/bookingAmount", "format", bad[i]);
    }
}

static void test_amount_more_than_eighteen_integer_digits(void **state)
{
    (void)state;
    assert_rejected("/bookingAmount", json_string("1234567890123456789"), "/bookingAmount", "format");
    assert_rejected("/bookingAmount", json_string("1234567890123456789.5"), "/bookingAmount", "format");
    assert_booking_only(partial("1000000000000000000", NULL, "JPY"), "/bookingAmount", "format");
}

static void test_amount_more_decimals_than_the_currency(void **state)
{
    (void)state;
    assert_booking_only(partial("1.234", "840", "USD"), "/bookingAmount", "minorUnits");
    assert_booking_only(partial("1.234", NULL, "USD"), "/bookingAmount", "minorUnits");
    assert_booking_only(partial("1.5", "392", "JPY"), "/bookingAmount", "minorUnits");
    assert_booking_only(partial("1.5", NULL, "JPY"), "/bookingAmount", "minorUnits");
    assert_booking_only(partial("1.5", "392", NULL), "/bookingAmount", "minorUnits");
    assert_booking_only(partial("100.00", NULL, "JPY"), "/bookingAmount", "minorUnits"); /* 2 decimals */
    assert_booking_only(partial("1.1255", NULL, "KWD"), "/bookingAmount", "minorUnits");
    /* a malformed alpha code beside a valid numeric one: the numeric code's decimals apply */
    json_t *b = partial("1.5", "392", "jpy");
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_booking(b, &res);
    assert_violation_count(&res, 2);
    assert_violation(&res, "/currencyCodeAlpha", "format");
    assert_violation(&res, "/bookingAmount", "minorUnits");
    check_result_clear(&res);
    json_decref(b);
}

/* Several independent violations in one booking: every one is reported. */
static void test_many_violations_all_reported(void **state)
{
    (void)state;
    json_t *b = sample();
    set_str(b, "/amikoBookingId", "not-a-uuid");
    set_str(b, "/amikoCaseType", "chargeback");
    tu_json_set(b, "/isFullAmount", json_string("no"));
    tu_json_del(b, "/cardId");
    set_str(b, "/bookingTarget", "general_ledger"); /* with credit */
    set_str(b, "/bookingReason", "debit_cardholder_liability"); /* with credit */
    set_str(b, "/disputeReasonCode", "0000");
    set_str(b, "/transactionLifecycle", "closed");
    set_str(b, "/bookingAmount", "1.234");    /* USD */
    set_str(b, "/currencyCodeAlpha", "EUR"); /* with 840 */
    tu_json_set(b, "/bookingReference", tu_json("[\"ok\", 1, 2]"));
    tu_json_set(b, "/transaction/MCC", json_integer(5812));
    tu_json_set(b, "/agentOidcId", json_null());

    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_booking(b, &res);
    assert_violation(&res, "/amikoBookingId", "format");
    assert_violation(&res, "/amikoCaseType", "enum");
    assert_violation(&res, "/isFullAmount", "type");
    assert_violation(&res, "/cardId", "required");
    assert_violation(&res, "/disputeReasonCode", "enum");
    assert_violation(&res, "/transactionLifecycle", "enum");
    assert_violation(&res, "/bookingReference/1", "type");
    assert_violation(&res, "/bookingReference/2", "type");
    assert_violation(&res, "/transaction/MCC", "type");
    assert_violation(&res, "/agentOidcId", "type");
    assert_violation(&res, "/bookingOperation", "bookingTarget");
    assert_violation(&res, "/bookingReason", "bookingOperation");
    assert_violation(&res, "/currencyCodeAlpha", "currencyMismatch");
    assert_violation(&res, "/bookingAmount", "minorUnits");
    assert_violation_count(&res, 14);
    check_result_clear(&res);
    json_decref(b);
}

/* ---- each problem reported once ---- */

/* A reason outside the enum whose prefix names another operation ("debit_bogus" with
 * credit) is an enum violation only, not also a reason/operation mismatch. */
static void test_bug_unknown_reason_reported_once(void **state)
{
    (void)state;
    assert_rejected("/bookingReason", json_string("debit_bogus"), "/bookingReason", "enum");
    assert_rejected("/bookingReason", json_string("write_off_bogus"), "/bookingReason", "enum");
}

/* A partial booking whose currency is present but not a string has a type
 * violation, not also "required". */
static void test_bug_partial_currency_wrong_type_not_required(void **state)
{
    (void)state;
    json_t *b = partial("100.35", NULL, NULL);
    tu_json_set(b, "/currencyCode", json_integer(840));
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_booking(b, &res);
    assert_only_violation(&res, "/currencyCode", "type");
    check_result_clear(&res);
    json_decref(b);
}

/* =================== check_booking_amount =================== */

static void test_amount_valid_with_fraction_digits(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        unsigned fraction;
    } good[] = {{"1", 0},        {"100", 0},   {"10", 0},          {"0.5", 1},   {"100.35", 2},
                {"0.01", 2},     {"1.50", 2},  {"1.125", 3},       {"1.0001", 4}, {"1.0000000001", 10},
                {"123456789012345678", 0}, {"123456789012345678.123456", 6}, {"999999999999999999.99", 2}};
    for (size_t i = 0; i < N_OF(good); i++) {
        unsigned f = 99;
        if (!check_booking_amount(good[i].s, strlen(good[i].s), &f))
            fail_msg("\"%s\" rejected", good[i].s);
        if (f != good[i].fraction)
            fail_msg("\"%s\": %u fraction digits, want %u", good[i].s, f, good[i].fraction);
    }
}

static void test_amount_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {"",     "0",    "0.00",  "00",   "0.0",  "-1",   "+1",   "1e3", "1E3",
                                      "1.",   ".5",   ".",     "01.5", "00.5", "abc",  "1a",   " 1",  "1 ",
                                      "1,5",  "1.2.3", "1..2", "-0.5", "0x1F", "1234567890123456789",
                                      "1234567890123456789.5", "1.5e2"};
    for (size_t i = 0; i < N_OF(bad); i++) {
        unsigned f = 0;
        if (check_booking_amount(bad[i], strlen(bad[i]), &f))
            fail_msg("\"%s\" accepted", bad[i]);
    }
}

/* Only len bytes are read: the string need not be terminated. */
static void test_amount_honours_length(void **state)
{
    (void)state;
    unsigned f = 99;
    assert_true(check_booking_amount("12.345", 4, &f)); /* "12.3" */
    assert_int_equal(f, 1);
    assert_true(check_booking_amount("1.", 1, &f)); /* "1" */
    assert_int_equal(f, 0);
    assert_false(check_booking_amount("0.5", 1, &f)); /* "0" */
    assert_false(check_booking_amount("5", 0, &f));   /* "" */
    const char unterminated[3] = {'4', '2', '7'};
    assert_true(check_booking_amount(unterminated, 2, &f));
    assert_int_equal(f, 0);
    const char with_nul[4] = {'1', '\0', '5', '\0'};
    assert_false(check_booking_amount(with_nul, 3, &f));
}

/* =================== check_booking_result =================== */

static void result_verdict(const char *text, const char *want_ptr, const char *want_rule, const char *file, int line)
{
    json_t *root = tu_json_at(text, file, line);
    struct check_result res;
    memset(&res, 0, sizeof(res));
    check_booking_result(root, &res);
    if ((want_ptr ? res.n != 1 || !tu_find_violation(&res, want_ptr, want_rule) : res.n != 0) || res.dropped)
        print_error("result: %s\n", text);
    if (want_ptr)
        tu_assert_only_violation(&res, want_ptr, want_rule, file, line);
    else
        tu_assert_violation_count(&res, 0, file, line);
    check_result_clear(&res);
    json_decref(root);
}
#define assert_result_valid(text) result_verdict((text), NULL, NULL, __FILE__, __LINE__)
#define assert_result_only(text, ptr, rule) result_verdict((text), (ptr), (rule), __FILE__, __LINE__)

/* {"status":"completed","issuerBookingId":"<id>"} */
static char *completed_with_id(const char *id)
{
    size_t n = strlen(id) + 64;
    char *text = malloc(n);
    assert_non_null(text);
    snprintf(text, n, "{\"status\":\"completed\",\"issuerBookingId\":\"%s\"}", id);
    return text;
}

static char *repeated(const char *unit, size_t times)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * times] = '\0';
    return s;
}

static void test_result_completed(void **state)
{
    (void)state;
    assert_result_valid("{\"status\":\"completed\",\"issuerBookingId\":\"x\"}");
}

static void test_result_failed(void **state)
{
    (void)state;
    assert_result_valid("{\"status\":\"failed\",\"failure\":{\"reason\":\"r\",\"code\":\"c\"}}");
    assert_result_valid("{\"status\":\"failed\",\"failure\":{\"reason\":\"the card account does not existing\","
                        "\"code\":\"352452\"}}");
}

static void test_result_failed_with_issuer_booking_id(void **state)
{
    (void)state;
    assert_result_valid("{\"status\":\"failed\",\"issuerBookingId\":\"id_provided_by_ledger\","
                        "\"failure\":{\"reason\":\"r\",\"code\":\"c\"}}");
}

static void test_result_not_an_object(void **state)
{
    (void)state;
    assert_result_only("[]", "", "type");
    assert_result_only(S("completed"), "", "type");
}

static void test_result_status_missing(void **state)
{
    (void)state;
    assert_result_only("{\"issuerBookingId\":\"x\"}", "/status", "required");
}

static void test_result_status_not_in_enum(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"pending\",\"issuerBookingId\":\"x\"}", "/status", "enum");
    assert_result_only("{\"status\":\"Completed\",\"issuerBookingId\":\"x\"}", "/status", "enum");
    assert_result_only("{\"status\":1,\"issuerBookingId\":\"x\"}", "/status", "type");
}

static void test_result_completed_without_issuer_booking_id(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"completed\"}", "/issuerBookingId", "required");
}

static void test_result_completed_with_failure(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"completed\",\"issuerBookingId\":\"x\","
                       "\"failure\":{\"reason\":\"r\",\"code\":\"c\"}}",
                       "/failure", "notAllowed");
}

static void test_result_failed_without_failure(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"failed\"}", "/failure", "required");
    assert_result_only("{\"status\":\"failed\",\"issuerBookingId\":\"x\"}", "/failure", "required");
}

static void test_result_failure_not_an_object(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"failed\",\"failure\":\"no account\"}", "/failure", "type");
}

static void test_result_failure_missing_reason_or_code(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"failed\",\"failure\":{\"code\":\"c\"}}", "/failure/reason", "required");
    assert_result_only("{\"status\":\"failed\",\"failure\":{\"reason\":\"r\"}}", "/failure/code", "required");
}

static void test_result_failure_fields_wrong(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"failed\",\"failure\":{\"reason\":\"\",\"code\":\"c\"}}", "/failure/reason",
                       "minLength");
    assert_result_only("{\"status\":\"failed\",\"failure\":{\"reason\":\"r\",\"code\":\"\"}}", "/failure/code",
                       "minLength");
    assert_result_only("{\"status\":\"failed\",\"failure\":{\"reason\":\"r\",\"code\":352452}}", "/failure/code",
                       "type");

    char *code = repeated("c", 65), text[256];
    snprintf(text, sizeof(text), "{\"status\":\"failed\",\"failure\":{\"reason\":\"r\",\"code\":\"%s\"}}", code);
    free(code);
    assert_result_only(text, "/failure/code", "maxLength");

    char *reason = repeated("r", 1001);
    char *big = malloc(1200);
    assert_non_null(big);
    snprintf(big, 1200, "{\"status\":\"failed\",\"failure\":{\"reason\":\"%s\",\"code\":\"c\"}}", reason);
    free(reason);
    assert_result_only(big, "/failure/reason", "maxLength");
    free(big);
}

static void test_result_unknown_property(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"completed\",\"issuerBookingId\":\"x\",\"extra\":1}", "/extra",
                       "unevaluatedProperties");
    assert_result_only("{\"status\":\"failed\",\"failure\":{\"reason\":\"r\",\"code\":\"c\",\"detail\":\"d\"}}",
                       "/failure/detail", "unevaluatedProperties");
}

/* A worker may echo the seed's response shape: amikoBookingId is accepted (a UUID). */
static void test_result_echoed_booking_id(void **state)
{
    (void)state;
    struct check_result res;
    memset(&res, 0, sizeof(res));
    json_t *j = tu_json("{\"status\":\"completed\",\"issuerBookingId\":\"x\","
                        "\"amikoBookingId\":\"37b48334-3ad1-43e3-aa84-26075e513683\"}");
    check_booking_result(j, &res);
    assert_no_violations(&res);
    check_result_clear(&res);
    json_decref(j);
    assert_result_only("{\"status\":\"completed\",\"issuerBookingId\":\"x\",\"amikoBookingId\":\"nope\"}",
                       "/amikoBookingId", "format");
}

static void test_result_issuer_booking_id_empty(void **state)
{
    (void)state;
    assert_result_only("{\"status\":\"completed\",\"issuerBookingId\":\"\"}", "/issuerBookingId", "minLength");
    assert_result_only("{\"status\":\"completed\",\"issuerBookingId\":null}", "/issuerBookingId", "type");
}

static void test_result_issuer_booking_id_length(void **state)
{
    (void)state;
    char *id = repeated("a", 128), *text = completed_with_id(id);
    assert_result_valid(text);
    free(text);
    free(id);

    id = repeated("a", 129);
    text = completed_with_id(id);
    assert_result_only(text, "/issuerBookingId", "maxLength");
    free(text);
    free(id);

    /* characters, not bytes: 128 two-byte characters fit */
    id = repeated("\xc3\xa9", 128);
    text = completed_with_id(id);
    assert_result_valid(text);
    free(text);
    free(id);
}

/* =================== the fixture files =================== */

/* Every entry of verdicts.json: its file, checked with check_booking, gives exactly the
 * listed violations. */
static void test_fixture_verdicts(void **state)
{
    (void)state;
    tu_check_verdicts("booking", check_booking, 3);
}

/* Every payload under valid/ and invalid/ has a verdict: none for valid/, some for invalid/. */
static void test_every_fixture_has_a_verdict(void **state)
{
    (void)state;
    tu_check_every_fixture_has_verdict("booking", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* valid bookings */
        cmocka_unit_test(test_seed_sample_is_valid),
        cmocka_unit_test(test_enum_arrays_are_the_seeds),
        cmocka_unit_test(test_every_allowed_combination_is_valid),
        cmocka_unit_test(test_every_lifecycle_is_accepted),
        cmocka_unit_test(test_every_dispute_reason_code_is_accepted),
        cmocka_unit_test(test_both_case_types_are_accepted),
        cmocka_unit_test(test_booking_reference_empty_is_accepted),
        cmocka_unit_test(test_partial_with_numeric_currency_only),
        cmocka_unit_test(test_partial_with_alpha_currency_only),
        cmocka_unit_test(test_partial_with_both_currencies_agreeing),
        cmocka_unit_test(test_partial_jpy_without_decimals),
        cmocka_unit_test(test_partial_kwd_with_three_decimals),
        cmocka_unit_test(test_partial_with_fewer_decimals_than_the_currency),
        cmocka_unit_test(test_amount_with_eighteen_integer_digits),
        cmocka_unit_test(test_booking_amount_percentage_is_accepted),
        cmocka_unit_test(test_optional_fields_absent_are_accepted),
        cmocka_unit_test(test_unknown_property_is_accepted),
        /* invalid bookings: field rules */
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_required_field_missing),
        cmocka_unit_test(test_amiko_booking_id_not_a_uuid),
        cmocka_unit_test(test_amiko_booking_id_not_a_string),
        cmocka_unit_test(test_amiko_case_type_wrong),
        cmocka_unit_test(test_booking_target_wrong),
        cmocka_unit_test(test_booking_operation_wrong),
        cmocka_unit_test(test_booking_reason_wrong),
        cmocka_unit_test(test_dispute_reason_code_wrong),
        cmocka_unit_test(test_transaction_lifecycle_wrong),
        cmocka_unit_test(test_is_full_amount_not_a_boolean),
        cmocka_unit_test(test_card_id_wrong),
        cmocka_unit_test(test_booking_reference_not_an_array),
        cmocka_unit_test(test_booking_reference_item_not_a_string),
        cmocka_unit_test(test_transaction_not_an_object),
        cmocka_unit_test(test_transaction_field_wrong_type),
        cmocka_unit_test(test_other_optional_fields_wrong_type),
        /* invalid bookings: cross-field rules */
        cmocka_unit_test(test_target_with_a_foreign_operation),
        cmocka_unit_test(test_every_reason_with_a_foreign_operation),
        cmocka_unit_test(test_target_and_reason_both_foreign),
        cmocka_unit_test(test_invalid_operation_reported_once),
        cmocka_unit_test(test_partial_without_amount),
        cmocka_unit_test(test_partial_without_currency),
        cmocka_unit_test(test_partial_without_amount_and_currency),
        cmocka_unit_test(test_currency_code_format),
        cmocka_unit_test(test_currency_code_alpha_format),
        cmocka_unit_test(test_currencies_disagree),
        cmocka_unit_test(test_amount_format),
        cmocka_unit_test(test_amount_more_than_eighteen_integer_digits),
        cmocka_unit_test(test_amount_more_decimals_than_the_currency),
        cmocka_unit_test(test_many_violations_all_reported),
        /* known bugs, skipped */
        cmocka_unit_test(test_bug_unknown_reason_reported_once),
        cmocka_unit_test(test_bug_partial_currency_wrong_type_not_required),
        /* check_booking_amount */
        cmocka_unit_test(test_amount_valid_with_fraction_digits),
        cmocka_unit_test(test_amount_invalid),
        cmocka_unit_test(test_amount_honours_length),
        /* check_booking_result */
        cmocka_unit_test(test_result_completed),
        cmocka_unit_test(test_result_failed),
        cmocka_unit_test(test_result_failed_with_issuer_booking_id),
        cmocka_unit_test(test_result_not_an_object),
        cmocka_unit_test(test_result_status_missing),
        cmocka_unit_test(test_result_status_not_in_enum),
        cmocka_unit_test(test_result_completed_without_issuer_booking_id),
        cmocka_unit_test(test_result_completed_with_failure),
        cmocka_unit_test(test_result_failed_without_failure),
        cmocka_unit_test(test_result_failure_not_an_object),
        cmocka_unit_test(test_result_failure_missing_reason_or_code),
        cmocka_unit_test(test_result_failure_fields_wrong),
        cmocka_unit_test(test_result_unknown_property),
        cmocka_unit_test(test_result_echoed_booking_id),
        cmocka_unit_test(test_result_issuer_booking_id_empty),
        cmocka_unit_test(test_result_issuer_booking_id_length),
        /* fixture files */
        cmocka_unit_test(test_fixture_verdicts),
        cmocka_unit_test(test_every_fixture_has_a_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
