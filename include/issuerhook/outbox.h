/* The callback outbox: rows written with a booking's state change, claimed by the
 * dispatcher, marked delivered / retried / dead through the writer. */
#ifndef ISSUERHOOK_OUTBOX_H
#define ISSUERHOOK_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include "issuerhook/store.h"
#include "issuerhook/writer.h"

struct outbox_item {
    int64_t id;
    char booking_id[37];
    char *body; /* owned */
    char tracing_id[129];
    long attempts;
};
void outbox_item_clear(struct outbox_item *it);

/* Claims up to max pending items due at now_ms for this node to deliver, oldest first,
 * leaving out the ids in skip (this node's deliveries under way). A store shared by
 * several nodes leases each for lease_ms (longer than an attempt takes) on its own clock:
 * no other node claims it until it is marked (by this node only: a mark of a row whose
 * lease passed to another node is ignored) or the lease passes (the node died); rows
 * another node holds are skipped, not waited for. SQLite, one node: the skip list does
 * it, and lease_ms is not needed. */
IH_MUST_CHECK ih_status outbox_claim(struct store *s, int64_t now_ms, unsigned lease_ms, const int64_t *skip,
                                     size_t nskip, struct outbox_item *out, size_t max, size_t *n);

struct outbox_stats {
    long pending, dead, delivered;
    int64_t next_due; /* earliest time a pending item can be claimed (its next_attempt_at, or
                       * when another node's lease on it ends); -1 when none */
};
IH_MUST_CHECK ih_status outbox_stats(struct store *s, struct outbox_stats *out);

enum outbox_mark { OUTBOX_DELIVERED, OUTBOX_RETRY, OUTBOX_DEAD };

/* A writer job (WRITER_JOB_OUTBOX_MARK) recording one delivery attempt. */
struct outbox_mark_job {
    struct writer_job job; /* first: job.kind = WRITER_JOB_OUTBOX_MARK */
    int64_t id;
    enum outbox_mark what;
    int64_t at_ms;      /* when the attempt ended */
    int64_t next_at_ms; /* OUTBOX_RETRY: when to try again */
    long http_status;   /* 0: no answer */
    char error[200];    /* "" when none */
};

#endif
