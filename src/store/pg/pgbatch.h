/* Private to src/store/pg/: the pipelined batch executor. A batch of N calls of prepared
 * statements (one per writer job) runs as
 *     [PREPARE what this session lacks] BEGIN; call x N; COMMIT; Sync
 * in one pipeline: one network round trip whatever N is. A call is OK only once COMMIT has
 * answered, so its job may be acknowledged (durable before 2xx). When a call fails inside
 * the pipeline (the transaction is then aborted), the batch runs again in a second round
 * trip, one call per transaction, so that only the failing call fails. A lost connection
 * fails every call with PGBATCH_LOST (whether a COMMIT in flight happened is then unknown:
 * nothing is acknowledged, and a retry is safe because every job is idempotent). See
 * PIPELINE.md. */
#ifndef ISSUERHOOK_PGBATCH_H
#define ISSUERHOOK_PGBATCH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"
#include "pgconn.h"

#define PGBATCH_MAX 4096 /* calls in one batch */

enum pgbatch_status {
    PGBATCH_OK,     /* committed; res holds the statement's rows */
    PGBATCH_FAILED, /* this call failed (sqlstate, error); nothing of it is stored */
    PGBATCH_LOST    /* the connection was lost: not acknowledged, outcome unknown */
};

struct pgbatch_call {
    const struct pgstmt *stmt; /* in: what to call */
    int nparams;
    const char *const *values; /* NULL entries are SQL NULL */
    const int *lengths;        /* NULL: every value is text */
    const int *formats;        /* NULL: every value is text; else 1 marks a binary one */
    /* out */
    enum pgbatch_status status;
    PGresult *res;    /* PGBATCH_OK: the rows; NULL otherwise. Owned: pgbatch_call_clear */
    char sqlstate[6]; /* PGBATCH_FAILED: the error's SQLSTATE ("" when none) */
    char error[256];  /* PGBATCH_FAILED: the server's message; PGBATCH_LOST: why */
};

struct pgbatch_stats {
    unsigned round_trips; /* pipelines sent and waited for: 1, or 2 when run again singly */
    bool singly;          /* the batch ran again one call per transaction */
};

/* Runs calls[0..n) on c (reconnecting first when it is down and its backoff has passed).
 * IH_OK: each call has its own status, OK or FAILED. IH_EIO: the connection is down or was
 * lost (every call PGBATCH_LOST; c reconnects on a later call). IH_ENOMEM, IH_EINVAL (n
 * over PGBATCH_MAX, or too many statements): every call FAILED. st may be NULL. */
IH_MUST_CHECK ih_status pgbatch_run(struct pgconn *c, struct pgbatch_call *calls, size_t n,
                                    struct pgbatch_stats *st);
/* Frees a call's result (not the call). */
void pgbatch_call_clear(struct pgbatch_call *call);

/* Process-wide counters since start (for metrics and the benchmark): batches run, round
 * trips they took, and batches that ran again one call per transaction. */
unsigned long long pgbatch_batches_total(void);
unsigned long long pgbatch_round_trips_total(void);
unsigned long long pgbatch_reruns_total(void);

#endif
