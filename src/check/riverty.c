/* The seed flattens its enums into one word each ("InfoPurchaseWithdrawal..."); they
 * are split here as the Riverty API names them (categoryType has Unit and Consumer as
 * two values, as Riverty's add-event documentation lists them). */
#include <string.h>

#include "issuerhook/check_riverty.h"
#include "issuerhook/timefmt.h"

const char *const riverty_event_types[] = {"Info", "Purchase", "Withdrawal", "WithdrawalCorrection",
                                           "WithdrawalCommission", "InterestCorrection", NULL};
const char *const riverty_category_types[] = {"NotSet", "Charge", "Sales", "Deposit", "Payout", "Transfer",
                                              "Unit", "Consumer", "Cancel", "Clearing", "CardDeposit", "CardClearing",
                                              NULL};
const char *const riverty_currencies[] = {"EUR", "NOK", "SEK", "DKK", "CHF", NULL};
const char *const riverty_countries[] = {"NO", "SE", "FI", "DK", "DE", "AT", "CH", "NL", "BE", NULL};
const char *const riverty_languages[] = {"NO", "SV", "SE", "FI", "DA", "DK", "EN", "DE", "NL", "FR", NULL};

static bool is_datetime(const char *s, size_t len)
{
    int64_t ms;
    return timefmt_parse_rfc3339(s, len, &ms);
}

bool check_riverty_account(const char *s, size_t len)
{
    if (len < 1 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

bool check_riverty_obsolete_language(const char *lang, const char **use_instead)
{
    if (lang && !strcmp(lang, "SE")) {
        *use_instead = "SV";
        return true;
    }
    if (lang && !strcmp(lang, "DK")) {
        *use_instead = "DA";
        return true;
    }
    return false;
}

static const struct check_field item_fields[] = {
    {.name = "itemId", .type = CT_STRING, .required = true},
    {.name = "itemDescription", .type = CT_STRING, .required = true},
    {.name = "unitCode", .type = CT_STRING, .required = true},
    {.name = "quantity", .type = CT_NUMBER, .required = true},
    {.name = "unitPrice", .type = CT_NUMBER, .required = true},
    {.name = "netAmount", .type = CT_NUMBER},
    {.name = "taxAmount", .type = CT_NUMBER},
    {.name = "discount", .type = CT_NUMBER},
    {.name = "grossAmount", .type = CT_NUMBER},
    {0}};
static const struct check_object_rule item_rule = {.fields = item_fields};
static const struct check_field item = {.type = CT_OBJECT, .object = &item_rule};

static const struct check_field event_fields[] = {
    {.name = "eventType", .type = CT_STRING, .required = true, .enum_values = riverty_event_types},
    {.name = "categoryType", .type = CT_STRING, .enum_values = riverty_category_types},
    {.name = "time", .type = CT_STRING, .required = true, .format = is_datetime,
     .format_name = "an RFC 3339 date-time such as 2024-10-01T07:56:02Z"},
    {.name = "nfcId", .type = CT_STRING},
    {.name = "posId", .type = CT_STRING},
    {.name = "posName", .type = CT_STRING},
    {.name = "totalTax", .type = CT_NUMBER},
    {.name = "totalAmount", .type = CT_NUMBER},
    {.name = "items", .type = CT_ARRAY, .items = &item},
    {.name = "currency", .type = CT_STRING, .required = true, .enum_values = riverty_currencies},
    {.name = "accountTransactionId", .type = CT_STRING, .min_len = 1, .max_len = 128},
    {.name = "countryCode", .type = CT_STRING, .required = true, .enum_values = riverty_countries},
    {.name = "conversationLanguage", .type = CT_STRING, .required = true, .enum_values = riverty_languages},
    {0}};
static const struct check_object_rule event_rule = {.fields = event_fields};

void check_riverty_event(const json_t *root, struct check_result *res)
{
    struct check_ctx ctx;
    check_init(&ctx, res);
    check_object(&ctx, root, &event_rule);
}
