/* POST /bookings and POST /bookings/{id}/result. Field rules come from the seed;
 * the cross-field rules (target <-> operation, reason <-> operation, partial amounts,
 * currencies) from the contract's booking section. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "issuerhook/check_booking.h"
#include "issuerhook/iso4217.h"

static const char *const case_types[] = {"cardholder_dispute", "fraud", NULL};
static const char *const targets[] = {"card_account", "general_ledger", NULL};
static const char *const operations[] = {"credit", "debit", "write_off", "write_off_reversal", NULL};

const char *const booking_reasons[] = {
    "credit_permanent_refund", "credit_temporary_refund", "debit_cardholder_deductible",
    "debit_cardholder_liability", "debit_direct_merchant_credit", "write_off_goodwill",
    "write_off_handling_mistake", "write_off_issuer_liability", "write_off_issuer_policy",
    "write_off_reversal_cardholder_liability", "write_off_reversal_direct_merchant_credit", NULL};

const char *const booking_dispute_reason_codes[] = {
    "4880", "4863", "4840", "4855", "4859", "4841", "4860", "4831", "4842", "4846", "4807", "4812",
    "4808", "4853", "4837", "4849", "4870", "4871", "4834", "4850", "4999", "2001", "2002", "2003",
    "2004", "2005", "2008", "2011", "2700", "2701", "2702", "2703", "2704", "2705", "2706", "2707",
    "2708", "2709", "2710", "2713", "2870", "2871", "10.1", "10.2", "10.3", "10.4", "10.5", "11.1",
    "11.2", "11.3", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6.1", "12.6.2", "12.7", "13.1",
    "13.2", "13.3", "13.4", "13.5", "13.6", "13.7", "13.8", "13.9", NULL};

const char *const booking_lifecycles[] = {
    "dispute_rejected", "dispute_reversed", "dispute_submitted", "dispute_pending",
    "outgoing_arbitration_lost_failed", "outgoing_arbitration_rebutted", "outgoing_arbitration_submitted",
    "outgoing_arbitration_withdrawn", "outgoing_arbitration_won", "outgoing_case_filing_escalated",
    "outgoing_case_filing_lost_failed", "outgoing_case_filing_rejected", "outgoing_case_filing_submitted",
    "outgoing_case_filing_withdrawn", "outgoing_case_filing_won", "outgoing_compliance_lost_failed",
    "outgoing_compliance_rebutted", "outgoing_compliance_submitted", "outgoing_compliance_withdrawn",
    "outgoing_compliance_won", "outgoing_pre_arbitration_lost_failed", "outgoing_pre_arbitration_rejected",
    "outgoing_pre_arbitration_submitted", "outgoing_pre_arbitration_withdrawn", "outgoing_pre_arbitration_won",
    "outgoing_pre_compliance_lost_failed", "outgoing_pre_compliance_rejected", "outgoing_pre_compliance_submitted",
    "outgoing_pre_compliance_withdrawn", "outgoing_pre_compliance_won", "pre_dispute_failed", "pre_dispute_pending",
    "pre_dispute_successful", "representment_or_dispute_response", "none", "incoming_arbitration_lost_failed",
    "incoming_arbitration_received", "incoming_arbitration_withdrawn", "incoming_arbitration_won",
    "incoming_case_filing_escalated", "incoming_case_filing_lost_failed", "incoming_case_filing_received",
    "incoming_case_filing_rejected", "incoming_case_filing_withdrawn", "incoming_case_filing_won",
    "incoming_compliance_lost_failed", "incoming_compliance_received", "incoming_compliance_withdrawn",
    "incoming_compliance_won", "incoming_pre_arbitration_lost_failed", "incoming_pre_arbitration_received",
    "incoming_pre_arbitration_rejected", "incoming_pre_arbitration_withdrawn", "incoming_pre_arbitration_won",
    "incoming_pre_compliance_lost_failed", "incoming_pre_compliance_received", "incoming_pre_compliance_rejected",
    "incoming_pre_compliance_withdrawn", "incoming_pre_compliance_won", NULL};

static bool is_numeric_code(const char *s, size_t len)
{
    return len == 3 && iso4217_by_numeric(s) != NULL;
}

static bool is_alpha_code(const char *s, size_t len)
{
    return len == 3 && iso4217_by_alpha(s) != NULL;
}

static bool amount_format(const char *s, size_t len)
{
    unsigned f;
    return check_booking_amount(s, len, &f);
}

bool check_booking_amount(const char *s, size_t len, unsigned *fraction)
{
    size_t i = 0, int_digits = 0, frac_digits = 0;
    bool nonzero = false;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        nonzero |= s[i] != '0';
        i++;
        int_digits++;
    }
    if (int_digits == 0 || int_digits > 18 || (int_digits > 1 && s[0] == '0'))
        return false;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            nonzero |= s[i] != '0';
            i++;
            frac_digits++;
        }
        if (frac_digits == 0)
            return false;
    }
    *fraction = (unsigned)frac_digits;
    return i == len && nonzero;
}

static const struct check_field transaction_fields[] = {
    {.name = "issuerBIN", .type = CT_STRING},
    {.name = "issuerICA", .type = CT_STRING},
    {.name = "scheme", .type = CT_STRING},
    {.name = "ARN", .type = CT_STRING},
    {.name = "dateAndTimeLocal", .type = CT_STRING},
    {.name = "originalTransactionAmount", .type = CT_STRING},
    {.name = "originalTransactionCurrency", .type = CT_STRING},
    {.name = "merchantName", .type = CT_STRING},
    {.name = "MCC", .type = CT_STRING},
    {.name = "merchantState", .type = CT_STRING},
    {.name = "merchantCountry", .type = CT_STRING},
    {0}};
static const struct check_object_rule transaction_rule = {.fields = transaction_fields};

static const struct check_field reference_item = {.type = CT_STRING};

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The operation a reason belongs to: credit_*, debit_*, write_off_reversal_*, write_off_*. */
static const char *operation_of_reason(const char *reason)
{
    if (strncmp(reason, "credit_", 7) == 0)
        return "credit";
    if (strncmp(reason, "debit_", 6) == 0)
        return "debit";
    if (strncmp(reason, "write_off_reversal_", 19) == 0)
        return "write_off_reversal";
    if (strncmp(reason, "write_off_", 10) == 0)
        return "write_off";
    return NULL;
}

static void fail_at(struct check_ctx *ctx, const char *key, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_at(struct check_ctx *ctx, const char *key, const char *rule, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t saved = check_push_key(ctx, key);
    check_fail(ctx, rule, "%s", msg);
    check_pop(ctx, saved);
}

static void cross_fields(struct check_ctx *ctx, const json_t *b)
{
    const char *target = str(b, "bookingTarget"), *op = str(b, "bookingOperation"), *reason = str(b, "bookingReason");
    /* target <-> operation (only when both are valid enum values; else already reported) */
    if (target && op) {
        bool card = strcmp(target, "card_account") == 0, gl = strcmp(target, "general_ledger") == 0;
        bool card_op = !strcmp(op, "credit") || !strcmp(op, "debit");
        bool gl_op = !strcmp(op, "write_off") || !strcmp(op, "write_off_reversal");
        if (card && gl_op)
            fail_at(ctx, "bookingOperation", "bookingTarget", "%s is not allowed with bookingTarget card_account (credit or debit)", op);
        else if (gl && card_op)
            fail_at(ctx, "bookingOperation", "bookingTarget",
                    "%s is not allowed with bookingTarget general_ledger (write_off or write_off_reversal)", op);
    }
    /* reason <-> operation (a reason outside the enum is already reported) */
    bool known_reason = false;
    for (const char *const *e = booking_reasons; reason && *e && !known_reason; e++)
        known_reason = strcmp(*e, reason) == 0;
    const char *reason_op = known_reason ? operation_of_reason(reason) : NULL;
    if (reason_op && op && (!strcmp(op, "credit") || !strcmp(op, "debit") || !strcmp(op, "write_off") ||
                            !strcmp(op, "write_off_reversal")) && strcmp(reason_op, op) != 0)
        fail_at(ctx, "bookingReason", "bookingOperation", "belongs to bookingOperation %s", reason_op);

    /* currencies: each must be known (field rules); both given must agree */
    const char *num = str(b, "currencyCode"), *alpha = str(b, "currencyCodeAlpha");
    const struct iso4217 *cn = num ? iso4217_by_numeric(num) : NULL, *ca = alpha ? iso4217_by_alpha(alpha) : NULL;
    if (cn && ca && cn != ca) {
        char both[32];
        snprintf(both, sizeof(both), "%s is %s", cn->numeric, cn->alpha);
        fail_at(ctx, "currencyCodeAlpha", "currencyMismatch", "names another currency than currencyCode (%s)", both);
    }
    const struct iso4217 *cur = cn ? cn : ca;

    /* partial amounts need an amount and a currency */
    const json_t *full = json_object_get(b, "isFullAmount");
    const char *amount = str(b, "bookingAmount");
    if (json_is_false(full)) {
        if (!json_object_get(b, "bookingAmount"))
            fail_at(ctx, "bookingAmount", "required", "is required when isFullAmount is %s", "false");
        if (!json_object_get(b, "currencyCode") && !json_object_get(b, "currencyCodeAlpha"))
            fail_at(ctx, "currencyCode", "required", "is required (or currencyCodeAlpha) when isFullAmount is %s",
                    "false");
    }
    unsigned frac;
    if (amount && cur && check_booking_amount(amount, strlen(amount), &frac) && frac > cur->minor_units) {
        char what[48];
        snprintf(what, sizeof(what), "%u for %s", cur->minor_units, cur->alpha);
        fail_at(ctx, "bookingAmount", "minorUnits", "has more decimals than the currency allows (%s)", what);
    }
}

static const struct check_field booking_fields[] = {
    {.name = "agentOidcId", .type = CT_STRING},
    {.name = "amikoBookingId", .type = CT_STRING, .required = true, .format = check_is_uuid, .format_name = "a UUID"},
    {.name = "amikoCaseType", .type = CT_STRING, .required = true, .enum_values = case_types},
    {.name = "bookingAmount", .type = CT_STRING, .format = amount_format,
     .format_name = "a positive decimal amount such as 123.45"},
    {.name = "isFullAmount", .type = CT_BOOL, .required = true},
    {.name = "bookingAmountPercentage", .type = CT_STRING}, /* deprecated: accepted, stored, ignored */
    {.name = "currencyCode", .type = CT_STRING, .format = is_numeric_code,
     .format_name = "an ISO 4217 numeric currency code such as 840"},
    {.name = "currencyCodeAlpha", .type = CT_STRING, .format = is_alpha_code,
     .format_name = "an ISO 4217 alphabetic currency code such as USD"},
    {.name = "cardId", .type = CT_STRING, .required = true, .min_len = 1},
    {.name = "bookingTarget", .type = CT_STRING, .required = true, .enum_values = targets},
    {.name = "bookingOperation", .type = CT_STRING, .required = true, .enum_values = operations},
    {.name = "bookingReason", .type = CT_STRING, .required = true, .enum_values = booking_reasons},
    {.name = "disputeReasonCode", .type = CT_STRING, .enum_values = booking_dispute_reason_codes},
    {.name = "transactionLifecycle", .type = CT_STRING, .required = true, .enum_values = booking_lifecycles},
    {.name = "bookingReference", .type = CT_ARRAY, .required = true, .items = &reference_item},
    {.name = "transaction", .type = CT_OBJECT, .required = true, .object = &transaction_rule},
    {.name = "issuerWriteOffReason", .type = CT_STRING},
    {0}};
static const struct check_object_rule booking_rule = {.fields = booking_fields, .extra = cross_fields};

void check_booking(const json_t *root, struct check_result *res)
{
    struct check_ctx ctx;
    check_init(&ctx, res);
    check_object(&ctx, root, &booking_rule);
}

/* ---- the ledger worker's result ---- */

static const char *const result_statuses[] = {"completed", "failed", NULL};

static const struct check_field failure_fields[] = {
    {.name = "reason", .type = CT_STRING, .required = true, .min_len = 1, .max_len = 1000},
    {.name = "code", .type = CT_STRING, .required = true, .min_len = 1, .max_len = 64},
    {0}};
static const struct check_object_rule failure_rule = {.fields = failure_fields, .closed = true};

static void result_cross(struct check_ctx *ctx, const json_t *r)
{
    const char *status = str(r, "status");
    if (!status)
        return;
    if (!strcmp(status, "completed")) {
        if (!json_object_get(r, "issuerBookingId"))
            fail_at(ctx, "issuerBookingId", "required", "is required when status is %s", status);
        if (json_object_get(r, "failure"))
            fail_at(ctx, "failure", "notAllowed", "is only allowed when status is %s", "failed");
    } else if (!strcmp(status, "failed") && !json_object_get(r, "failure")) {
        fail_at(ctx, "failure", "required", "is required when status is %s", status);
    }
}

static const struct check_field result_fields[] = {
    {.name = "status", .type = CT_STRING, .required = true, .enum_values = result_statuses},
    /* the seed's response shape carries it; accepted (the handler checks it names the
     * booking of the path) so a worker may echo that shape */
    {.name = "amikoBookingId", .type = CT_STRING, .format = check_is_uuid, .format_name = "a UUID"},
    {.name = "issuerBookingId", .type = CT_STRING, .min_len = 1, .max_len = 128},
    {.name = "failure", .type = CT_OBJECT, .object = &failure_rule},
    {0}};
static const struct check_object_rule result_rule = {.fields = result_fields, .closed = true, .extra = result_cross};

void check_booking_result(const json_t *root, struct check_result *res)
{
    struct check_ctx ctx;
    check_init(&ctx, res);
    check_object(&ctx, root, &result_rule);
}
