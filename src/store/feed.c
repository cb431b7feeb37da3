#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "issuerhook/feed.h"

#define ROW_COLUMNS "seq, source, type, tracing_id, payload, coalesce(occurred_at, received_at)"

static void row_of(sqlite3_stmt *st, struct feed_row *r)
{
    r->seq = sqlite3_column_int64(st, 0);
    r->source = (const char *)sqlite3_column_text(st, 1);
    r->type = (const char *)sqlite3_column_text(st, 2);
    r->tracing_id = (const char *)sqlite3_column_text(st, 3);
    r->payload = (const char *)sqlite3_column_text(st, 4);
    r->occurred_ms = sqlite3_column_int64(st, 5);
}

/* Steps st, handing rows to fn until scan_max rows, fn says stop, or the end; one more
 * row is read to know whether there are more. */
static ih_status drive(sqlite3 *c, sqlite3_stmt *st, size_t scan_max, feed_row_fn fn, void *arg, int64_t *last_seq,
                       int64_t *last_ms, bool *more)
{
    size_t n = 0;
    bool stopped = false;
    int rc;
    *more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == scan_max || stopped) {
            *more = true;
            return IH_OK;
        }
        struct feed_row r;
        row_of(st, &r);
        if (!r.source || !r.type || !r.payload)
            return IH_EIO;
        n++;
        *last_seq = r.seq;
        if (last_ms)
            *last_ms = r.occurred_ms;
        stopped = !fn(&r, arg);
    }
    return rc == SQLITE_DONE ? IH_OK : db_fail(c);
}

static ih_status run(struct db *db, const char *sql, const int64_t *binds, const int *bind_at, size_t nbinds,
                     size_t scan_max, feed_row_fn fn, void *arg, int64_t *last_seq, int64_t *last_ms, bool *more)
{
    sqlite3 *c = db_read_acquire(db);
    if (!c)
        return IH_EIO;
    sqlite3_stmt *st = NULL;
    ih_status rc = IH_OK;
    /* one snapshot for the whole scan */
    if (sqlite3_exec(c, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(c);
        goto done;
    }
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(c);
    } else {
        for (size_t i = 0; i < nbinds; i++)
            sqlite3_bind_int64(st, bind_at[i], binds[i]);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)scan_max + 1);
        rc = drive(c, st, scan_max, fn, arg, last_seq, last_ms, more);
    }
    sqlite3_finalize(st);
    sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
done:
    db_read_release(db, c);
    return rc;
}

ih_status feed_scan_commit_order(struct db *db, int64_t after, size_t scan_max, feed_row_fn fn, void *arg,
                                 struct feed_scan_result *out)
{
    static const char sql[] = "SELECT " ROW_COLUMNS " FROM records WHERE seq > ?2 ORDER BY seq LIMIT ?1";
    const int at[] = {2};
    out->last_seq = after;
    return run(db, sql, &after, at, 1, scan_max, fn, arg, &out->last_seq, NULL, &out->more);
}

ih_status feed_scan_time_order(struct db *db, const struct feed_time_query *q, size_t scan_max, feed_row_fn fn,
                               void *arg, struct feed_time_result *out)
{
    /* ?2 from, ?3 to, ?4/?5 cursor; absent bounds are wide open */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT " ROW_COLUMNS " FROM records WHERE coalesce(occurred_at, received_at) >= ?2"
             " AND coalesce(occurred_at, received_at) < ?3 %s"
             " ORDER BY coalesce(occurred_at, received_at) %s, seq %s LIMIT ?1",
             !q->has_cursor ? ""
             : q->desc      ? "AND (coalesce(occurred_at, received_at), seq) < (?4, ?5)"
                            : "AND (coalesce(occurred_at, received_at), seq) > (?4, ?5)",
             q->desc ? "DESC" : "ASC", q->desc ? "DESC" : "ASC");
    const int64_t binds[] = {q->has_from ? q->from_ms : INT64_MIN, q->has_to ? q->to_ms : INT64_MAX, q->cur_ms,
                             q->cur_seq};
    const int at[] = {2, 3, 4, 5};
    out->last_ms = q->cur_ms;
    out->last_seq = q->cur_seq;
    return run(db, sql, binds, at, q->has_cursor ? 4 : 2, scan_max, fn, arg, &out->last_seq, &out->last_ms,
               &out->more);
}
