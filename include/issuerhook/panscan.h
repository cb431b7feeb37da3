/* Card numbers in free text. Every string a route stores (values and member names) is
 * scanned before anything is queued, logged or stored, and each card number found is
 * masked in place: every digit but the last four becomes '*', separators stay
 * ("card 5200 8282 8282 8210" -> "card **** **** **** 8210").
 *
 * A card number here is 13 to 19 digits, in groups joined by single spaces or dashes,
 * that passes the Luhn check. A chain of such groups glued to a letter or a digit
 * ("DE89 3704 ...", "x4111...") or to a decimal point or comma followed by more digits
 * ("1234567890123.45") is part of a longer token and left alone; inside a free-standing
 * chain, the longest valid run of whole groups is masked ("4111 1111 1111 1111 2024").
 * A string that is exactly a UUID is left alone (a UUID is an identifier, never a card
 * number, and eventIds and booking ids must stay intact). JSON numbers are not strings
 * and are not scanned. */
#ifndef ISSUERHOOK_PANSCAN_H
#define ISSUERHOOK_PANSCAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"

/* Masks every card number in s[0..len), in place. Returns how many it masked. */
size_t panscan_mask(char *s, size_t len);

/* Whether s[0..len) holds a card number (nothing is changed). */
bool panscan_has(const char *s, size_t len);

/* Masks every card number in every string of v (values, and member names at any depth),
 * in place; adds how many to *masked. skip: names of v's own members (v an object) left
 * alone, NULL-terminated, may be NULL. IH_EINVAL when masking would give two members of
 * one object the same name (nothing is renamed then in that object); IH_ENOMEM. */
IH_MUST_CHECK ih_status panscan_json(json_t *v, const char *const *skip, size_t *masked);

#endif
