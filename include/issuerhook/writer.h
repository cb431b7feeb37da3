/* The writer: one thread owns the write connection and commits every queued job in
 * one transaction (group commit), each job inside its own SAVEPOINT so one failing job
 * does not sink the batch. See src/store/GROUP_COMMIT.md. */
#ifndef ISSUERHOOK_WRITER_H
#define ISSUERHOOK_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "issuerhook/db.h"
#include "issuerhook/status.h"

struct writer;
struct writer_txn; /* the open transaction, handed to apply (store-private) */
struct writer_job;

/* Runs in the writer thread inside the job's SAVEPOINT. IH_OK keeps what it wrote;
 * anything else rolls the job back to its savepoint and fails only this job. */
typedef ih_status (*writer_apply_fn)(struct writer_txn *txn, struct writer_job *job);
/* Runs in the writer thread once the batch is committed (rc IH_OK) or failed.
 * The job is no longer touched by the writer after this returns; done may free it. */
typedef void (*writer_done_fn)(struct writer_job *job, ih_status rc);

struct writer_job {
    writer_apply_fn apply;
    writer_done_fn done;
    /* private */
    struct writer_job *next;
    ih_status rc;
    const char *fail_kind; /* the issuerhook_store_errors_total label when rc is not IH_OK */
};

struct writer_options {
    unsigned batch_max;
    unsigned queue_max;
    /* A check run in the writer thread, on the writer's connection, before the first
     * batch once the store can be written (the PAN key against the database when the
     * store could not be read at start: keycheck_gate). IH_OK lets writes through from
     * then on; any other status fails that batch (503), says why in the store's state
     * (health, the log) and the check runs again before the next one. NULL: none. */
    ih_status (*gate)(void *arg, struct writer_txn *txn, char *why, size_t whylen);
    void *gate_arg;
};

/* Takes over db's write connection (which may not be open yet: the writer then keeps
 * trying, see db_writable) and starts the thread and the checkpointer. Caller owns *out. */
IH_MUST_CHECK ih_status writer_start(struct db *db, const struct writer_options *opt, struct writer **out);
/* Queues job; the caller keeps ownership but must not touch it until done runs.
 * done runs exactly once: in the writer thread after the commit, or, when the queue
 * is full (IH_EBUSY) or the writer is stopping (IH_ESHUTDOWN), in the caller's thread
 * before writer_submit returns. */
void writer_submit(struct writer *w, struct writer_job *job);
/* Commits what is queued and stops the thread; later submits fail with IH_ESHUTDOWN.
 * Hands the write connection back to the db. */
void writer_stop(struct writer *w);
/* Frees a stopped writer (once nothing can submit to it any more). */
void writer_free(struct writer *w);

size_t writer_queue_depth(struct writer *w);
/* Monotonic ms of the writer loop's last turn (for health and the watchdog). */
int64_t writer_heartbeat_ms(struct writer *w);
int64_t writer_now_ms(void);

#endif
