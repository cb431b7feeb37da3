/* The feed on PostgreSQL: rows in commit order above a position {txid, seq}, read only
 * below the snapshot's xmin so that a watermark is never passed by a row that commits
 * later (see src/store/DESIGN.md), or in occurredAt order with a keyset cursor. Each scan
 * is one statement (one snapshot) on the feed's share of the pool; its rows carry their
 * payload only up to a byte budget, so a scan holds a bounded amount of text whatever the
 * rows' sizes, and the page goes on with another scan from its last row. */
#include <stdio.h>
#include <string.h>

#include "pginternal.h"
#include "pgstmts.h"

/* Payload bytes one scan fetches (the first row's always): about two of feedpage's chunks. */
#define SCAN_BUDGET "524288"

struct scanned {
    struct feed_row last; /* the last row taken (valid fields: seq, pos, occurred_ms) */
    size_t taken;
    bool more;
};

static void row_of(const PGresult *r, int i, struct feed_row *row)
{
    memset(row, 0, sizeof(*row));
    row->seq = pg_col_i64(r, i, "seq", 0);
    row->pos = (struct feed_pos){pg_col_i64(r, i, "txid", 0), row->seq};
    row->source = pg_col(r, i, "source");
    row->type = pg_col(r, i, "type");
    row->tracing_id = pg_col(r, i, "tracing_id");
    if (!row->tracing_id)
        row->tracing_id = "";
    row->payload = pg_col(r, i, "payload");
    row->payload_len = (size_t)PQgetlength(r, i, PQfnumber(r, "payload"));
    row->occurred_ms = pg_col_i64(r, i, "at", 0);
}

/* Hands the rows of one scan to fn, at most scan_max, until fn stops, a row comes without
 * its payload (over the budget: the next scan reads it) or the rows end. more: a row is
 * known after the last one taken. */
static ih_status drive(const PGresult *r, size_t scan_max, feed_row_fn fn, void *arg, struct scanned *out)
{
    int rows = PQntuples(r);
    out->more = false;
    for (int i = 0; i < rows; i++) {
        struct feed_row row;
        row_of(r, i, &row);
        if ((size_t)i == scan_max || !row.payload) {
            out->more = true;
            return IH_OK;
        }
        if (!row.source || !row.type || row.pos.a <= 0)
            return IH_EIO;
        enum feed_take t = fn(&row, arg);
        if (t == FEED_BACK) {
            out->more = true;
            return IH_OK;
        }
        out->last = row;
        out->taken++;
        if (t == FEED_LAST) {
            out->more = i + 1 < rows;
            return IH_OK;
        }
    }
    return IH_OK;
}

static ih_status scan(struct pgstore *s, const struct pgstmt *stmt, int n, const char *const *v, size_t scan_max,
                      feed_row_fn fn, void *arg, struct scanned *out)
{
    struct pgconn *c = pg_pool_acquire(s, true);
    PGresult *r = NULL;
    ih_status rc = pg_exec(c, stmt, n, v, NULL, NULL, &r, NULL, "reading the feed");
    pg_pool_release(s, c); /* the rows are in r: the connection is not needed while fn runs */
    if (rc == IH_OK)
        rc = drive(r, scan_max, fn, arg, out);
    PQclear(r);
    return rc;
}

/* Positions are {txid, seq}: txid > 0 (a w1 watermark, another backend's, is not one);
 * {0, 0} is the start. */
bool pg_feed_pos_valid(const struct store *st, struct feed_pos p)
{
    (void)st;
    return (p.a == 0 && p.b == 0) || (p.a > 0 && p.b > 0);
}

ih_status pg_feed_scan_commit_order(struct store *st, struct feed_pos after, size_t scan_max, feed_row_fn fn,
                                    void *arg, struct feed_scan_result *out)
{
    char txid[24], seq[24], limit[24];
    snprintf(txid, sizeof(txid), "%lld", (long long)after.a);
    snprintf(seq, sizeof(seq), "%lld", (long long)after.b);
    snprintf(limit, sizeof(limit), "%zu", scan_max);
    const char *const v[] = {txid, seq, limit, SCAN_BUDGET};
    struct scanned sc = {.last.pos = after};
    ih_status rc = scan(pg_of(st), &pgstmts_feed_scan, PGSTMTS_FEED_SCAN_NPARAMS, v, scan_max, fn, arg, &sc);
    out->last = sc.last.pos;
    out->more = sc.more;
    return rc;
}

ih_status pg_feed_scan_time_order(struct store *st, const struct feed_time_query *q, size_t scan_max, feed_row_fn fn,
                                  void *arg, struct feed_time_result *out)
{
    char from[24], to[24], limit[24], cur_ms[24], cur_seq[24];
    snprintf(from, sizeof(from), "%lld", (long long)(q->has_from ? q->from_ms : INT64_MIN));
    snprintf(to, sizeof(to), "%lld", (long long)(q->has_to ? q->to_ms : INT64_MAX));
    snprintf(limit, sizeof(limit), "%zu", scan_max);
    snprintf(cur_ms, sizeof(cur_ms), "%lld", (long long)q->cur_ms);
    snprintf(cur_seq, sizeof(cur_seq), "%lld", (long long)q->cur_seq);
    const char *const v[] = {from, to, limit, SCAN_BUDGET, cur_ms, cur_seq};
    const struct pgstmt *stmt = q->has_cursor ? (q->desc ? &pgstmts_feed_time_desc_after : &pgstmts_feed_time_asc_after)
                                              : (q->desc ? &pgstmts_feed_time_desc : &pgstmts_feed_time_asc);
    struct scanned sc = {.last = {.seq = q->cur_seq, .occurred_ms = q->cur_ms}};
    ih_status rc = scan(pg_of(st), stmt, q->has_cursor ? PGSTMTS_FEED_TIME_CURSOR_NPARAMS : PGSTMTS_FEED_TIME_NPARAMS,
                        v, scan_max, fn, arg, &sc);
    out->last_ms = sc.last.occurred_ms;
    out->last_seq = sc.last.seq;
    out->more = sc.more;
    return rc;
}
