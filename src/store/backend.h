/* Private to src/store/: what a backend implements, and the part of a store every
 * backend shares. store.c and the neutral files beside it (writer.c, state.c, bookings.c,
 * outbox.c, feed.c) call a backend only through struct store_backend; a backend's own
 * files (src/store/sqlite/, src/store/pg/) fill one in and embed struct store
 * first in their own struct. See src/store/DESIGN.md. */
#ifndef ISSUERHOOK_STORE_BACKEND_H
#define ISSUERHOOK_STORE_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "issuerhook/bookings.h"
#include "issuerhook/feed.h"
#include "issuerhook/keycheck.h"
#include "issuerhook/outbox.h"
#include "issuerhook/store.h"
#include "issuerhook/writer.h"

/* Why the store could not do something, as its database (or the OS) said it. */
struct store_error {
    int code;           /* the backend's code (SQLite: the extended result code); 0: an OS error */
    int os_errno;       /* the errno behind it, when known; 0 otherwise */
    bool fatal;         /* at start, refuse to run: retrying cannot help (see store_open) */
    ih_status status;   /* what a write failed by it answers (IH_EIO when unset) */
    const char *during; /* static: what was being done ("commit", "open", ...) */
    char msg[400];      /* the database's message, or ours */
};

/* Whether the store takes writes, as its writer last saw it (state.c). */
struct store_state {
    pthread_mutex_t lock;
    bool writable;      /* guarded by lock */
    char why[640];      /* guarded by lock: when and why writes fail */
    char since[24];     /* guarded by lock: UTC start of the outage */
    int64_t since_ms;   /* guarded by lock: the same, monotonic */
    unsigned long refused; /* guarded by lock: writes refused in this outage */
    struct {
        int code, os_errno;
    } seen[8];          /* guarded by lock: failures logged in this outage */
    size_t nseen;
};

/* The backend's write side, owned by the writer thread while the writer runs. */
struct backend_writer;

/* How a batch of jobs ended (writer_run). */
enum batch_end {
    BATCH_COMMITTED,         /* committed; each job's rc (and fail_kind) says how it went */
    BATCH_COMMITTED_FAILING, /* committed, but a job met a store error (*e): writes fail */
    BATCH_FAILED,            /* nothing of it stored: every job fails with *e */
};

struct store_backend {
    const char *name; /* "sqlite", "postgresql": the health check's name */
    void (*close)(struct store *s);
    const char *(*disk_path)(const struct store *s);
    ih_status (*ping)(struct store *s, double *ms);

    /* Errors: the metric label (busy, full, readonly, io or nomem) and the text the log
     * and /health show ("<message> (<code> during <what>: <OS error>)"). */
    const char *(*error_kind)(const struct store_error *e);
    void (*error_text)(const struct store_error *e, char *out, size_t cap);

    /* The writer thread's side. attach hands the write side (which may not be able to
     * write yet) to the writer and starts what goes with it; detach gives it back, for
     * close. connected: there is a write connection to try a batch on. prepare does
     * what is left to make the store take writes (probe: and one committed test write).
     * run commits the batch (n jobs, linked by next) in one transaction, each job as its
     * kind says, setting every job's rc and, when not IH_OK, its fail_kind; *e on
     * BATCH_COMMITTED_FAILING and BATCH_FAILED. All but attach run in the writer thread. */
    ih_status (*writer_attach)(struct store *s, struct backend_writer **out);
    void (*writer_detach)(struct backend_writer *w);
    bool (*writer_connected)(struct backend_writer *w);
    ih_status (*writer_prepare)(struct backend_writer *w, bool probe, struct store_error *e);
    enum batch_end (*writer_run)(struct backend_writer *w, struct writer_job *batch, size_t n, struct store_error *e);

    /* The PAN key fingerprints (pankeys.h, keycheck.h): on the store, and on the writer's
     * side (in the writer thread, outside a batch), and lookups of stored tokens. */
    void (*keycheck_store)(struct store *s, struct keycheck_store *out);
    void (*writer_keycheck_store)(struct backend_writer *w, struct keycheck_store *out);
    ih_status (*find_token)(struct store *s, const char *key_id, const char *token, long long *count,
                            long long *first_seq, long long *last_seq);

    /* Reads: as their public counterparts in bookings.h, outbox.h and feed.h. */
    ih_status (*bookings_get)(struct store *s, const char *id, struct booking_view *out);
    ih_status (*bookings_list)(struct store *s, enum booking_status st, int64_t after, size_t max,
                               struct booking_view **out, size_t *n);
    ih_status (*outbox_claim)(struct store *s, int64_t now_ms, unsigned lease_ms, const int64_t *skip, size_t nskip,
                              struct outbox_item *out, size_t max, size_t *n);
    ih_status (*outbox_stats)(struct store *s, struct outbox_stats *out);
    bool (*feed_pos_valid)(const struct store *s, struct feed_pos p);
    ih_status (*feed_scan_commit_order)(struct store *s, struct feed_pos after, size_t scan_max, feed_row_fn fn,
                                        void *arg, struct feed_scan_result *out);
    ih_status (*feed_scan_time_order)(struct store *s, const struct feed_time_query *q, size_t scan_max,
                                      feed_row_fn fn, void *arg, struct feed_time_result *out);
};

/* The part of every store above its backend: first in the backend's struct. */
struct store {
    const struct store_backend *ops;
    const char *describe;   /* the backend's: what store_describe says */
    int schema_version;     /* after the migrations; 0 until they ran (written by the owner of the write side) */
    struct store_state state;
};

/* Fills in the shared part (ops, describe) of a new store. */
void store_base_init(struct store *s, const struct store_backend *ops, const char *describe);
void store_base_destroy(struct store *s);

/* state.c: the outage bookkeeping every backend shares. The writer calls state_failed after each failure and state_ok after each
 * success; the first failure of each kind since the store last took writes is logged
 * (log false: the caller reports it), the recovery is logged. */
void state_init(struct store_state *st);
void state_destroy(struct store_state *st);
void state_failed(struct store *s, const struct store_error *e, bool log);
void state_ok(struct store *s);
/* One more write refused while the store is failing (for the recovery's log line). */
void state_refused(struct store *s);

#endif
