/* Group commit. Requests enqueue jobs; this thread takes everything queued (up to
 * batch_max), runs each job in its own SAVEPOINT inside one IMMEDIATE transaction,
 * commits once (one fsync for the batch with synchronous=FULL), then calls every
 * job's done. A job's done runs only after its data is durable, or with the error
 * that kept it from being so. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/writer.h"

struct writer {
    struct db *db;
    struct writer_txn txn;
    struct writer_options opt;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct writer_job *head, *tail; /* guarded by lock */
    size_t depth;                   /* guarded by lock */
    bool stopping;                  /* guarded by lock */
    _Atomic int64_t heartbeat;
    bool broken; /* the connection must be reopened before the next batch */
};

int64_t writer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *error_kind(ih_status rc)
{
    return rc == IH_EBUSY ? "busy" : rc == IH_ENOMEM ? "nomem" : "io";
}

/* After an I/O error the connection may hold a stale view of a file that changed
 * under it; a fresh one is the surest recovery. */
static bool reopen(struct writer *w)
{
    txn_cache_clear(&w->txn);
    if (w->txn.conn)
        sqlite3_close(w->txn.conn);
    w->txn.conn = NULL;
    int rc = db_connect(w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &w->txn.conn);
    if (rc != SQLITE_OK) {
        log_msg(LOG_ERROR, "cannot reopen the database", "reason", sqlite3_errstr(rc), NULL);
        return false;
    }
    log_msg(LOG_WARN, "database connection reopened after an error", NULL);
    return true;
}

static int exec(struct writer *w, const char *sql)
{
    sqlite3_stmt *st = txn_stmt(&w->txn, sql);
    if (!st)
        return sqlite3_errcode(w->txn.conn) ? sqlite3_errcode(w->txn.conn) : SQLITE_ERROR;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void fail_all(struct writer_job *batch, ih_status rc)
{
    for (struct writer_job *j = batch; j; j = j->next)
        j->rc = rc;
}

static void run_batch(struct writer *w, struct writer_job *batch, size_t n)
{
    static const char BEGIN[] = "BEGIN IMMEDIATE", COMMIT[] = "COMMIT", ROLLBACK[] = "ROLLBACK",
                      SAVE[] = "SAVEPOINT job", RELEASE[] = "RELEASE job", UNDO[] = "ROLLBACK TO job";
    double t0 = now_s();
    if (w->broken && reopen(w))
        w->broken = false;
    if (w->broken) {
        fail_all(batch, IH_EIO);
        return;
    }
    int rc = exec(w, BEGIN);
    if (rc != SQLITE_OK) {
        ih_status st = db_status(rc);
        log_msg(LOG_ERROR, "cannot begin a write transaction", "reason", sqlite3_errstr(rc), NULL);
        fail_all(batch, st == IH_OK ? IH_EIO : st);
        w->broken = st == IH_EIO;
        return;
    }
    for (struct writer_job *j = batch; j; j = j->next) {
        if ((rc = exec(w, SAVE)) != SQLITE_OK) {
            j->rc = db_status(rc);
            continue;
        }
        j->rc = j->apply(&w->txn, j);
        if (j->rc != IH_OK && sqlite3_get_autocommit(w->txn.conn)) {
            /* SQLite rolled the whole transaction back (disk full, I/O error):
             * nothing of this batch is stored, so no job of it may succeed. */
            log_msg(LOG_ERROR, "write failed; the transaction was rolled back", "reason",
                    sqlite3_errmsg(w->txn.conn), NULL);
            fail_all(batch, j->rc);
            w->broken = j->rc == IH_EIO;
            return;
        }
        if (j->rc != IH_OK)
            exec(w, UNDO);
        exec(w, RELEASE);
    }
    rc = exec(w, COMMIT);
    if (rc != SQLITE_OK) {
        ih_status st = db_status(rc);
        log_msg(LOG_ERROR, "commit failed; the whole batch is answered 503", "reason", sqlite3_errstr(rc), NULL);
        exec(w, ROLLBACK);
        fail_all(batch, st == IH_OK ? IH_EIO : st);
        w->broken = st == IH_EIO;
        return;
    }
    metrics_batch(n, now_s() - t0);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->head && !w->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1; /* wake up to beat the heart even when idle */
            atomic_store(&w->heartbeat, writer_now_ms());
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        if (!w->head && w->stopping) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        /* take up to batch_max jobs */
        struct writer_job *batch = w->head, *last = w->head;
        size_t n = 1;
        while (last->next && n < w->opt.batch_max) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        w->depth -= n;
        pthread_mutex_unlock(&w->lock);

        atomic_store(&w->heartbeat, writer_now_ms());
        run_batch(w, batch, n);
        for (struct writer_job *j = batch, *next; j; j = next) {
            next = j->next; /* done may free j */
            if (j->rc != IH_OK)
                metrics_inc(M_STORE_ERRORS, error_kind(j->rc));
            j->done(j, j->rc);
        }
        atomic_store(&w->heartbeat, writer_now_ms());
    }
    return NULL;
}

ih_status writer_start(struct db *db, const struct writer_options *opt, struct writer **out)
{
    struct writer *w = calloc(1, sizeof(*w));
    if (!w)
        return IH_ENOMEM;
    w->db = db;
    w->opt = *opt;
    w->txn.conn = db->wr; /* the writer owns the write connection from now on */
    db->wr = NULL;
    atomic_store(&w->heartbeat, writer_now_ms());
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        db->wr = w->txn.conn;
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return IH_ENOMEM;
    }
    *out = w;
    return IH_OK;
}

void writer_submit(struct writer *w, struct writer_job *job)
{
    ih_status rc = IH_OK;
    job->next = NULL;
    job->rc = IH_OK;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        rc = IH_ESHUTDOWN;
    } else if (w->depth >= w->opt.queue_max) {
        rc = IH_EBUSY;
    } else {
        if (w->tail)
            w->tail->next = job;
        else
            w->head = job;
        w->tail = job;
        w->depth++;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    if (rc == IH_EBUSY)
        metrics_inc(M_STORE_ERRORS, "queue_full");
    if (rc != IH_OK)
        job->done(job, rc);
}

void writer_stop(struct writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return;
    }
    w->stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    txn_cache_clear(&w->txn);
    /* hand the connection back so db_close closes it (and checkpoints the WAL) */
    if (w->db->wr == NULL)
        w->db->wr = w->txn.conn;
    else if (w->txn.conn)
        sqlite3_close(w->txn.conn);
    w->txn.conn = NULL;
}

void writer_free(struct writer *w)
{
    if (!w)
        return;
    writer_stop(w);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

size_t writer_queue_depth(struct writer *w)
{
    pthread_mutex_lock(&w->lock);
    size_t d = w->depth;
    pthread_mutex_unlock(&w->lock);
    return d;
}

int64_t writer_heartbeat_ms(struct writer *w)
{
    return atomic_load(&w->heartbeat);
}
