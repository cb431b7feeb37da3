/* Per-caller rate limiting: a token bucket per caller (an authenticated caller's name,
 * or a client address for failed authentications), refilled at `rate` per second up
 * to `burst`. */
#ifndef ISSUERHOOK_RATELIMIT_H
#define ISSUERHOOK_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include "issuerhook/status.h"

struct ratelimit;

/* rate 0 disables limiting (ratelimit_take always allows). Caller owns *out. */
IH_MUST_CHECK ih_status ratelimit_new(unsigned rate, unsigned burst, struct ratelimit **out);
void ratelimit_free(struct ratelimit *rl);

/* Takes one token from caller's bucket. false: over the limit, *retry_after_s says
 * when a token will be there again (at least 1). Thread-safe. */
bool ratelimit_take(struct ratelimit *rl, const char *caller, int64_t now_ms, unsigned *retry_after_s);
/* Whether caller's bucket holds a token, without taking it (same *retry_after_s). */
bool ratelimit_peek(struct ratelimit *rl, const char *caller, int64_t now_ms, unsigned *retry_after_s);

#endif
