/* The Riverty customer-account event (seed: riverty-customer-account-event-api.txt). */
#ifndef ISSUERHOOK_CHECK_RIVERTY_H
#define ISSUERHOOK_CHECK_RIVERTY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/check.h"

/* POST /api/v3/customer-account/{accountNumber}/event: the body. */
void check_riverty_event(const json_t *root, struct check_result *res);
/* The path's account number: 1 to 64 letters, digits, '-' or '_'. */
bool check_riverty_account(const char *s, size_t len);
/* true for the obsolete conversationLanguage values SE and DK (accepted, with a
 * NotificationMessage saying what to use instead, written into use_instead). */
bool check_riverty_obsolete_language(const char *lang, const char **use_instead);

extern const char *const riverty_event_types[];
extern const char *const riverty_category_types[];
extern const char *const riverty_currencies[];
extern const char *const riverty_countries[];
extern const char *const riverty_languages[];

#endif
