/* The Booking Status Callback dispatcher: one thread that claims outbox rows
 * (outbox_claim: on a store several nodes share, each row leased to one node at a
 * time) and delivers them to Amiko with libcurl's multi interface (many transfers, no
 * thread per request), retries with exponential backoff and jitter, parks a row as dead
 * after the last attempt, and resumes pending rows after a restart (on a shared store,
 * once the rows' leases have passed). */
#ifndef ISSUERHOOK_CALLBACK_H
#define ISSUERHOOK_CALLBACK_H

#include "issuerhook/store.h"
#include "issuerhook/status.h"
#include "issuerhook/writer.h"

struct callback;

struct callback_options {
    const char *url_template;   /* contains {amikoBookingId} */
    const char *auth_header;    /* one "Name: value" line, or "" */
    const char *ca_file;        /* "" for the system's */
    unsigned timeout_ms, connect_timeout_ms;
    unsigned max_attempts;
    unsigned backoff_ms, backoff_max_ms;
    unsigned concurrency;
};

/* Starts the dispatcher thread. The options' strings must outlive it. */
IH_MUST_CHECK ih_status callback_start(struct store *s, struct writer *w, const struct callback_options *o,
                                       struct callback **out);
/* Something may be due now (a booking left pending). Thread-safe; NULL is a no-op. */
void callback_notify(struct callback *cb);
/* Stops the thread (transfers under way are abandoned and stay pending) and frees cb. */
void callback_stop(struct callback *cb);

/* The delay before attempt n+1 after n failed attempts: backoff_ms * 2^(n-1), capped at
 * backoff_max_ms, then drawn in [d/2, d] (equal jitter). rnd is in [0, 1). */
unsigned callback_backoff_ms(const struct callback_options *o, unsigned attempts, double rnd);

#endif
