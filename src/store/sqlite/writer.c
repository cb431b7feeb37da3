/* The SQLite side of the writer (the shared part is src/store/writer.c): the write
 * connection and its statements, a batch as one BEGIN IMMEDIATE transaction with each
 * job in its own SAVEPOINT, one COMMIT (one fsync with synchronous=FULL), and what
 * SQLite needs to recover: a fresh connection after an I/O error, a read-only file or a
 * corrupt page (and fresh read connections with it), the checkpointer told of every
 * commit (its WAL hook) and waited for when the WAL has grown past its cap. */
#include <stdbool.h>
#include <stdlib.h>

#include "internal.h"

struct backend_writer {
    struct db *db;
    struct writer_txn txn; /* conn NULL while the store cannot be opened */
    struct checkpointer *ckpt;
};

static int on_wal_commit(void *arg, sqlite3 *c, const char *name, int frames)
{
    (void)c;
    (void)name;
    ckpt_committed(arg, frames);
    return SQLITE_OK;
}

/* The connection is new: its statements are prepared again, its commits reported. */
static void adopt(struct backend_writer *w)
{
    if (w->txn.conn && w->ckpt)
        sqlite3_wal_hook(w->txn.conn, on_wal_commit, w->ckpt);
}

/* No write connection (closed as stale, or none could be opened): the others on the
 * file are closed too, or a read-only view of it would outlive the cause (see db_readers_reset). */
static void reset_all(struct backend_writer *w)
{
    db_readers_reset(w->db);
    ckpt_reset(w->ckpt);
}

ih_status sqlite_writer_attach(struct store *s, struct backend_writer **out)
{
    struct backend_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return IH_ENOMEM;
    w->db = db_of(s);
    ih_status rc = ckpt_start(w->db, &w->ckpt);
    if (rc != IH_OK) {
        free(w);
        return rc;
    }
    w->txn.conn = w->db->wr; /* the writer owns the write connection from now on (NULL: not open yet) */
    w->db->wr = NULL;
    adopt(w);
    *out = w;
    return IH_OK;
}

void sqlite_writer_detach(struct backend_writer *w)
{
    if (!w)
        return;
    ckpt_stop(w->ckpt); /* before the connections close: the last one checkpoints itself */
    if (w->txn.conn)
        sqlite3_wal_hook(w->txn.conn, NULL, NULL);
    txn_cache_clear(&w->txn);
    /* hand the connection back so that closing the store closes it (and checkpoints the WAL) */
    if (w->db->wr == NULL)
        w->db->wr = w->txn.conn;
    else if (w->txn.conn)
        sqlite3_close(w->txn.conn);
    free(w);
}

bool sqlite_writer_connected(struct backend_writer *w)
{
    return w->txn.conn != NULL;
}

ih_status sqlite_writer_prepare(struct backend_writer *w, bool probe, struct store_error *e)
{
    sqlite3 *before = w->txn.conn;
    ih_status rc = db_prepare(w->db, &w->txn.conn, probe, e);
    if (w->txn.conn != before) {
        txn_cache_clear(&w->txn); /* statements of a closed connection */
        adopt(w);
    }
    if (rc != IH_OK && !w->txn.conn)
        reset_all(w);
    return rc;
}

/* Closes a connection that cannot be trusted any more; the next batch opens another. */
static void drop_if_stale(struct backend_writer *w, const struct store_error *e)
{
    if (!w->txn.conn || !db_error_stale(e))
        return;
    txn_cache_clear(&w->txn);
    sqlite3_close(w->txn.conn);
    w->txn.conn = NULL;
    reset_all(w);
}

static int exec(struct backend_writer *w, const char *sql)
{
    sqlite3_stmt *st = txn_stmt(&w->txn, sql);
    if (!st)
        return sqlite3_errcode(w->txn.conn) ? sqlite3_errcode(w->txn.conn) : SQLITE_ERROR;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The job as its kind says. */
static ih_status apply(struct writer_txn *t, struct writer_job *j)
{
    switch (j->kind) {
    case WRITER_JOB_EVENT: return sqlite_events_apply(t, (struct store_event *)j);
    case WRITER_JOB_BOOKING_REQUEST: return sqlite_booking_request_apply(t, (struct booking_request_job *)j);
    case WRITER_JOB_BOOKING_RESULT: return sqlite_booking_result_apply(t, (struct booking_result_job *)j);
    case WRITER_JOB_CARD_BATCH: return sqlite_card_batch_apply(t, (struct card_batch_job *)j);
    case WRITER_JOB_OUTBOX_MARK: return sqlite_outbox_mark_apply(t, (struct outbox_mark_job *)j);
    case WRITER_JOB_NONE:
    default: return IH_EINVAL; /* a job nobody said what it is: a bug, failed alone */
    }
}

/* A job that failed on its own: a store error (its statement's), or a refusal of the job
 * itself (then c's error is not the job's). */
static bool job_store_error(struct backend_writer *w, struct writer_job *j, struct store_error *e)
{
    int code = sqlite3_extended_errcode(w->txn.conn);
    ih_status st = db_status(code);
    if (st == IH_OK || st == IH_EINVAL || st != j->rc) /* IH_EINVAL: a constraint, the job's own */
        return false;
    db_error(w->txn.conn, code, "a write", e);
    return true;
}

/* A job that writes with one statement at most: an event without a serial is one INSERT,
 * or (when its key exists) a SELECT and at most one UPDATE. A statement is all or nothing
 * by itself, so such a job needs no savepoint of its own: when it fails, it wrote nothing.
 * (Two statements more per job, and the copies of the pages it touches that a savepoint
 * keeps to undo them, are a good part of a small job's cost.) */
static bool one_statement(const struct writer_job *j)
{
    return j->kind == WRITER_JOB_EVENT && !((const struct store_event *)j)->has_serial;
}

static void run_jobs(struct backend_writer *w, struct writer_job *batch, struct store_error *first, bool *store_err)
{
    static const char SAVE[] = "SAVEPOINT job", RELEASE[] = "RELEASE job", UNDO[] = "ROLLBACK TO job";
    struct store_error e;
    for (struct writer_job *j = batch; j; j = j->next) {
        bool save = !one_statement(j);
        int rc = save ? exec(w, SAVE) : SQLITE_OK;
        j->rc = rc == SQLITE_OK ? apply(&w->txn, j) : db_status(rc);
        if (j->rc == IH_OK) {
            if (save)
                exec(w, RELEASE);
            continue;
        }
        bool store = job_store_error(w, j, &e);
        j->fail_kind = store ? db_error_kind(&e) : j->rc == IH_EBUSY ? "busy" : j->rc == IH_ENOMEM ? "nomem" : "io";
        if (store && !*store_err) {
            *first = e;
            *store_err = true;
        }
        if (sqlite3_get_autocommit(w->txn.conn))
            return; /* SQLite rolled the whole transaction back (disk full, I/O error) */
        if (save) {
            exec(w, UNDO);
            exec(w, RELEASE);
        }
    }
}

/* The batch fails as a whole with e (the shared writer fails every job with it). */
static enum batch_end failed(struct backend_writer *w, const struct store_error *e)
{
    drop_if_stale(w, e);
    return BATCH_FAILED;
}

enum batch_end sqlite_writer_run(struct backend_writer *w, struct writer_job *batch, size_t n, struct store_error *e)
{
    static const char BEGIN[] = "BEGIN IMMEDIATE", COMMIT[] = "COMMIT", ROLLBACK[] = "ROLLBACK";
    (void)n;
    ckpt_before_write(w->ckpt);
    int rc = exec(w, BEGIN);
    if (rc != SQLITE_OK) {
        db_error(w->txn.conn, rc, "BEGIN", e);
        return failed(w, e);
    }
    bool store_err = false;
    run_jobs(w, batch, e, &store_err);
    if (sqlite3_get_autocommit(w->txn.conn)) {
        /* nothing of this batch is stored, so no job of it may succeed */
        if (!store_err)
            db_error(w->txn.conn, SQLITE_ABORT, "a write", e);
        return failed(w, e);
    }
    rc = exec(w, COMMIT);
    if (rc != SQLITE_OK) {
        db_error(w->txn.conn, rc, "COMMIT", e);
        exec(w, ROLLBACK);
        return failed(w, e);
    }
    if (store_err) { /* e.g. a read-only file: jobs fail, the empty commit works */
        drop_if_stale(w, e);
        return BATCH_COMMITTED_FAILING;
    }
    return BATCH_COMMITTED;
}

void sqlite_writer_keycheck_store(struct backend_writer *w, struct keycheck_store *out)
{
    sqlite_pankeys_txn(&w->txn, out);
}
