/* The feed on SQLite: rows in commit order above a position, or in occurredAt order
 * with a keyset cursor, each scan in one read transaction on the feed's share of the pool. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define ROW_COLUMNS "seq, source, type, tracing_id, payload, coalesce(occurred_at, received_at)"
#define WHEN "coalesce(occurred_at, received_at)"

static void row_of(sqlite3_stmt *st, struct feed_row *r)
{
    r->seq = sqlite3_column_int64(st, 0);
    r->pos = (struct feed_pos){0, r->seq};
    r->source = (const char *)sqlite3_column_text(st, 1);
    r->type = (const char *)sqlite3_column_text(st, 2);
    r->tracing_id = (const char *)sqlite3_column_text(st, 3);
    r->payload = (const char *)sqlite3_column_text(st, 4);
    r->payload_len = (size_t)sqlite3_column_bytes(st, 4);
    r->occurred_ms = sqlite3_column_int64(st, 5);
}

/* Steps st (at most scan_max rows), handing rows to fn until fn says stop or the rows
 * end. *more: known to be true (fn gave a row back), else whether to ask. */
enum drive_end { DRIVE_ENDED, DRIVE_STOPPED, DRIVE_GAVE_BACK };
static ih_status drive(sqlite3 *c, sqlite3_stmt *st, feed_row_fn fn, void *arg, int64_t *last_seq, int64_t *last_ms,
                       enum drive_end *end, size_t *n)
{
    int rc;
    *end = DRIVE_ENDED;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct feed_row r;
        row_of(st, &r);
        if (!r.source || !r.type || !r.payload)
            return IH_EIO;
        enum feed_take t = fn(&r, arg);
        if (t == FEED_BACK) {
            *end = DRIVE_GAVE_BACK;
            return IH_OK;
        }
        (*n)++;
        *last_seq = r.seq;
        if (last_ms)
            *last_ms = r.occurred_ms;
        if (t == FEED_LAST) {
            *end = DRIVE_STOPPED;
            return IH_OK;
        }
    }
    return rc == SQLITE_DONE ? IH_OK : db_fail(c);
}

/* Binds ?1 = limit and binds[i] at bind_at[i]. */
static sqlite3_stmt *prepare(sqlite3 *c, const char *sql, int64_t limit, const int64_t *binds, const int *bind_at,
                             size_t nbinds)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    for (size_t i = 0; i < nbinds; i++)
        sqlite3_bind_int64(st, bind_at[i], binds[i]);
    if (limit >= 0)
        sqlite3_bind_int64(st, 1, limit);
    return st;
}

struct scan {
    const char *rows_sql, *more_sql; /* more_sql: is there a row after (?4, ?5) resp. ?2? */
    int64_t binds[4];
    int at[4];
    size_t nbinds;
    bool time_order;
};

/* Runs s in one read transaction. The look-ahead for *more is a query of its own on
 * the keys alone, so that a large payload after the last row is not read for it. */
static ih_status run(struct db *db, struct scan *s, size_t scan_max, feed_row_fn fn, void *arg, int64_t *last_seq,
                     int64_t *last_ms, bool *more)
{
    sqlite3 *c = db_read_acquire_feed(db);
    if (!c)
        return IH_EIO;
    sqlite3_stmt *st = NULL;
    ih_status rc = IH_OK;
    enum drive_end end = DRIVE_ENDED;
    size_t n = 0;
    *more = false;
    if (sqlite3_exec(c, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) { /* one snapshot for the scan */
        rc = db_fail(c);
        goto done;
    }
    if (scan_max > 0) {
        if (!(st = prepare(c, s->rows_sql, (int64_t)scan_max, s->binds, s->at, s->nbinds))) {
            rc = db_fail(c);
            goto commit;
        }
        if ((rc = drive(c, st, fn, arg, last_seq, last_ms, &end, &n)) != IH_OK)
            goto commit;
        sqlite3_finalize(st);
        st = NULL;
    }
    if (end == DRIVE_GAVE_BACK) {
        *more = true;
    } else if (end == DRIVE_STOPPED || n == scan_max) {
        /* from the last row taken, or from the starting point */
        s->binds[s->time_order ? 3 : 0] = *last_seq;
        if (s->time_order)
            s->binds[2] = *last_ms;
        if (!(st = prepare(c, s->more_sql, -1, s->binds, s->at, s->time_order ? 4 : 1))) {
            rc = db_fail(c);
            goto commit;
        }
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            *more = true;
        else if (step != SQLITE_DONE)
            rc = db_fail(c);
    }
commit:
    sqlite3_finalize(st);
    sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
done:
    db_read_release(db, c);
    return rc;
}

/* Positions are {0, seq}: one with a is another backend's. */
bool sqlite_feed_pos_valid(const struct store *store, struct feed_pos p)
{
    (void)store;
    return p.a == 0 && p.b >= 0;
}

/* seq is INTEGER PRIMARY KEY and one thread commits: seq order is commit order. */
ih_status sqlite_feed_scan_commit_order(struct store *store, struct feed_pos after, size_t scan_max, feed_row_fn fn,
                                        void *arg, struct feed_scan_result *out)
{
    struct scan s = {.rows_sql = "SELECT " ROW_COLUMNS " FROM records WHERE seq > ?2 ORDER BY seq LIMIT ?1",
                     .more_sql = "SELECT 1 FROM records WHERE seq > ?2 LIMIT 1",
                     .binds = {after.b},
                     .at = {2},
                     .nbinds = 1};
    int64_t last = after.b;
    ih_status rc = run(db_of(store), &s, scan_max, fn, arg, &last, NULL, &out->more);
    out->last = (struct feed_pos){0, last};
    return rc;
}

ih_status sqlite_feed_scan_time_order(struct store *store, const struct feed_time_query *q, size_t scan_max,
                                      feed_row_fn fn, void *arg, struct feed_time_result *out)
{
    /* ?2 from, ?3 to, ?4/?5 cursor; absent bounds are wide open */
    const char *order = q->desc ? "DESC" : "ASC", *after = q->desc ? "<" : ">";
    char rows[512], more[320];
    snprintf(rows, sizeof(rows),
             "SELECT " ROW_COLUMNS " FROM records WHERE " WHEN " >= ?2 AND " WHEN " < ?3 %s%s%s"
             " ORDER BY " WHEN " %s, seq %s LIMIT ?1",
             q->has_cursor ? "AND (" WHEN ", seq) " : "", q->has_cursor ? after : "", q->has_cursor ? " (?4, ?5)" : "",
             order, order);
    snprintf(more, sizeof(more),
             "SELECT 1 FROM records WHERE " WHEN " >= ?2 AND " WHEN " < ?3 AND (" WHEN ", seq) %s (?4, ?5) LIMIT 1",
             after);
    struct scan s = {.rows_sql = rows,
                     .more_sql = more,
                     .binds = {q->has_from ? q->from_ms : INT64_MIN, q->has_to ? q->to_ms : INT64_MAX, q->cur_ms,
                               q->cur_seq},
                     .at = {2, 3, 4, 5},
                     .nbinds = q->has_cursor ? 4 : 2,
                     .time_order = true};
    /* without a cursor, the look-ahead starts from one before every row */
    const int64_t before_all = q->desc ? INT64_MAX : INT64_MIN;
    out->last_ms = q->has_cursor ? q->cur_ms : before_all;
    out->last_seq = q->has_cursor ? q->cur_seq : before_all;
    ih_status rc = run(db_of(store), &s, scan_max, fn, arg, &out->last_seq, &out->last_ms, &out->more);
    if (!q->has_cursor && out->last_seq == before_all) { /* no row taken */
        out->last_ms = q->cur_ms;
        out->last_seq = q->cur_seq;
    }
    return rc;
}
