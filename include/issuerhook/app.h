/* What every route handler gets: the daemon's long-lived parts. Passed as a context
 * pointer, never reached through a global. */
#ifndef ISSUERHOOK_APP_H
#define ISSUERHOOK_APP_H

#include <stdatomic.h>
#include <stdint.h>

struct config;
struct store;
struct writer;
struct callback;
struct tokenizer;
struct ratelimit;

struct app {
    const struct config *cfg;
    struct store *store;
    struct writer *writer;
    struct callback *callback; /* NULL when no callback URL is configured */
    struct tokenizer *tokenizer; /* the PAN key */
    struct ratelimit *ratelimit;
    int64_t started_ms; /* wall clock */
    atomic_uint feed_reads; /* feed pages being read now (bounded by ISSUERHOOK_FEED_READS) */
};

#endif
