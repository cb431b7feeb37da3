/* The SQLite store: opening and closing it, what health asks of it, how its errors
 * read, and the struct store_backend that store.c and the shared writer call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "sqlite.h"

ih_status sqlite_open(const char *path, const struct store_options *opt, struct store **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    struct db *db = calloc(1, sizeof(*db));
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return IH_ENOMEM;
    }
    store_base_init(&db->base, &sqlite_backend, db->path);
    db->opt = *opt;
    db->lock_fd = -1;
    pthread_mutex_init(&db->rd_lock, NULL);
    pthread_cond_init(&db->rd_free, NULL);
    struct store_error e;
    if (opt->read_only) { /* the read pool only: another process may be its writer */
        *out = &db->base;
        return IH_OK;
    }
    ih_status rc = db_prepare(db, &db->wr, true, &e);
    if (rc != IH_OK && e.fatal) {
        snprintf(err, errlen, "%s: %s", path, e.msg);
        store_close(&db->base);
        return rc;
    }
    if (rc != IH_OK)
        state_failed(&db->base, &e, false); /* the writer tries again; the caller says so */
    *out = &db->base;
    return IH_OK;
}

static void sqlite_close(struct store *s)
{
    struct db *db = db_of(s);
    for (int i = 0; i < DB_READERS; i++)
        if (db->rd[i])
            sqlite3_close(db->rd[i]);
    if (db->wr)
        sqlite3_close(db->wr);
    if (db->lock_fd >= 0)
        close(db->lock_fd); /* after the last connection: the lock covers the final checkpoint */
    store_base_destroy(&db->base);
    pthread_cond_destroy(&db->rd_free);
    pthread_mutex_destroy(&db->rd_lock);
    free(db->path);
    free(db);
}

static const char *sqlite_disk_path(const struct store *s)
{
    return ((const struct db *)s)->path;
}

static ih_status sqlite_ping(struct store *s, double *ms)
{
    struct db *db = db_of(s);
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

/* SQLite's name of a primary result code (it has no function for it). */
static const char *code_name(int code)
{
    static const char *const names[] = {
        [SQLITE_ERROR] = "SQLITE_ERROR",   [SQLITE_PERM] = "SQLITE_PERM",         [SQLITE_BUSY] = "SQLITE_BUSY",
        [SQLITE_LOCKED] = "SQLITE_LOCKED", [SQLITE_NOMEM] = "SQLITE_NOMEM",       [SQLITE_READONLY] = "SQLITE_READONLY",
        [SQLITE_IOERR] = "SQLITE_IOERR",   [SQLITE_CORRUPT] = "SQLITE_CORRUPT",   [SQLITE_FULL] = "SQLITE_FULL",
        [SQLITE_CANTOPEN] = "SQLITE_CANTOPEN", [SQLITE_PROTOCOL] = "SQLITE_PROTOCOL",
        [SQLITE_SCHEMA] = "SQLITE_SCHEMA", [SQLITE_NOTADB] = "SQLITE_NOTADB",
    };
    int p = code & 0xff;
    return p > 0 && p < (int)(sizeof(names) / sizeof(names[0])) && names[p] ? names[p] : NULL;
}

/* "database or disk is full (SQLITE_FULL during commit: No space left on device)";
 * an extended code is given as a number after the primary name. */
void db_error_text(const struct store_error *e, char *out, size_t cap)
{
    char code[40] = "";
    const char *name = code_name(e->code);
    if (e->code && e->code != (e->code & 0xff))
        snprintf(code, sizeof(code), "%s %d ", name ? name : "SQLite code", e->code);
    else if (e->code)
        snprintf(code, sizeof(code), "%s ", name ? name : "SQLite code");
    snprintf(out, cap, "%s (%sduring %s%s%s)", e->msg, code, e->during, e->os_errno ? ": " : "",
             e->os_errno ? strerror(e->os_errno) : "");
}

const struct store_backend sqlite_backend = {
    .name = "sqlite",
    .close = sqlite_close,
    .disk_path = sqlite_disk_path,
    .ping = sqlite_ping,
    .error_kind = db_error_kind,
    .error_text = db_error_text,
    .writer_attach = sqlite_writer_attach,
    .writer_detach = sqlite_writer_detach,
    .writer_connected = sqlite_writer_connected,
    .writer_prepare = sqlite_writer_prepare,
    .writer_run = sqlite_writer_run,
    .keycheck_store = sqlite_pankeys_store,
    .writer_keycheck_store = sqlite_writer_keycheck_store,
    .find_token = sqlite_find_token,
    .bookings_get = sqlite_bookings_get,
    .bookings_list = sqlite_bookings_list,
    .outbox_claim = sqlite_outbox_claim,
    .outbox_stats = sqlite_outbox_stats,
    .feed_pos_valid = sqlite_feed_pos_valid,
    .feed_scan_commit_order = sqlite_feed_scan_commit_order,
    .feed_scan_time_order = sqlite_feed_scan_time_order,
};
