/* The process's metrics registry (the one piece of global mutable state) and its
 * Prometheus text rendering. Label values are static strings from the code (route
 * patterns, source names, outcome words), never request data. */
#ifndef ISSUERHOOK_METRICS_H
#define ISSUERHOOK_METRICS_H

#include <stddef.h>
#include "issuerhook/status.h"

enum metric_counter {
    M_RECORDS_STORED,      /* {source} */
    M_DUPLICATES,          /* {source} */
    M_CONFLICTS,           /* {source} */
    M_UNKNOWN_TYPES,       /* {source} */
    M_VALIDATION_FAILURES, /* {route} */
    M_SERIAL_ANOMALIES,    /* {kind} stale | gap */
    M_STORE_ERRORS,        /* {kind} busy | full | readonly | io | nomem | queue_full */
    M_AUTH_FAILURES,       /* {reason} missing | invalid | scope | keys_unavailable | too_many_failures |
                              client_cert_missing | client_cert_untrusted | client_cert_subject */
    M_CALLBACKS,           /* {outcome} delivered | retry | dead */
    M_RATE_LIMITED,        /* {route} */
    M_FEED_REFUSED,        /* {reason} busy | store | aborted */
    M_CHECKPOINTS,         /* {mode} passive | truncate | catchup | failed */
    M_CONN_REFUSED,        /* {reason} per_ip | reserve | stopping */
    M_CONN_TIMED_OUT,      /* {phase} headers | body */
    M_MALFORMED,           /* {reason} see framing.h */
    M_LOG_SUPPRESSED,      /* {kind} see lograte.h */
    M_LOG_DROPPED,         /* {reason} buffer_full | write_failed */
    M_CARD_NUMBERS_MASKED, /* {route} */
    M_STORE_ROUND_TRIPS,   /* {backend} postgresql: network round trips of the writer's batches */
    M_COUNTER_COUNT
};

/* Adds one to counter m for label value lv (a static string). */
void metrics_inc(enum metric_counter m, const char *lv);
/* A finished HTTP request: route pattern (static), status, duration in seconds. */
void metrics_request(const char *route, unsigned status, double seconds);
/* A committed batch of n jobs that took seconds. */
void metrics_batch(size_t n, double seconds);
/* Gauges read at render time. */
typedef double (*metrics_gauge_fn)(void *arg);
void metrics_set_gauge(const char *name, const char *help, metrics_gauge_fn fn, void *arg);

/* Renders every metric in Prometheus text format 0.0.4. Caller owns *out (free()). */
IH_MUST_CHECK ih_status metrics_render(char **out, size_t *len);
/* Reads one counter's current value (tests and health). */
unsigned long long metrics_get(enum metric_counter m, const char *lv);

#endif
