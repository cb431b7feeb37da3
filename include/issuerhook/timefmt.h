/* RFC 3339 timestamps (UTC, millisecond precision). */
#ifndef ISSUERHOOK_TIMEFMT_H
#define ISSUERHOOK_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_LEN 25 /* "2026-11-23T20:18:16.388Z" + NUL */

/* ms since the epoch -> "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void timefmt_rfc3339_ms(int64_t ms, char out[TIMEFMT_LEN]);
/* Parses an RFC 3339 date-time in UTC ("2024-10-01T07:56:02.375Z"; 't' and 'z' also,
 * as RFC 3339 allows; fraction optional, 1-9 digits) into ms since the epoch. */
bool timefmt_parse_rfc3339_utc(const char *s, size_t len, int64_t *ms);
/* The same, with any offset ("+02:00", "-05:30") as well as Z. */
bool timefmt_parse_rfc3339(const char *s, size_t len, int64_t *ms);
/* Now, wall clock, in ms since the epoch. */
int64_t timefmt_now_ms(void);

#endif
