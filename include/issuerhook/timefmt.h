/* RFC 3339 timestamps (UTC, millisecond precision). */
#ifndef ISSUERHOOK_TIMEFMT_H
#define ISSUERHOOK_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_LEN 25 /* "2026-11-23T20:18:16.388Z" + NUL */

/* ms since the epoch -> "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void timefmt_rfc3339_ms(int64_t ms, char out[TIMEFMT_LEN]);
/* Now, wall clock, in ms since the epoch. */
int64_t timefmt_now_ms(void);

#endif
