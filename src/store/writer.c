/* Group commit, on every backend. Requests enqueue jobs; this thread takes everything
 * queued (up to batch_max) and hands the batch to the backend, which commits it in one
 * transaction (SQLite: each job all or nothing inside one IMMEDIATE transaction,
 * one fsync with synchronous=FULL), then calls every job's done. A job's done runs only
 * after its data is durable, or with the error that kept it from being so.
 * The writer also keeps the store's state (state.c): after a failure it tries again
 * with a backoff (a batch, or a test write when none comes) until the store takes
 * writes. What a backend must do to recover (SQLite: a fresh write connection after an
 * I/O error, the checkpointer) is the backend's.
 * Batching: the writer commits what is queued at once, with one exception: requests on
 * their way. Those are the ones whose headers are in and whose job is not submitted yet
 * (writer_expect .. writer_unexpect), and the clients the last commit answered that have
 * not sent their next request yet (fewer writer_expect calls since that commit than it
 * had jobs). When some are on their way, the writer waits for them while they keep coming
 * (a request expected or submitted in every step of LINGER_STEP_DEN-th of the last commit's
 * duration), but never longer than LINGER_NUM/LINGER_DEN of the last commit's duration,
 * so that they share the next commit rather than each waiting for one of their own.
 * A lone request is not waited for (nothing else is on its way), so an idle daemon answers
 * in about one commit; requests that stall (a body sent slowly) and clients that do not
 * come back cost a batch one step at most. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "backend.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/writer.h"

#define RETRY_FIRST_MS 250
#define RETRY_MAX_MS 5000
#define LINGER_NUM 1
#define LINGER_DEN 2
#define LINGER_STEP_DEN 8

struct writer {
    struct store *store;
    const struct store_backend *ops;
    struct backend_writer *bw; /* the backend's write side */
    struct writer_options opt;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct writer_job *head, *tail; /* guarded by lock */
    size_t depth;                   /* guarded by lock */
    bool stopping;                  /* guarded by lock */
    atomic_long expected;           /* writer_expect minus writer_unexpect */
    atomic_ulong expects;           /* writer_expect calls so far */
    atomic_ulong unexpected;        /* writer_unexpect calls so far */
    atomic_ulong all_back;          /* expects once the clients of the last batch are all back */
    atomic_bool lingering;          /* the thread waits for requests on their way */
    _Atomic int64_t heartbeat;
    /* the writer thread's: */
    bool failing;          /* the last write failed */
    const char *fail_kind; /* its metric label */
    int64_t retry_at;      /* monotonic ms: the next try, while failing */
    unsigned backoff_ms;
    bool gate_passed;      /* opt.gate said IH_OK (or there is none) */
    int64_t last_commit_ns; /* how long the last committed batch took */
};

int64_t writer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec ns_timespec(int64_t ns)
{
    return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
}

static void store_failed(struct writer *w, const struct store_error *e)
{
    state_failed(w->store, e, true);
    w->fail_kind = w->ops->error_kind(e);
    w->backoff_ms = !w->failing ? RETRY_FIRST_MS : w->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->backoff_ms * 2;
    w->retry_at = writer_now_ms() + w->backoff_ms;
    w->failing = true;
}

static void store_ok(struct writer *w)
{
    if (!w->failing)
        return;
    w->failing = false;
    state_ok(w->store);
}

/* opt.gate, until it passes: false fails the batch (the state says why). */
static bool pass_gate(struct writer *w)
{
    if (w->gate_passed || !w->opt.gate)
        return true;
    struct keycheck_store ks;
    struct store_error e = {.during = "checking the PAN key against the database"};
    w->ops->writer_keycheck_store(w->bw, &ks);
    if (w->opt.gate(w->opt.gate_arg, &ks, e.msg, sizeof(e.msg)) == IH_OK) {
        w->gate_passed = true;
        return true;
    }
    store_failed(w, &e);
    return false;
}

/* Has the backend do what is left to make the store take writes: at once when the
 * store has not failed, else not before the backoff says so. */
static bool bring_up(struct writer *w, bool probe)
{
    if (w->failing && writer_now_ms() < w->retry_at)
        return false;
    struct store_error e;
    if (w->ops->writer_prepare(w->bw, probe, &e) != IH_OK) {
        store_failed(w, &e);
        return false;
    }
    if (probe && pass_gate(w))
        store_ok(w);
    return true;
}

static void fail_all(struct writer_job *batch, ih_status rc, const char *kind)
{
    for (struct writer_job *j = batch; j; j = j->next) {
        j->rc = rc;
        j->fail_kind = kind;
    }
}

static void run_batch(struct writer *w, struct writer_job *batch, size_t n)
{
    int64_t t0 = now_ns();
    if (!w->ops->writer_connected(w->bw) && !bring_up(w, false)) {
        fail_all(batch, IH_EIO, w->fail_kind); /* not open yet: answered at once */
        return;
    }
    if (!pass_gate(w)) {
        fail_all(batch, IH_EIO, w->fail_kind);
        return;
    }
    struct store_error e;
    switch (w->ops->writer_run(w->bw, batch, n, &e)) {
    case BATCH_FAILED: /* nothing of this batch is stored, so no job of it may succeed */
        store_failed(w, &e);
        fail_all(batch, e.status != IH_OK ? e.status : IH_EIO, w->fail_kind);
        return;
    case BATCH_COMMITTED_FAILING: /* e.g. a read-only file: jobs fail, the empty commit works */
        metrics_batch(n, (double)(now_ns() - t0) / 1e9);
        store_failed(w, &e);
        return;
    case BATCH_COMMITTED:
        w->last_commit_ns = now_ns() - t0;
        metrics_batch(n, (double)w->last_commit_ns / 1e9);
        store_ok(w);
        return;
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
        struct timespec ts = ns_timespec(now_ns() + wait_ms * 1000000);
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0 && w->failing)
            return; /* the retry may be due */
    }
}

/* Requests on their way (see the top of this file). */
static bool on_their_way(struct writer *w)
{
    return atomic_load(&w->expected) > 0 || atomic_load(&w->expects) < atomic_load(&w->all_back);
}

static unsigned long progress(struct writer *w)
{
    return atomic_load(&w->expects) + atomic_load(&w->unexpected);
}

/* With jobs queued: waits while requests are on their way, at most a fraction of the last
 * commit's duration (see the top of this file). Called and returns with lock held. */
static void linger(struct writer *w)
{
    if (w->failing || w->last_commit_ns <= 0 || !on_their_way(w))
        return;
    int64_t start = now_ns(), until = start + w->last_commit_ns * LINGER_NUM / LINGER_DEN;
    int64_t step = w->last_commit_ns / LINGER_STEP_DEN, next = start + step;
    unsigned long seen = progress(w);
    atomic_store(&w->lingering, true);
    while (w->depth < w->opt.batch_max && !w->stopping && on_their_way(w)) {
        struct timespec ts = ns_timespec(next < until ? next : until);
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != ETIMEDOUT)
            continue; /* a full batch, the last one in, a stop: the loop's condition says */
        unsigned long now_seen = progress(w);
        if (next >= until || now_seen == seen)
            break; /* the deadline, or a whole step without one */
        seen = now_seen;
        next += step;
    }
    atomic_store(&w->lingering, false);
}

static void finish(struct writer *w, struct writer_job *batch)
{
    for (struct writer_job *j = batch, *next; j; j = next) {
        next = j->next; /* done may free j */
        if (j->rc != IH_OK) {
            metrics_inc(M_STORE_ERRORS, j->fail_kind ? j->fail_kind : "io");
            if (w->failing)
                state_refused(w->store);
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
        linger(w);
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
        atomic_store(&w->all_back, atomic_load(&w->expects) + n); /* its clients, once back */
        finish(w, batch);
        atomic_store(&w->heartbeat, writer_now_ms());
    }
    return NULL;
}

static double gauge_writable(void *arg)
{
    return store_writable(arg, NULL, 0) ? 1 : 0;
}

ih_status writer_start(struct store *s, const struct writer_options *opt, struct writer **out)
{
    struct writer *w = calloc(1, sizeof(*w));
    if (!w)
        return IH_ENOMEM;
    w->store = s;
    w->ops = s->ops;
    w->opt = *opt;
    if (!store_writable(s, NULL, 0)) { /* store_open could not make it take writes: the thread tries at once */
        w->failing = true;
        w->fail_kind = "io";
        w->backoff_ms = RETRY_FIRST_MS;
        w->retry_at = writer_now_ms();
    }
    atomic_store(&w->heartbeat, writer_now_ms());
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* waits are timed on now_ns() */
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    ih_status rc = w->ops->writer_attach(s, &w->bw); /* the writer owns the write side from now on */
    if (rc == IH_OK && pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        w->ops->writer_detach(w->bw);
        rc = IH_ENOMEM;
    }
    if (rc != IH_OK) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return rc;
    }
    metrics_set_gauge("issuerhook_store_writable", "1 while the store takes writes; 0 while they answer 503.",
                      gauge_writable, s);
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
        /* a lingering writer is not woken for each job: it looks when its step ends */
        if (!atomic_load(&w->lingering) || w->depth >= w->opt.batch_max)
            pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    if (rc == IH_EBUSY)
        metrics_inc(M_STORE_ERRORS, "queue_full");
    if (rc != IH_OK)
        job->done(job, rc);
}

void writer_expect(struct writer *w)
{
    if (!w)
        return;
    atomic_fetch_add(&w->expected, 1);
    atomic_fetch_add(&w->expects, 1);
}

void writer_unexpect(struct writer *w)
{
    if (!w)
        return;
    atomic_fetch_add(&w->unexpected, 1);
    if (atomic_fetch_sub(&w->expected, 1) != 1 || !atomic_load(&w->lingering) || on_their_way(w))
        return;
    pthread_mutex_lock(&w->lock); /* the last one on its way is in: the lingering writer may go */
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
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
    w->ops->writer_detach(w->bw); /* hands the write side back, for store_close */
    w->bw = NULL;
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
