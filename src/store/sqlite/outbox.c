/* The callback outbox on SQLite: due rows claimed, counts, and a delivery attempt's mark. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool skipped(int64_t id, const int64_t *skip, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (skip[i] == id)
            return true;
    return false;
}

/* One node: a due row that is not in skip (this node's deliveries under way) is free, so
 * the claim is a read; no lease is needed. */
ih_status sqlite_outbox_claim(struct store *s, int64_t now_ms, unsigned lease_ms, const int64_t *skip, size_t nskip,
                              struct outbox_item *out, size_t max, size_t *n)
{
    struct db *db = db_of(s);
    (void)lease_ms;
    *n = 0;
    sqlite3 *c = db_read_acquire(db);
    sqlite3_stmt *st = NULL;
    ih_status rc = IH_OK;
    if (!c)
        return IH_EIO;
    if (sqlite3_prepare_v2(c,
                           "SELECT id, amiko_booking_id, body, tracing_id, attempts FROM outbox"
                           " WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(c);
        goto done;
    }
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(max + nskip));
    int sr;
    while (*n < max && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (skipped(id, skip, nskip))
            continue;
        struct outbox_item *it = &out[*n];
        memset(it, 0, sizeof(*it));
        it->id = id;
        snprintf(it->booking_id, sizeof(it->booking_id), "%s", (const char *)sqlite3_column_text(st, 1));
        it->body = strdup((const char *)sqlite3_column_text(st, 2));
        snprintf(it->tracing_id, sizeof(it->tracing_id), "%s", (const char *)sqlite3_column_text(st, 3));
        it->attempts = (long)sqlite3_column_int64(st, 4);
        if (!it->body) {
            rc = IH_ENOMEM;
            break;
        }
        (*n)++;
    }
done:
    sqlite3_finalize(st);
    db_read_release(db, c);
    return rc;
}

ih_status sqlite_outbox_stats(struct store *s, struct outbox_stats *out)
{
    struct db *db = db_of(s);
    sqlite3 *c = db_read_acquire(db);
    sqlite3_stmt *st = NULL;
    ih_status rc = IH_OK;
    memset(out, 0, sizeof(*out));
    out->next_due = -1;
    if (!c)
        return IH_EIO;
    if (sqlite3_prepare_v2(c,
                           "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'),"
                           " (SELECT count(*) FROM outbox WHERE state = 'dead'),"
                           " (SELECT count(*) FROM outbox WHERE state = 'delivered'),"
                           " (SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending')",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = db_fail(c);
    } else {
        out->pending = (long)sqlite3_column_int64(st, 0);
        out->dead = (long)sqlite3_column_int64(st, 1);
        out->delivered = (long)sqlite3_column_int64(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            out->next_due = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    db_read_release(db, c);
    return rc;
}

static const char SQL_DELIVERED[] =
    "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_status = ?3,"
    " last_error = NULL WHERE id = ?1 AND state = 'pending'";
static const char SQL_RETRY[] =
    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_status = ?3, last_error = ?4"
    " WHERE id = ?1 AND state = 'pending'";
static const char SQL_DEAD[] =
    "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_status = ?3, last_error = ?4"
    " WHERE id = ?1 AND state = 'pending' AND ?2 IS NOT NULL";

ih_status sqlite_outbox_mark_apply(struct writer_txn *t, struct outbox_mark_job *m)
{
    const char *sql = m->what == OUTBOX_DELIVERED ? SQL_DELIVERED : m->what == OUTBOX_RETRY ? SQL_RETRY : SQL_DEAD;
    sqlite3_stmt *st = txn_stmt(t, sql);
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_int64(st, 1, m->id);
    sqlite3_bind_int64(st, 2, m->what == OUTBOX_RETRY ? m->next_at_ms : m->at_ms);
    if (m->http_status)
        sqlite3_bind_int64(st, 3, m->http_status);
    if (m->what != OUTBOX_DELIVERED && m->error[0])
        sqlite3_bind_text(st, 4, m->error, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? IH_OK : db_fail(t->conn);
}
