/* Load for the tests that stop, kill or restart something while events arrive: clients
 * posting distinct Amiko events to one or more daemons over kept-alive connections, each
 * event's outcome recorded — when it was first sent, when and where it was first
 * acknowledged, and every answer counted by status — so that a test can then check that
 * every acknowledged event is stored once and reaches the feed once, in order. */
#ifndef IH_TEST_LOAD_H
#define IH_TEST_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

struct load_event {
    char id[37];
    int64_t sent_ns;  /* monotonic: its first request */
    int64_t acked_ns; /* monotonic: its first 2xx (0: none) */
    int node;         /* the node of its first 2xx (-1: none) */
    unsigned sends;   /* requests made for it: first, re-sends, retries */
    long resent;      /* status of its re-send to another node (0: not re-sent) */
};

struct load_options {
    struct daemon *const *nodes; /* event i goes first to nodes[i % nnodes] */
    size_t nnodes;
    size_t clients, per_client; /* clients * per_client events */
    size_t conns;               /* connections (threads) per client, each in turn */
    unsigned resend_pct;        /* of acknowledged events sent again at once to the next node */
    bool retry;          /* an event without a 2xx is sent again, to the next node, until it has one */
    unsigned retry_ms;   /* pause before a retry */
    unsigned deadline_s; /* retries stop after this */
};

struct load;

/* Starts the clients; NULL when it cannot. */
struct load *load_start(const struct load_options *o);
/* Events acknowledged so far. */
size_t load_acked(const struct load *l);
/* Answers so far with this status (0: no answer at all, e.g. a refused connection). */
size_t load_answers(const struct load *l, long status);
/* Answers so far in [from, to). */
size_t load_answers_between(const struct load *l, long from, long to);
/* Waits for every client to finish. */
void load_wait(struct load *l);
/* The events (valid until load_free), after load_wait. */
const struct load_event *load_events(const struct load *l, size_t *n);
void load_free(struct load *l);

/* How many acknowledged events d's store does not hold exactly once (records of source
 * amiko.event; -1 when the store cannot be read); also says the first few on stderr. */
long load_missing(const struct load *l, const struct daemon *d);

/* Monotonic nanoseconds. */
int64_t load_now_ns(void);
/* The scale of the load tests: IH_TEST_LOAD_SCALE (a percentage, default 100) of n, at
 * least min. */
size_t load_scaled(size_t n, size_t min);

#endif
