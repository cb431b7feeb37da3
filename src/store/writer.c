/* Group commit. Requests enqueue jobs; this thread takes everything queued (up to
 * batch_max), runs each job in its own SAVEPOINT inside one IMMEDIATE transaction,
 * commits once (one fsync for the batch with synchronous=FULL), then calls every
 * job's done. A job's done runs only after its data is durable, or with the error
 * that kept it from being so.
 * The writer also keeps the store's state (store/state.c): after a failure it tries
 * again with a backoff (a batch, or a test write when none comes) until the store takes
 * writes, and it hands each commit's WAL length to the checkpointer. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "sqlite/internal.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/writer.h"

#define RETRY_FIRST_MS 250
#define RETRY_MAX_MS 5000

struct writer {
    struct db *db;
    struct writer_txn txn; /* conn NULL while the store cannot be opened */
    struct writer_options opt;
    struct checkpointer *ckpt;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct writer_job *head, *tail; /* guarded by lock */
    size_t depth;                   /* guarded by lock */
    bool stopping;                  /* guarded by lock */
    _Atomic int64_t heartbeat;
    /* the writer thread's: */
    bool failing;          /* the last write failed */
    const char *fail_kind; /* its metric label */
    int64_t retry_at;      /* monotonic ms: the next try, while failing */
    unsigned backoff_ms;
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

static int on_wal_commit(void *arg, sqlite3 *c, const char *name, int frames)
{
    (void)c;
    (void)name;
    ckpt_committed(arg, frames);
    return SQLITE_OK;
}

/* The connection is new: its statements are prepared again, its commits reported. */
static void adopt(struct writer *w)
{
    if (w->txn.conn && w->ckpt)
        sqlite3_wal_hook(w->txn.conn, on_wal_commit, w->ckpt);
}

static void store_failed(struct writer *w, const struct store_error *e)
{
    state_failed(w->db, e, true);
    w->fail_kind = db_error_kind(e);
    w->backoff_ms = !w->failing ? RETRY_FIRST_MS : w->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->backoff_ms * 2;
    w->retry_at = writer_now_ms() + w->backoff_ms;
    w->failing = true;
}

static void store_ok(struct writer *w)
{
    if (!w->failing)
        return;
    w->failing = false;
    state_ok(w->db);
}

/* No write connection (closed as stale, or none could be opened): the others on the
 * file are closed too, or a read-only view of it would outlive the cause (see db_readers_reset). */
static void reset_all(struct writer *w)
{
    db_readers_reset(w->db);
    ckpt_reset(w->ckpt);
}

/* Does what is left to make the store take writes (see db_prepare): at once when the
 * store has not failed, else not before the backoff says so. */
static bool bring_up(struct writer *w, bool probe)
{
    if (w->failing && writer_now_ms() < w->retry_at)
        return false;
    sqlite3 *before = w->txn.conn;
    struct store_error e;
    ih_status rc = db_prepare(w->db, &w->txn.conn, probe, &e);
    if (w->txn.conn != before) {
        txn_cache_clear(&w->txn); /* statements of a closed connection */
        adopt(w);
    }
    if (rc != IH_OK) {
        store_failed(w, &e);
        if (!w->txn.conn)
            reset_all(w);
        return false;
    }
    if (probe)
        store_ok(w);
    return true;
}

/* Closes a connection that cannot be trusted any more; the next batch opens another. */
static void drop_if_stale(struct writer *w, const struct store_error *e)
{
    if (!w->txn.conn || !db_error_stale(e))
        return;
    txn_cache_clear(&w->txn);
    sqlite3_close(w->txn.conn);
    w->txn.conn = NULL;
    reset_all(w);
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

static void fail_all(struct writer_job *batch, ih_status rc, const char *kind)
{
    for (struct writer_job *j = batch; j; j = j->next) {
        j->rc = rc;
        j->fail_kind = kind;
    }
}

/* The whole batch fails with the store's error e. */
static void batch_failed(struct writer *w, struct writer_job *batch, const struct store_error *e)
{
    ih_status st = db_status(e->code);
    store_failed(w, e);
    fail_all(batch, st == IH_OK ? IH_EIO : st, w->fail_kind);
    drop_if_stale(w, e);
}

/* A job that failed on its own: a store error (its statement's), or a refusal of the job
 * itself (then c's error is not the job's). */
static bool job_store_error(struct writer *w, struct writer_job *j, struct store_error *e)
{
    int code = sqlite3_extended_errcode(w->txn.conn);
    ih_status st = db_status(code);
    if (st == IH_OK || st == IH_EINVAL || st != j->rc) /* IH_EINVAL: a constraint, the job's own */
        return false;
    db_error(w->txn.conn, code, "a write", e);
    return true;
}

static void run_jobs(struct writer *w, struct writer_job *batch, struct store_error *first, bool *store_err)
{
    static const char SAVE[] = "SAVEPOINT job", RELEASE[] = "RELEASE job", UNDO[] = "ROLLBACK TO job";
    struct store_error e;
    for (struct writer_job *j = batch; j; j = j->next) {
        int rc = exec(w, SAVE);
        j->rc = rc == SQLITE_OK ? j->apply(&w->txn, j) : db_status(rc);
        if (j->rc == IH_OK) {
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
        exec(w, UNDO);
        exec(w, RELEASE);
    }
}

static void run_batch(struct writer *w, struct writer_job *batch, size_t n)
{
    static const char BEGIN[] = "BEGIN IMMEDIATE", COMMIT[] = "COMMIT", ROLLBACK[] = "ROLLBACK";
    double t0 = now_s();
    struct store_error e;
    if (!w->txn.conn && !bring_up(w, false)) {
        fail_all(batch, IH_EIO, w->fail_kind); /* not open yet: answered at once */
        return;
    }
    ckpt_before_write(w->ckpt);
    int rc = exec(w, BEGIN);
    if (rc != SQLITE_OK) {
        db_error(w->txn.conn, rc, "BEGIN", &e);
        batch_failed(w, batch, &e);
        return;
    }
    bool store_err = false;
    run_jobs(w, batch, &e, &store_err);
    if (sqlite3_get_autocommit(w->txn.conn)) {
        /* nothing of this batch is stored, so no job of it may succeed */
        if (!store_err)
            db_error(w->txn.conn, SQLITE_ABORT, "a write", &e);
        batch_failed(w, batch, &e);
        return;
    }
    rc = exec(w, COMMIT);
    if (rc != SQLITE_OK) {
        db_error(w->txn.conn, rc, "COMMIT", &e);
        exec(w, ROLLBACK);
        batch_failed(w, batch, &e);
        return;
    }
    metrics_batch(n, now_s() - t0);
    if (store_err) { /* e.g. a read-only file: jobs fail, the empty commit works */
        store_failed(w, &e);
        drop_if_stale(w, &e);
    } else {
        store_ok(w);
    }
}

/* Waits for jobs; wakes up every second to beat the heart, and sooner when a retry of a
 * failed store is due. */
static void wait_for_jobs(struct writer *w)
{
    while (!w->head && !w->stopping) {
        int64_t wait_ms = 1000, now = writer_now_ms();
        if (w->failing && w->retry_at - now < wait_ms)
            wait_ms = w->retry_at > now ? w->retry_at - now : 0;
        atomic_store(&w->heartbeat, now);
        if (wait_ms == 0)
            return;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0 && w->failing)
            return; /* the retry may be due */
    }
}

static void finish(struct writer *w, struct writer_job *batch)
{
    for (struct writer_job *j = batch, *next; j; j = next) {
        next = j->next; /* done may free j */
        if (j->rc != IH_OK) {
            metrics_inc(M_STORE_ERRORS, j->fail_kind ? j->fail_kind : "io");
            if (w->failing)
                state_refused(w->db);
        }
        j->done(j, j->rc);
    }
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        wait_for_jobs(w);
        if (!w->head && w->stopping) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        if (!w->head) { /* no job, and a failed store is due for another try */
            pthread_mutex_unlock(&w->lock);
            if (writer_now_ms() >= w->retry_at)
                bring_up(w, true);
            atomic_store(&w->heartbeat, writer_now_ms());
            continue;
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
        finish(w, batch);
        atomic_store(&w->heartbeat, writer_now_ms());
    }
    return NULL;
}

static double gauge_writable(void *arg)
{
    return db_writable(arg, NULL, 0) ? 1 : 0;
}

ih_status writer_start(struct db *db, const struct writer_options *opt, struct writer **out)
{
    struct writer *w = calloc(1, sizeof(*w));
    if (!w)
        return IH_ENOMEM;
    w->db = db;
    w->opt = *opt;
    w->txn.conn = db->wr; /* the writer owns the write connection from now on (NULL: not open yet) */
    db->wr = NULL;
    if (!db_writable(db, NULL, 0)) { /* db_open could not make it take writes: the thread tries at once */
        w->failing = true;
        w->fail_kind = "io";
        w->backoff_ms = RETRY_FIRST_MS;
        w->retry_at = writer_now_ms();
    }
    atomic_store(&w->heartbeat, writer_now_ms());
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    ih_status rc = ckpt_start(db, &w->ckpt);
    if (rc == IH_OK) {
        adopt(w);
        if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
            rc = IH_ENOMEM;
    }
    if (rc != IH_OK) {
        if (w->txn.conn)
            sqlite3_wal_hook(w->txn.conn, NULL, NULL);
        ckpt_stop(w->ckpt);
        db->wr = w->txn.conn;
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return rc;
    }
    metrics_set_gauge("issuerhook_store_writable", "1 while the store takes writes; 0 while they answer 503.",
                      gauge_writable, db);
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
    ckpt_stop(w->ckpt); /* before the connections close: the last one checkpoints itself */
    w->ckpt = NULL;
    if (w->txn.conn)
        sqlite3_wal_hook(w->txn.conn, NULL, NULL);
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
