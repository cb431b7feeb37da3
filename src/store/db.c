#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "issuerhook/log.h"

ih_status db_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return IH_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return IH_EBUSY;
    case SQLITE_NOMEM: return IH_ENOMEM;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH: return IH_EINVAL;
    default: return IH_EIO; /* FULL, IOERR, CORRUPT, CANTOPEN, READONLY, ... */
    }
}

ih_status db_fail(sqlite3 *c)
{
    ih_status st = db_status(sqlite3_errcode(c));
    return st == IH_OK ? IH_EIO : st;
}

/* mkdir -p of the folder that holds path. */
static int make_parent(const char *path)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n >= sizeof(buf))
        return ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return 0;
    *slash = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0750) != 0 && errno != EEXIST)
                return errno;
            *p = '/';
        }
    }
    if (mkdir(buf, 0750) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

int db_connect(struct db *db, int flags, sqlite3 **out)
{
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(db->path, &c, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_extended_result_codes(c, 1);
    sqlite3_busy_timeout(c, (int)db->opt.busy_timeout_ms);
    if (flags & SQLITE_OPEN_READWRITE) {
        /* WAL: readers never block the writer. FULL: a commit is on disk before it returns. */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(c, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(st, 0);
            rc = (mode && strcmp(mode, "wal") == 0) ? SQLITE_OK : SQLITE_CANTOPEN;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_OK)
            goto fail;
        rc = sqlite3_exec(c, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=4000;",
                          NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto fail;
        if (db->opt.max_bytes) {
            char sql[80];
            snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%llu",
                     (unsigned long long)(db->opt.max_bytes / 4096 ? db->opt.max_bytes / 4096 : 1));
            if ((rc = sqlite3_exec(c, sql, NULL, NULL, NULL)) != SQLITE_OK)
                goto fail;
        }
    }
    *out = c;
    return SQLITE_OK;
fail:
    if (c)
        sqlite3_close(c);
    *out = NULL;
    return rc ? rc : SQLITE_ERROR;
}

/* The lock file: two daemons must never serve one database. */
static ih_status take_lock(struct db *db, char *err, size_t errlen)
{
    char lock_path[4200];
    long holder = 0;
    int os_err = 0;
    ih_status rc = lock_take(db->path, &db->lock_fd, &holder, &os_err, lock_path, sizeof(lock_path));
    if (rc == IH_EBUSY) {
        char pid[32] = "";
        if (holder)
            snprintf(pid, sizeof(pid), " (PID %ld)", holder);
        snprintf(err, errlen,
                 "%.256s: another issuerhookd%s serves this database (it holds %.256s): stop it first; "
                 "two daemons must never serve one database",
                 db->path, pid, lock_path);
    } else if (rc != IH_OK) {
        snprintf(err, errlen, "cannot open the lock file %.256s: %s", lock_path, strerror(os_err));
    }
    return rc;
}

ih_status db_open(const char *path, const struct db_options *opt, struct db **out, char *err, size_t errlen)
{
    *out = NULL;
    struct db *db = calloc(1, sizeof(*db));
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return IH_ENOMEM;
    }
    db->opt = *opt;
    db->lock_fd = -1;
    pthread_mutex_init(&db->rd_lock, NULL);
    pthread_cond_init(&db->rd_free, NULL);
    int e = make_parent(path);
    if (e) {
        snprintf(err, errlen, "cannot create the folder of %s: %s", path, strerror(e));
        db_close(db);
        return IH_EIO;
    }
    ih_status lrc = take_lock(db, err, errlen); /* before anything is written */
    if (lrc != IH_OK) {
        db_close(db);
        return lrc;
    }
    int rc = db_connect(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db->wr);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db->wr, "PRAGMA page_size=4096", NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path, sqlite3_errstr(rc));
        db_close(db);
        return db_status(rc) == IH_OK ? IH_EIO : db_status(rc);
    }
    *out = db;
    return IH_OK;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    for (int i = 0; i < DB_READERS; i++)
        if (db->rd[i])
            sqlite3_close(db->rd[i]);
    if (db->wr)
        sqlite3_close(db->wr);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* after the last connection: the lock covers the final checkpoint */
    pthread_cond_destroy(&db->rd_free);
    pthread_mutex_destroy(&db->rd_lock);
    free(db->path);
    free(db);
}

const char *db_path(const struct db *db)
{
    return db->path;
}

ih_status db_ping(struct db *db, double *ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    sqlite3 *c = db_read_acquire(db);
    sqlite3_stmt *st = NULL;
    int rc = c ? sqlite3_prepare_v2(c, "SELECT max(seq) FROM records", -1, &st, NULL) : SQLITE_CANTOPEN;
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (c)
        db_read_release(db, c);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    return rc == SQLITE_ROW ? IH_OK : (db_status(rc) == IH_OK ? IH_EIO : db_status(rc));
}

sqlite3_stmt *txn_stmt(struct writer_txn *t, const char *sql)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->cache[i].sql == sql) {
            sqlite3_reset(t->cache[i].stmt);
            sqlite3_clear_bindings(t->cache[i].stmt);
            return t->cache[i].stmt;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(t->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        return NULL;
    if (t->n < STMT_CACHE_MAX) {
        t->cache[t->n].sql = sql;
        t->cache[t->n].stmt = st;
        t->n++;
    } else {
        log_msg(LOG_ERROR, "statement cache full", NULL);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

void txn_cache_clear(struct writer_txn *t)
{
    for (size_t i = 0; i < t->n; i++)
        sqlite3_finalize(t->cache[i].stmt);
    t->n = 0;
}

sqlite3 *db_read_acquire(struct db *db)
{
    pthread_mutex_lock(&db->rd_lock);
    for (;;) {
        for (int i = 0; i < DB_READERS; i++) {
            if (db->rd_busy[i])
                continue;
            if (!db->rd[i] && db_connect(db, SQLITE_OPEN_READONLY, &db->rd[i]) != SQLITE_OK) {
                pthread_mutex_unlock(&db->rd_lock);
                return NULL;
            }
            db->rd_busy[i] = true;
            pthread_mutex_unlock(&db->rd_lock);
            return db->rd[i];
        }
        pthread_cond_wait(&db->rd_free, &db->rd_lock);
    }
}

void db_read_release(struct db *db, sqlite3 *conn)
{
    pthread_mutex_lock(&db->rd_lock);
    for (int i = 0; i < DB_READERS; i++)
        if (db->rd[i] == conn)
            db->rd_busy[i] = false;
    pthread_cond_signal(&db->rd_free);
    pthread_mutex_unlock(&db->rd_lock);
}

ih_status txn_first_answer(struct writer_txn *t, const char *sql, const char *k1, const char *k2,
                           const unsigned char *hash, enum answer_match *m, unsigned *status, char **body)
{
    sqlite3_stmt *st = txn_stmt(t, sql);
    *m = ANSWER_NONE;
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, k1, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k2, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return IH_OK;
    if (rc != SQLITE_ROW)
        return db_fail(t->conn);
    const void *h = sqlite3_column_blob(st, 0);
    if (!h || sqlite3_column_bytes(st, 0) != 32 || memcmp(h, hash, 32) != 0) {
        *m = ANSWER_DIFFERENT;
        return IH_OK;
    }
    *m = ANSWER_SAME;
    *status = (unsigned)sqlite3_column_int(st, 1);
    const char *text = (const char *)sqlite3_column_text(st, 2);
    *body = strdup(text ? text : "");
    return *body ? IH_OK : IH_ENOMEM;
}
