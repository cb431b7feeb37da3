/* The Amiko booking schema (seed: amiko-booking-api.txt) with the contract's
 * cross-field rules, and the ledger worker's result body. */
#ifndef ISSUERHOOK_CHECK_BOOKING_H
#define ISSUERHOOK_CHECK_BOOKING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/check.h"

/* POST /bookings. */
void check_booking(const json_t *root, struct check_result *res);
/* POST /bookings/{id}/result: {"status":"completed","issuerBookingId"} or
 * {"status":"failed","failure":{"reason","code"}} (optionally issuerBookingId). */
void check_booking_result(const json_t *root, struct check_result *res);

/* A positive decimal amount ("123.45"): digits, optionally '.' and digits, no sign or
 * exponent, no leading zeros, above zero. *fraction gets the number of decimals. */
bool check_booking_amount(const char *s, size_t len, unsigned *fraction);

/* The enums, NULL-terminated (for tests and documentation). */
extern const char *const booking_reasons[];
extern const char *const booking_lifecycles[];
extern const char *const booking_dispute_reason_codes[];

#endif
