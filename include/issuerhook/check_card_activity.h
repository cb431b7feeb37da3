/* The Apiture System Card Activity webhook body (seed: apiture-card-activity-webhook.txt,
 * schema incomingSystemCardActivity), POST /system/incomingCardActivity. */
#ifndef ISSUERHOOK_CHECK_CARD_ACTIVITY_H
#define ISSUERHOOK_CHECK_CARD_ACTIVITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/check.h"

/* Checks every constraint of the seed: institutionId, 1..1000 items (with more, only
 * maxItems is reported and the items are not walked), each item's fields, the money
 * amount, the merchant and its partial address (regionCode and regionName mutually
 * exclusive), and no unknown property at any level. res starts zeroed; the caller
 * clears it. No violation carries a PAN or a tax id: messages never quote a value, and
 * a pointer segment with 9 or more digits (an unknown property named like a card or tax
 * number) has its digits masked with '*'. */
void check_card_activity(const json_t *root, struct check_result *res);

/* The seed's fullCardPersonalAccountNumber: 14 to 19 characters, ASCII digits and spaces,
 * first and last a digit (pattern ^\d{1}[0-9 ]{12,17}\d{1}$). No Luhn check. */
bool check_card_pan(const char *s, size_t len);

/* The enums, NULL-terminated, exactly as the seed lists them. */
extern const char *const card_activity_types[];       /* cardActivityType */
extern const char *const card_activity_reason_codes[]; /* cardActivityReasonCode */
extern const char *const card_activity_locations[];   /* cardActivityLocation */
extern const char *const card_merchant_categories[];  /* cardMerchantCategories */

#endif
