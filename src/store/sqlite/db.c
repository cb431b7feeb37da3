#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "issuerhook/log.h"
#include "sqlite.h"

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

void db_error(sqlite3 *c, int rc, const char *during, struct store_error *e)
{
    memset(e, 0, sizeof(*e));
    e->during = during;
    e->code = rc;
    bool same = c && (sqlite3_extended_errcode(c) & 0xff) == (rc & 0xff);
    if (same)
        e->code = sqlite3_extended_errcode(c);
    snprintf(e->msg, sizeof(e->msg), "%s", same ? sqlite3_errmsg(c) : sqlite3_errstr(rc));
    int p = rc & 0xff;
    if (same && (p == SQLITE_IOERR || p == SQLITE_CANTOPEN || p == SQLITE_FULL))
        e->os_errno = sqlite3_system_errno(c);
    e->fatal = p == SQLITE_NOTADB;
    e->status = db_status(rc) == IH_OK ? IH_EIO : db_status(rc);
}

const char *db_error_kind(const struct store_error *e)
{
    int p = e->code & 0xff;
    if (p == SQLITE_BUSY || p == SQLITE_LOCKED)
        return "busy";
    if (p == SQLITE_NOMEM)
        return "nomem";
    if (p == SQLITE_FULL || e->os_errno == ENOSPC || e->os_errno == EDQUOT)
        return "full";
    if (p == SQLITE_READONLY || p == SQLITE_PERM || e->os_errno == EROFS || e->os_errno == EACCES ||
        e->os_errno == EPERM)
        return "readonly";
    return "io";
}

/* WAL: readers never block the writer. FULL: a commit is on disk before it returns.
 * No automatic checkpoint inside COMMIT: checkpoint.c does them on its own
 * connection; a WAL that was reset is cut back to WAL_SIZE_LIMIT. */
#define WAL_SIZE_LIMIT (4 * 1024 * 1024)

static int write_pragmas(struct db *db, sqlite3 *c, struct store_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        rc = SQLITE_OK;
        if (!mode || strcmp(mode, "wal") != 0) {
            rc = sqlite3_db_readonly(c, "main") == 1 ? SQLITE_READONLY : SQLITE_CANTOPEN;
            if (e) {
                memset(e, 0, sizeof(*e));
                e->code = rc;
                e->during = "switching to WAL mode";
                snprintf(e->msg, sizeof(e->msg), "the database stays in journal mode %s", mode ? mode : "?");
            }
            sqlite3_finalize(st);
            return rc;
        }
    }
    sqlite3_finalize(st);
    char sql[200];
    snprintf(sql, sizeof(sql),
             "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0;"
             " PRAGMA journal_size_limit=%d;",
             WAL_SIZE_LIMIT);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK && db->opt.max_bytes) {
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%llu",
                 (unsigned long long)(db->opt.max_bytes / 4096 ? db->opt.max_bytes / 4096 : 1));
        rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK && e)
        db_error(c, rc, "opening the database", e);
    return rc;
}

int db_connect(struct db *db, int flags, sqlite3 **out, struct store_error *e)
{
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(db->path, &c, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (e)
            db_error(c, rc, "opening the database", e);
        goto fail;
    }
    sqlite3_extended_result_codes(c, 1);
    sqlite3_busy_timeout(c, (int)db->opt.busy_timeout_ms);
    if ((flags & SQLITE_OPEN_READWRITE) && (rc = write_pragmas(db, c, e)) != SQLITE_OK)
        goto fail;
    *out = c;
    return SQLITE_OK;
fail:
    if (c)
        sqlite3_close(c);
    *out = NULL;
    return rc ? rc : SQLITE_ERROR;
}

/* The folder, then the lock file: nothing is written before the lock is held. */
static ih_status take_lock(struct db *db, struct store_error *e)
{
    char lock_path[4200];
    long holder = 0;
    int err = make_parent(db->path);
    e->during = "taking the lock file";
    if (err) {
        e->os_errno = err;
        e->during = "creating the database's folder";
        snprintf(e->msg, sizeof(e->msg), "cannot create the folder of %.256s", db->path);
        return IH_EIO;
    }
    ih_status rc = lock_take(db->path, &db->lock_fd, &holder, &err, lock_path, sizeof(lock_path));
    if (rc == IH_EBUSY) {
        char pid[32] = "";
        if (holder)
            snprintf(pid, sizeof(pid), " (PID %ld)", holder);
        e->fatal = true;
        snprintf(e->msg, sizeof(e->msg),
                 "another issuerhookd%s serves this database (it holds %.256s): stop it first; two daemons must never serve one database",
                 pid, lock_path);
    } else if (rc != IH_OK) {
        e->os_errno = err;
        snprintf(e->msg, sizeof(e->msg), "cannot open the lock file %.256s", lock_path);
    }
    return rc;
}

/* One committed write: what a rolled-back transaction cannot tell (in WAL mode it writes
 * nothing), such as a full disk, this does. */
static ih_status probe_write(sqlite3 *c, struct store_error *e)
{
    static const char sql[] = "BEGIN IMMEDIATE;"
                              " INSERT INTO store_probe (id, probed_at) VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
                              " ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at;"
                              " COMMIT;";
    int rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return IH_OK;
    db_error(c, rc, "a test write", e);
    if (!sqlite3_get_autocommit(c))
        sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
    return db_status(rc) == IH_OK ? IH_EIO : db_status(rc);
}

/* SQLite says "unable to open database file" when it cannot create the -wal or -shm
 * file beside the database: say so when the folder is what cannot be written. */
static void explain_folder(const char *path, struct store_error *e)
{
    int p = e->code & 0xff;
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    if ((p != SQLITE_CANTOPEN && p != SQLITE_READONLY) || access(slash ? dir : ".", W_OK) == 0)
        return;
    e->os_errno = errno;
    size_t n = strlen(e->msg);
    snprintf(e->msg + n, sizeof(e->msg) - n, "; its folder cannot be written (SQLite keeps the -wal and -shm files there)");
}

bool db_error_stale(const struct store_error *e)
{
    int p = e->code & 0xff;
    return p == SQLITE_IOERR || p == SQLITE_READONLY || p == SQLITE_CANTOPEN || p == SQLITE_CORRUPT ||
           p == SQLITE_NOTADB || p == SQLITE_PERM;
}

ih_status db_prepare(struct db *db, sqlite3 **conn, bool probe, struct store_error *e)
{
    memset(e, 0, sizeof(*e));
    ih_status rc = IH_OK;
    struct stat sb;
    if (db->lock_fd < 0 && (rc = take_lock(db, e)) != IH_OK)
        return rc;
    if (!*conn) {
        if (stat(db->path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
            e->fatal = true;
            e->during = "opening the database";
            snprintf(e->msg, sizeof(e->msg), "%.256s is not a regular file", db->path);
            return IH_EINVAL;
        }
        int src = db_connect(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, conn, e);
        if (src == SQLITE_OK && (src = sqlite3_exec(*conn, "PRAGMA page_size=4096", NULL, NULL, NULL)) != SQLITE_OK)
            db_error(*conn, src, "opening the database", e);
        if (src != SQLITE_OK)
            explain_folder(db->path, e);
        rc = db_status(src);
    }
    int from = 0, to = 0;
    if (rc == IH_OK && db->base.schema_version == 0 && (rc = migrate_conn(*conn, &from, &to, e)) == IH_OK)
        db->base.schema_version = to;
    if (rc == IH_OK && probe)
        rc = probe_write(*conn, e);
    if (rc != IH_OK && *conn && db_error_stale(e)) {
        sqlite3_close_v2(*conn); /* closed once the owner finalizes its statements */
        *conn = NULL;
    }
    return rc;
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

/* A free connection of slots [first, DB_READERS), opened on first use. */
static sqlite3 *read_acquire_from(struct db *db, int first)
{
    pthread_mutex_lock(&db->rd_lock);
    for (;;) {
        for (int i = first; i < DB_READERS; i++) {
            if (db->rd_busy[i])
                continue;
            if (!db->rd[i] && db_connect(db, SQLITE_OPEN_READONLY, &db->rd[i], NULL) != SQLITE_OK) {
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

sqlite3 *db_read_acquire(struct db *db)
{
    return read_acquire_from(db, 0);
}

sqlite3 *db_read_acquire_feed(struct db *db)
{
    return read_acquire_from(db, DB_READERS - DB_FEED_READERS);
}

void db_read_release(struct db *db, sqlite3 *conn)
{
    pthread_mutex_lock(&db->rd_lock);
    for (int i = 0; i < DB_READERS; i++) {
        if (db->rd[i] != conn)
            continue;
        db->rd_busy[i] = false;
        if (db->rd_stale[i]) {
            sqlite3_close(conn);
            db->rd[i] = NULL;
            db->rd_stale[i] = false;
        }
    }
    pthread_cond_broadcast(&db->rd_free); /* a waiter of either share may take it */
    pthread_mutex_unlock(&db->rd_lock);
}

void db_readers_reset(struct db *db)
{
    pthread_mutex_lock(&db->rd_lock);
    for (int i = 0; i < DB_READERS; i++) {
        if (db->rd[i] && db->rd_busy[i]) {
            db->rd_stale[i] = true;
        } else if (db->rd[i]) {
            sqlite3_close(db->rd[i]);
            db->rd[i] = NULL;
        }
    }
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
