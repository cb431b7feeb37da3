/* Private to src/store/pg/: the PostgreSQL store's parts (the struct store_backend of
 * pgstore.c and the modules behind it). Every symbol is prefixed pg_ or pgstore_: the
 * SQLite backend's helpers are unprefixed globals of the same library. See
 * src/store/DESIGN.md and PIPELINE.md. */
#ifndef ISSUERHOOK_PGINTERNAL_H
#define ISSUERHOOK_PGINTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../backend.h"
#include "issuerhook/bookings.h"
#include "issuerhook/outbox.h"
#include "pgbatch.h"
#include "pgconn.h"

/* Read connections (GET routes, health, the dispatcher's claims, the PAN key check): the
 * feed's scans may hold at most PG_FEED_READERS of them, so that the others are always
 * there for health and point reads (as on SQLite). */
#define PG_READERS 6
#define PG_FEED_READERS 4
#define PG_NODE_MAX 160

/* A keycheck store's argument: its store, and the connection it uses (NULL: the pool's). */
struct pg_keys {
    struct pgstore *s;
    struct pgconn *c;
};

/* The PostgreSQL store: struct store first (backend.h), then the connections. */
struct pgstore {
    struct store base;
    char *display; /* the conninfo without password: store_describe, every log line */
    struct store_options opt;
    /* this node's outbox lease owner id, hostname:pid:random (per process, never a label) */
    char node[PG_NODE_MAX];
    struct pgconn *wr; /* the write connection: open uses it, then the writer owns it (NULL meanwhile) */
    struct pgconn *rd[PG_READERS]; /* each connects on first use; guarded by rd_lock */
    bool rd_busy[PG_READERS];
    pthread_mutex_t rd_lock;
    pthread_cond_t rd_free;
    bool durability_checked; /* synchronous_commit read once; by the owner of the write side */
    struct pg_keys keys;     /* the keycheck store on the pool */
};

static inline struct pgstore *pg_of(struct store *s)
{
    return (struct pgstore *)s;
}

extern const struct store_backend pg_backend;

/* ---- errors (pgstore.c) ---- */

/* *e from a SQLSTATE (NULL or "": the connection, 08006) and a message (one line, no
 * secret). e->status is the status a write failed by it answers. */
void pg_error(struct store_error *e, const char *sqlstate, const char *msg, const char *during);
/* The SQLSTATE e was made from, into out (6 bytes). */
void pg_error_sqlstate(const struct store_error *e, char out[6]);
/* A statement's failure that is the store's, not its job's: the server cannot write (disk
 * full, read-only, out of memory or resources, a system error). */
bool pg_sqlstate_store_wide(const char *sqlstate);

/* ---- connections (pgpool.c) ---- */

/* A new pgconn for s (not connected yet) with s's timeouts, named for the log. */
IH_MUST_CHECK ih_status pg_conn_new(struct pgstore *s, const char *conninfo, const char *password_file,
                                    const char *name, struct pgconn **out, char *err, size_t errlen);
/* A read connection (waits while every one is taken), held until pg_pool_release; it may
 * be down: pg_exec says so. feed: from the feed's share. */
struct pgconn *pg_pool_acquire(struct pgstore *s, bool feed);
void pg_pool_release(struct pgstore *s, struct pgconn *c);
/* Runs stmt (prepared on first use on the session) on c, reconnecting first when down and
 * the backoff has passed. IH_OK with *out (may be NULL; caller PQclears) when it returned
 * rows or a command's answer; IH_EIO when the connection is down or was lost (then
 * dropped); else the statement's status (pgerr_status). On failure *e (may be NULL) says
 * why, with the SQLSTATE and what was being done. */
IH_MUST_CHECK ih_status pg_exec(struct pgconn *c, const struct pgstmt *stmt, int n, const char *const *values,
                                const int *lengths, const int *formats, PGresult **out, struct store_error *e,
                                const char *during);
/* The same for SQL run once (not prepared): BEGIN, COMMIT, a rare statement. */
IH_MUST_CHECK ih_status pg_exec_sql(struct pgconn *c, const char *sql, int n, const char *const *values,
                                    PGresult **out, struct store_error *e, const char *during);

/* Column name of row `row` of res: the value, or NULL when SQL NULL or absent. */
const char *pg_col(const PGresult *res, int row, const char *name);
/* The same as a number (absent or NULL: dflt). */
int64_t pg_col_i64(const PGresult *res, int row, const char *name, int64_t dflt);
/* strdup of the column ("" for NULL); NULL when out of memory. */
char *pg_col_dup(const PGresult *res, int row, const char *name);

/* ---- the write side (pgwriter.c) ---- */

/* Brings c to a state that takes writes, doing only what is left: the connection (now,
 * whatever its backoff), the migrations (once per store), synchronous_commit read and
 * warned about (once), then (probe) one committed test write. IH_OK or why not in *e
 * (e->fatal: retrying cannot help). */
IH_MUST_CHECK ih_status pg_prepare(struct pgstore *s, struct pgconn *c, bool probe, struct store_error *e);
IH_MUST_CHECK ih_status pg_writer_attach(struct store *st, struct backend_writer **out);
void pg_writer_detach(struct backend_writer *w);
bool pg_writer_connected(struct backend_writer *w);
IH_MUST_CHECK ih_status pg_writer_prepare(struct backend_writer *w, bool probe, struct store_error *e);
enum batch_end pg_writer_run(struct backend_writer *w, struct writer_job *batch, size_t n, struct store_error *e);
void pg_writer_keycheck_store(struct backend_writer *w, struct keycheck_store *out);

/* ---- jobs <-> statements (pgjobs.c) ---- */

#define PG_JOB_PARAMS_MAX 15
/* A job's parameters while its call runs: the values point into the job (which outlives
 * the batch), into num, or into json (owned). */
struct pg_job_params {
    const char *values[PG_JOB_PARAMS_MAX];
    int lengths[PG_JOB_PARAMS_MAX], formats[PG_JOB_PARAMS_MAX];
    char num[6][24];
    char *json; /* a card batch's items */
    size_t json_len;
};
/* The call of job j's function, its parameters in p (node: this node's lease owner id, for
 * marks). IH_EINVAL: a job of no kind; IH_ENOMEM. */
IH_MUST_CHECK ih_status pg_job_call(struct writer_job *j, const char *node, struct pg_job_params *p,
                                    struct pgbatch_call *call);
/* Sets j's outputs from its committed call's row, exactly as the SQLite apply functions
 * set them. IH_EIO when the row is not what the function returns; IH_ENOMEM. */
IH_MUST_CHECK ih_status pg_job_result(struct writer_job *j, const PGresult *res);
/* Frees what p owns (wiped: a card batch's tokens). */
void pg_job_params_clear(struct pg_job_params *p);

/* ---- reads (pgreads.c, pgfeed.c) ---- */

IH_MUST_CHECK ih_status pg_bookings_get(struct store *s, const char *id, struct booking_view *out);
IH_MUST_CHECK ih_status pg_bookings_list(struct store *s, enum booking_status st, int64_t after, size_t max,
                                         struct booking_view **out, size_t *n);
IH_MUST_CHECK ih_status pg_outbox_claim(struct store *s, int64_t now_ms, unsigned lease_ms, const int64_t *skip,
                                        size_t nskip, struct outbox_item *out, size_t max, size_t *n);
IH_MUST_CHECK ih_status pg_outbox_stats(struct store *s, struct outbox_stats *out);
bool pg_feed_pos_valid(const struct store *s, struct feed_pos p);
IH_MUST_CHECK ih_status pg_feed_scan_commit_order(struct store *s, struct feed_pos after, size_t scan_max,
                                                  feed_row_fn fn, void *arg, struct feed_scan_result *out);
IH_MUST_CHECK ih_status pg_feed_scan_time_order(struct store *s, const struct feed_time_query *q, size_t scan_max,
                                                feed_row_fn fn, void *arg, struct feed_time_result *out);

/* ---- the PAN key fingerprints (pgkeys.c) ---- */

/* The keycheck store on k's connection (k->c NULL: the pool's). */
void pg_keys_store(struct pg_keys *k, struct keycheck_store *out);
void pg_keycheck_store(struct store *s, struct keycheck_store *out);
IH_MUST_CHECK ih_status pg_find_token(struct store *s, const char *key_id, const char *token, long long *count,
                                      long long *first_seq, long long *last_seq);

#endif
