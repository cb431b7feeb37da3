/* WAL checkpoints in the background. The write connection never checkpoints
 * (wal_autocheckpoint=0), so a COMMIT is only its own WAL append and fsync. This thread,
 * on its own connection, copies the WAL back into the database:
 *   - PASSIVE each time commits have added PASSIVE_FRAMES pages to the WAL: it copies
 *     what no reader still needs and never waits for a lock; once everything is copied,
 *     the writer's next transaction starts the WAL again from its beginning (and cuts the
 *     file back to journal_size_limit), so under load the file stays about that size;
 *   - TRUNCATE once no commit has come for IDLE_MS: the WAL file goes back to 0 bytes.
 *     Without a busy handler it never waits: a reader or a commit in the way makes it a
 *     PASSIVE one, tried again a tick later;
 *   - under sustained load the writer can append during every checkpoint, so that the
 *     WAL is never all copied when its next transaction starts, and the WAL grows. Once a
 *     commit leaves CATCHUP_FRAMES pages, the writer holds back before its next
 *     transaction (at most HOLD_MAX_MS) while one PASSIVE checkpoint catches up; the WAL
 *     then starts again from its beginning. The only wait a commit ever has, and only
 *     past that size.
 * A failed checkpoint (a full disk: the database file cannot grow) is logged once per
 * distinct error and tried again; meanwhile the WAL grows, which is all that happens. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/writer.h"

#define PASSIVE_FRAMES 256  /* 1 MiB of 4 KiB pages */
#define CATCHUP_FRAMES 2048 /* 8 MiB */
#define HOLD_MAX_MS 250
#define IDLE_MS 1000
#define TICK_MS 250

struct checkpointer {
    struct db *db;
    sqlite3 *conn; /* this thread's; opened on first use */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;          /* guarded by lock */
    bool wanted;            /* guarded by lock: a commit passed PASSIVE_FRAMES */
    atomic_bool hold;       /* set under lock: a commit passed CATCHUP_FRAMES; the writer waits */
    pthread_cond_t released; /* hold went false */
    bool failing;           /* guarded by lock: the last checkpoint failed (then no hold) */
    bool reset;             /* guarded by lock: close conn before its next use */
    bool dirty;             /* guarded by lock: commits since the last TRUNCATE */
    int64_t last_commit_ms; /* guarded by lock */
    int asked_at;           /* guarded by lock: the WAL's length when a PASSIVE was last asked for */
    int hold_at;            /* guarded by lock: the WAL's length that makes the writer hold back */
    int logged;             /* this thread's: the error last logged, 0 after a success */
};

void ckpt_committed(struct checkpointer *c, int frames)
{
    int64_t now = writer_now_ms();
    pthread_mutex_lock(&c->lock);
    c->last_commit_ms = now;
    c->dirty = true;
    if (frames < c->asked_at) { /* the WAL started again from its beginning */
        c->asked_at = 0;
        c->hold_at = CATCHUP_FRAMES;
    }
    if (frames >= c->hold_at && !c->failing && !atomic_load(&c->hold)) {
        /* once per CATCHUP_FRAMES of growth: a reader that keeps the WAL from starting
         * again must not make every commit wait */
        c->hold_at = frames + CATCHUP_FRAMES;
        atomic_store(&c->hold, true);
        pthread_cond_signal(&c->cond);
    }
    if (frames - c->asked_at >= PASSIVE_FRAMES && !c->wanted) {
        c->asked_at = frames;
        c->wanted = true;
        pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

void ckpt_before_write(struct checkpointer *c)
{
    if (!c || !atomic_load(&c->hold))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += HOLD_MAX_MS * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&c->lock);
    while (atomic_load(&c->hold) && !c->stopping)
        if (pthread_cond_timedwait(&c->released, &c->lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&c->lock);
}

static void failed(struct checkpointer *c, const struct store_error *e)
{
    metrics_inc(M_CHECKPOINTS, "failed");
    pthread_mutex_lock(&c->lock);
    c->failing = true;
    pthread_mutex_unlock(&c->lock);
    if (c->logged == e->code)
        return;
    c->logged = e->code;
    log_msg(LOG_WARN, "WAL checkpoint failed: the WAL file grows until one succeeds", "reason", e->msg, "during",
            e->during, NULL);
}

void ckpt_reset(struct checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->reset = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* One checkpoint; true when the whole WAL was copied (and, for TRUNCATE, cut to 0). */
static bool checkpoint(struct checkpointer *c, int mode, const char *label)
{
    struct store_error e;
    if (!c->conn) {
        if (db_connect(c->db, SQLITE_OPEN_READWRITE, &c->conn, &e) != SQLITE_OK) {
            failed(c, &e);
            return false;
        }
        sqlite3_busy_timeout(c->conn, 0); /* never wait: see the top of this file */
    }
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->conn, NULL, mode, &log, &done);
    if (rc == SQLITE_OK || rc == SQLITE_BUSY) {
        metrics_inc(M_CHECKPOINTS, label);
        c->logged = 0;
        pthread_mutex_lock(&c->lock);
        c->failing = false;
        pthread_mutex_unlock(&c->lock);
        return rc == SQLITE_OK && log == done;
    }
    db_error(c->conn, rc, mode == SQLITE_CHECKPOINT_TRUNCATE ? "a TRUNCATE checkpoint" : "a PASSIVE checkpoint", &e);
    failed(c, &e);
    if (db_error_stale(&e)) { /* a fresh connection for the next try */
        sqlite3_close(c->conn);
        c->conn = NULL;
    }
    return false;
}

static void *ckpt_main(void *arg)
{
    struct checkpointer *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        if (!c->wanted && !atomic_load(&c->hold)) { /* either may have come during the last checkpoint */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += TICK_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&c->cond, &c->lock, &ts);
        }
        if (c->stopping)
            break;
        if (c->reset && c->conn) {
            sqlite3_close(c->conn);
            c->conn = NULL;
        }
        c->reset = false;
        int mode = -1;
        const char *label = NULL;
        bool held = atomic_load(&c->hold);
        if (c->wanted || held) {
            mode = SQLITE_CHECKPOINT_PASSIVE;
            label = held ? "catchup" : "passive";
        } else if (c->dirty && writer_now_ms() - c->last_commit_ms >= IDLE_MS) {
            mode = SQLITE_CHECKPOINT_TRUNCATE;
            label = "truncate";
        }
        c->wanted = false;
        if (mode < 0)
            continue;
        int64_t stamp = c->last_commit_ms;
        pthread_mutex_unlock(&c->lock);
        bool all = checkpoint(c, mode, label);
        pthread_mutex_lock(&c->lock);
        if (mode == SQLITE_CHECKPOINT_TRUNCATE && all && c->last_commit_ms == stamp)
            c->dirty = false;
        if (held) {
            atomic_store(&c->hold, false);
            pthread_cond_broadcast(&c->released);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static double gauge_wal_bytes(void *arg)
{
    char wal[4200];
    struct stat sb;
    snprintf(wal, sizeof(wal), "%s-wal", ((const struct db *)arg)->path);
    return stat(wal, &sb) == 0 ? (double)sb.st_size : 0;
}

ih_status ckpt_start(struct db *db, struct checkpointer **out)
{
    struct checkpointer *c = calloc(1, sizeof(*c));
    if (!c)
        return IH_ENOMEM;
    c->db = db;
    c->hold_at = CATCHUP_FRAMES;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    pthread_cond_init(&c->released, NULL);
    atomic_init(&c->hold, false);
    if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        pthread_cond_destroy(&c->released);
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return IH_ENOMEM;
    }
    metrics_set_gauge("issuerhook_wal_bytes", "Size of the SQLite write-ahead log file.", gauge_wal_bytes, db);
    *out = c;
    return IH_OK;
}

void ckpt_stop(struct checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->cond);
    pthread_cond_broadcast(&c->released);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    if (c->conn)
        sqlite3_close(c->conn);
    pthread_cond_destroy(&c->released);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
