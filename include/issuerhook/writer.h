/* The writer: one thread commits every queued job in one transaction (group commit) and
 * then answers each, whichever backend holds the store. A job is backend-neutral data
 * with a kind; each backend runs a batch its own way (SQLite: each job of several
 * statements in its own SAVEPOINT, so one failing job does not sink the batch). See src/store/GROUP_COMMIT.md. */
#ifndef ISSUERHOOK_WRITER_H
#define ISSUERHOOK_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"
#include "issuerhook/store.h"

struct writer;
struct writer_job;

/* What a job is, and so which struct it is the first member of. */
enum writer_job_kind {
    WRITER_JOB_NONE = 0,        /* not set: the job fails */
    WRITER_JOB_EVENT,           /* struct store_event (events.h): an event or a domain event */
    WRITER_JOB_BOOKING_REQUEST, /* struct booking_request_job (bookings.h) */
    WRITER_JOB_BOOKING_RESULT,  /* struct booking_result_job (bookings.h) */
    WRITER_JOB_CARD_BATCH,      /* struct card_batch_job (cards.h) */
    WRITER_JOB_OUTBOX_MARK,     /* struct outbox_mark_job (outbox.h) */
};

/* Runs in the writer thread once the batch is committed (rc IH_OK) or failed.
 * The job is no longer touched by the writer after this returns; done may free it. */
typedef void (*writer_done_fn)(struct writer_job *job, ih_status rc);

struct writer_job {
    enum writer_job_kind kind;
    writer_done_fn done;
    /* private */
    struct writer_job *next;
    ih_status rc;
    const char *fail_kind; /* the issuerhook_store_errors_total label when rc is not IH_OK */
};

struct keycheck_store;

struct writer_options {
    unsigned batch_max;
    unsigned queue_max;
    /* A check run in the writer thread before the first batch once the store can be
     * written, on the writer's own side of the store: the PAN key against the database
     * when the store could not be read at start (keycheck_gate). IH_OK lets writes
     * through from then on; any other status fails that batch (503), says why in the
     * store's state (health, the log), and the check runs again before the next one.
     * NULL: none. */
    ih_status (*gate)(void *arg, const struct keycheck_store *ks, char *why, size_t whylen);
    void *gate_arg;
};

/* Takes over the store's write side (which may not be able to write yet: the writer then
 * keeps trying, see store_writable) and starts the thread. Caller owns *out. */
IH_MUST_CHECK ih_status writer_start(struct store *s, const struct writer_options *opt, struct writer **out);
/* Queues job; the caller keeps ownership but must not touch it until done runs.
 * done runs exactly once: in the writer thread after the commit, or, when the queue
 * is full (IH_EBUSY) or the writer is stopping (IH_ESHUTDOWN), in the caller's thread
 * before writer_submit returns. */
void writer_submit(struct writer *w, struct writer_job *job);
/* A request that will probably submit a job soon (its headers are in, its body or its
 * checks are not done): the writer waits a little for such requests before committing
 * what is queued (see GROUP_COMMIT.md, "Batching"). Every writer_expect is followed by
 * one writer_unexpect, just before the job is submitted or once it will not be. w may be
 * NULL. */
void writer_expect(struct writer *w);
void writer_unexpect(struct writer *w);
/* Commits what is queued and stops the thread; later submits fail with IH_ESHUTDOWN.
 * Hands the write side back to the store. */
void writer_stop(struct writer *w);
/* Frees a stopped writer (once nothing can submit to it any more). */
void writer_free(struct writer *w);

size_t writer_queue_depth(struct writer *w);
/* Monotonic ms of the writer loop's last turn (for health and the watchdog). */
int64_t writer_now_ms(void);
int64_t writer_heartbeat_ms(struct writer *w);

#endif
