/* POST /system/incomingCardActivity: the seed's incomingSystemCardActivity, cardActivity,
 * money, cardActivityMerchant and partialAddress schemas. Every "Unevaluated Properties:
 * false" of the seed, and (by the contract: "an unknown property anywhere is a 400") the
 * money and address objects too, are closed. Patterns are hand-written, bounded matchers;
 * each quotes the seed's pattern. readOnly in the seed (customerId, occurredAt) is a
 * response-side annotation and does not forbid the property in this request. */
#include "issuerhook/check_card_activity.h"

#include <string.h>

const char *const card_activity_types[] = {"approved", "declined", NULL};

const char *const card_activity_reason_codes[] = {
    "transactionLimitSurpassed", "dailyLimitSurpassed", "monthlyLimitSurpassed",
    "transactionOccurred", "transactionDeclined", "merchantCategoryAlertTriggered",
    "transactionCategoryAlertTriggered", "allowedRegionsAlertTriggered", "cardFrozen",
    "invalidMerchantLocation", "merchantBlocked", NULL};

const char *const card_activity_locations[] = {
    "atm", "autopay", "transfer", "physicalMerchant", "mailMerchant", "phoneMerchant",
    "onlineMerchant", "other", NULL};

const char *const card_merchant_categories[] = {
    "ageRestricted", "ageRestricted.drinkingPlaces", "ageRestricted.gambling",
    "ageRestricted.liquorAndCigarStores", "ageRestricted.dating",
    "education", "education.tuitionFees", "education.books",
    "entertainment", "entertainment.games", "entertainment.musicAndMovies", "entertainment.parks",
    "entertainment.other",
    "foodAndDining", "foodAndDining.restaurants", "foodAndDining.groceries",
    "giftsAndDonations", "giftsAndDonations.gifts", "giftsAndDonations.donations",
    "household", "household.maintenanceOrRepair", "household.decorationOrImprovement",
    "household.housekeeping", "household.cableUtilities", "household.communicationUtilities",
    "household.security", "household.chemicalUtilities", "household.otherUtilities",
    "household.rentalServices", "household.laundry",
    "insurance",
    "personalCare", "personalCare.pharmacy", "personalCare.beautyProducts", "personalCare.doctor",
    "personalCare.sports", "personalCare.wellness", "personalCare.childrenServices",
    "shopping", "shopping.clothing", "shopping.electronics", "shopping.accessories", "shopping.other",
    "transportation", "transportation.autoServices", "transportation.gasOrFuel",
    "transportation.parking", "transportation.toll", "transportation.other",
    "travel", "travel.autoRentals", "travel.airline", "travel.train", "travel.lodging", "travel.other",
    "other", "other.atm", NULL};

/* ---- patterns ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_alnum(char c)
{
    return is_digit(c) || is_alpha(c);
}

/* institutionId: "^[A-Z0-9_]{2,8}$" */
static bool is_institution_id(const char *s, size_t len)
{
    if (len < 2 || len > 8)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || is_digit(s[i]) || s[i] == '_'))
            return false;
    return true;
}

/* customerId (resourceId): "^[-_:.~$a-zA-Z0-9]{6,48}$" */
static bool is_resource_id(const char *s, size_t len)
{
    if (len < 6 || len > 48)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]) && (s[i] == '\0' || !strchr("-_:.~$", s[i])))
            return false;
    return true;
}

/* pan: "^\d{1}[0-9 ]{12,17}\d{1}$" (the seed also prints it JSON-escaped, "^\\d{1}...";
 * both mean a digit). \d is ASCII 0-9 only. */
bool check_card_pan(const char *s, size_t len)
{
    if (len < 14 || len > 19 || !is_digit(s[0]) || !is_digit(s[len - 1]))
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!is_digit(s[i]) && s[i] != ' ')
            return false;
    return true;
}

/* money.value (monetaryValue): "^(0|[1-9][0-9]*)\.[0-9][0-9]$" (printed "\\." in the money
 * table: the JSON-escaped form of the same literal dot). No sign: the pattern wins over
 * the prose "a negative amount denotes a debit". */
static bool is_money_value(const char *s, size_t len)
{
    size_t i = 0;
    if (len < 4 || !is_digit(s[0]))
        return false;
    if (s[0] == '0')
        i = 1;
    else
        while (i < len && is_digit(s[i]))
            i++;
    return i + 3 == len && s[i] == '.' && is_digit(s[i + 1]) && is_digit(s[i + 2]);
}

/* money.currency (currencyCode): "^[A-Z]{3}$" */
static bool is_currency(const char *s, size_t len)
{
    return len == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z';
}

/* countryCode and regionCode: "^[A-Za-z]{2}$" */
static bool is_alpha2(const char *s, size_t len)
{
    return len == 2 && is_alpha(s[0]) && is_alpha(s[1]);
}

/* postalCode: "[0-9A-Za-z][- 0-9A-Za-z]{0,18}[0-9A-Za-z]" — the seed does not anchor this
 * one, and a JSON Schema pattern matches anywhere in the string, so the string must
 * contain two letters or digits at most 19 apart with only letters, digits, spaces and
 * hyphens between them. One pass: within a run of [- 0-9A-Za-z], the nearest earlier
 * letter or digit is the best partner of each letter or digit. */
static bool is_postal_code(const char *s, size_t len)
{
    bool have = false; /* a letter or digit earlier in the current run */
    size_t last = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_alnum(s[i])) {
            if (have && i - last <= 19)
                return true;
            have = true;
            last = i;
        } else if (s[i] != ' ' && s[i] != '-') {
            have = false;
        }
    }
    return false;
}

/* ---- schemas ---- */

/* partialAddress: no property required ("Partial addresses do not require any property
 * to have a value"); the prose "required if countryCode is (not) US" is not enforced. */
static void address_exclusive(struct check_ctx *ctx, const json_t *address)
{
    if (json_object_get(address, "regionCode") && json_object_get(address, "regionName")) {
        size_t saved = check_push_key(ctx, "regionName");
        check_fail(ctx, "mutuallyExclusive", "must not be given together with regionCode");
        check_pop(ctx, saved);
    }
}

static const struct check_field address_fields[] = {
    {.name = "address1", .type = CT_STRING, .max_len = 35},
    {.name = "address2", .type = CT_STRING, .max_len = 35},
    {.name = "locality", .type = CT_STRING, .max_len = 30},
    {.name = "countryCode", .type = CT_STRING, .min_len = 2, .max_len = 2, .format = is_alpha2,
     .format_name = "two letters (ISO 3166-1 alpha-2)"},
    {.name = "regionName", .type = CT_STRING, .min_len = 2, .max_len = 20},
    {.name = "regionCode", .type = CT_STRING, .min_len = 2, .max_len = 2, .format = is_alpha2,
     .format_name = "two letters"},
    {.name = "postalCode", .type = CT_STRING, .min_len = 2, .max_len = 20, .format = is_postal_code,
     .format_name = "a postal code of letters, digits, spaces and hyphens"},
    {0}};
static const struct check_object_rule address_rule = {.fields = address_fields, .closed = true,
                                                      .extra = address_exclusive};

static const struct check_field merchant_fields[] = {
    {.name = "category", .type = CT_STRING, .enum_values = card_merchant_categories},
    {.name = "name", .type = CT_STRING, .min_len = 1, .max_len = 200},
    {.name = "address", .type = CT_OBJECT, .object = &address_rule},
    {0}};
static const struct check_object_rule merchant_rule = {.fields = merchant_fields, .closed = true};

/* money: neither property is marked (required) in the seed. */
static const struct check_field money_fields[] = {
    {.name = "value", .type = CT_STRING, .max_len = 16, .format = is_money_value,
     .format_name = "a decimal with two fraction digits and no sign, such as 1000.00"},
    {.name = "currency", .type = CT_STRING, .min_len = 3, .max_len = 3, .format = is_currency,
     .format_name = "three upper-case letters (ISO 4217)"},
    {0}};
static const struct check_object_rule money_rule = {.fields = money_fields, .closed = true};

static const struct check_field item_fields[] = {
    {.name = "customerId", .type = CT_STRING, .min_len = 6, .max_len = 48, .format = is_resource_id,
     .format_name = "6 to 48 characters among a-z, A-Z, 0-9 and -_:.~$"},
    {.name = "customerTaxId", .type = CT_STRING, .min_len = 9, .max_len = 11},
    {.name = "cardId", .type = CT_STRING}, /* the seed's row is cut short: no constraint given */
    {.name = "pan", .type = CT_STRING, .required = true, .min_len = 14, .max_len = 19, .format = check_card_pan,
     .format_name = "a card number: digits and spaces, first and last a digit"},
    {.name = "activityType", .type = CT_STRING, .required = true, .enum_values = card_activity_types},
    {.name = "reasonCode", .type = CT_STRING, .required = true, .enum_values = card_activity_reason_codes},
    {.name = "reason", .type = CT_STRING, .min_len = 1, .max_len = 400},
    {.name = "amount", .type = CT_OBJECT, .object = &money_rule},
    {.name = "merchant", .type = CT_OBJECT, .object = &merchant_rule},
    {.name = "occurredAt", .type = CT_STRING, .required = true, .min_len = 20, .max_len = 30,
     .format = check_is_datetime_utc, .format_name = "an RFC 3339 date-time in UTC, YYYY-MM-DDThh:mm:ss.sssZ"},
    {.name = "location", .type = CT_STRING, .required = true, .enum_values = card_activity_locations},
    {0}};
static const struct check_object_rule item_rule = {.fields = item_fields, .closed = true};
static const struct check_field item = {.type = CT_OBJECT, .object = &item_rule};

static const struct check_field root_fields[] = {
    {.name = "institutionId", .type = CT_STRING, .required = true, .min_len = 2, .max_len = 8,
     .format = is_institution_id, .format_name = "2 to 8 characters among A-Z, 0-9 and _"},
    {.name = "items", .type = CT_ARRAY, .required = true, .min_items = 1, .max_items = 1000, .items = &item},
    {0}};
static const struct check_object_rule root_rule = {.fields = root_fields, .closed = true};

/* ---- card data out of the pointers ---- */

/* The only pointer segments that come from the sender's text are unknown property names.
 * One with 9 or more digits could be a PAN or a tax id: its digits become '*' (the
 * pointer keeps its length and its shape). Known names have no digits and array indexes
 * at most 4. */
static void mask_card_numbers(char *pointer)
{
    char *seg = pointer;
    while (*seg) {
        seg++; /* past '/' */
        char *end = seg;
        size_t digits = 0;
        while (*end && *end != '/')
            digits += is_digit(*end++);
        if (digits >= 9)
            for (char *c = seg; c < end; c++)
                if (is_digit(*c))
                    *c = '*';
        seg = end;
    }
}

void check_card_activity(const json_t *root, struct check_result *res)
{
    struct check_ctx ctx;
    size_t first = res->n;
    check_init(&ctx, res);
    check_object(&ctx, root, &root_rule);
    for (size_t i = first; i < res->n; i++)
        mask_card_numbers(res->v[i].pointer);
}
