#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "issuerhook/log.h"
#include "issuerhook/migrate.h"

static const char create_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))";

static int current_version(sqlite3 *c, int *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int apply_one(sqlite3 *c, const struct migration *m)
{
    int rc = sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_exec(c, m->sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(c, "INSERT INTO schema_migrations(version, name) VALUES (?, ?)", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int(st, 1, m->version);
            sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
            rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c);
        }
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

ih_status migrate_conn(sqlite3 *c, int *from, int *to, struct store_error *e)
{
    int v = 0;
    int rc = sqlite3_exec(c, create_table, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = current_version(c, &v);
    if (rc != SQLITE_OK) {
        db_error(c, rc, "reading the schema version", e);
        return db_status(rc) == IH_OK ? IH_EIO : db_status(rc);
    }
    int latest = migrations_sqlite_count ? migrations_sqlite[migrations_sqlite_count - 1].version : 0;
    *from = v;
    *to = v;
    if (v > latest) {
        memset(e, 0, sizeof(*e));
        e->fatal = true;
        e->during = "reading the schema version";
        snprintf(e->msg, sizeof(e->msg),
                 "the database has schema version %d, newer than this issuerhookd knows (%d): "
                 "run the issuerhookd that wrote it, or restore a backup made before the upgrade",
                 v, latest);
        return IH_ENEWER;
    }
    for (size_t i = 0; i < migrations_sqlite_count; i++) {
        const struct migration *m = &migrations_sqlite[i];
        if (m->version <= v)
            continue;
        rc = apply_one(c, m);
        if (rc != SQLITE_OK) {
            db_error(c, rc, "a migration", e);
            /* a full disk or a read-only file passes; a migration SQLite refuses does not */
            int p = e->code & 0xff;
            e->fatal = p != SQLITE_FULL && p != SQLITE_IOERR && p != SQLITE_READONLY && p != SQLITE_BUSY &&
                       p != SQLITE_LOCKED && p != SQLITE_CANTOPEN && p != SQLITE_NOMEM && p != SQLITE_PERM;
            char msg[sizeof(e->msg)];
            snprintf(msg, sizeof(msg), "migration %04d_%.64s failed: %.300s", m->version, m->name, e->msg);
            memcpy(e->msg, msg, sizeof(msg));
            return db_status(rc) == IH_OK ? IH_EIO : db_status(rc);
        }
        char vbuf[16];
        snprintf(vbuf, sizeof(vbuf), "%04d", m->version);
        log_msg(LOG_INFO, "migration applied", "version", vbuf, "name", m->name, NULL);
        *to = m->version;
    }
    return IH_OK;
}
