/* An online backup of an SQLite database, taken while the daemon runs (SQLite's backup
 * API over a read transaction: WAL lets the writer go on meanwhile). See store_backup. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite.h"

/* fsync of a file or folder by path. */
static int sync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static long long scalar(sqlite3 *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Copies src into the open connection dst, a few pages at a time so that a busy source
 * is waited for rather than failed. */
static int copy(sqlite3 *src, sqlite3 *dst)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b)
        return sqlite3_errcode(dst);
    int rc;
    do {
        rc = sqlite3_backup_step(b, 1024);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            sqlite3_sleep(50);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    int fin = sqlite3_backup_finish(b);
    return rc == SQLITE_DONE ? fin : rc;
}

ih_status sqlite_backup(const char *src, const char *dest, struct backup_result *res, char *err, size_t errlen)
{
    char partial[4096];
    struct stat sb;
    memset(res, 0, sizeof(*res));
    if (snprintf(partial, sizeof(partial), "%s.partial", dest) >= (int)sizeof(partial)) {
        snprintf(err, errlen, "destination path too long");
        return IH_EINVAL;
    }
    if (stat(dest, &sb) == 0) {
        snprintf(err, errlen, "%s exists; a backup never overwrites a file", dest);
        return IH_EINVAL;
    }
    unlink(partial); /* left by an interrupted earlier run */
    sqlite3 *in = NULL, *out = NULL;
    ih_status st = IH_EIO;
    /* no SQLITE_OPEN_CREATE: a wrong path is an error, not a new empty database */
    if (sqlite3_open_v2(src, &in, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", src, in ? sqlite3_errmsg(in) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(in, 5000);
    mode_t old = umask(077);
    int orc = sqlite3_open_v2(partial, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    umask(old);
    if (orc != SQLITE_OK) {
        snprintf(err, errlen, "cannot create %s: %s", partial, out ? sqlite3_errmsg(out) : "out of memory");
        goto done;
    }
    int rc = copy(in, out);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "copy failed: %s", sqlite3_errstr(rc));
        goto done;
    }
    /* the copy carries the source's WAL mode; a backup is one self-contained file */
    if (sqlite3_exec(out, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot leave WAL mode: %s", sqlite3_errmsg(out));
        goto done;
    }
    sqlite3_stmt *qc = NULL;
    bool ok = sqlite3_prepare_v2(out, "PRAGMA quick_check", -1, &qc, NULL) == SQLITE_OK &&
              sqlite3_step(qc) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(qc, 0), "ok") == 0;
    sqlite3_finalize(qc);
    if (!ok) {
        snprintf(err, errlen, "the copy fails PRAGMA quick_check");
        goto done;
    }
    res->schema_version = (int)scalar(out, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    res->records = scalar(out, "SELECT count(*) FROM records");
    res->bytes = scalar(out, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
    if (sqlite3_close(out) != SQLITE_OK) {
        snprintf(err, errlen, "cannot close %s", partial);
        goto done;
    }
    out = NULL;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", dest);
    if (chmod(partial, 0600) != 0 || sync_path(partial, O_RDONLY) != 0 || rename(partial, dest) != 0 ||
        sync_path(dirname(dir), O_RDONLY | O_DIRECTORY) != 0) {
        snprintf(err, errlen, "cannot put the copy in place: %s", strerror(errno));
        goto done;
    }
    st = IH_OK;
done:
    if (out)
        sqlite3_close(out);
    if (in)
        sqlite3_close(in);
    if (st != IH_OK)
        unlink(partial);
    return st;
}
