/* Reading stored records back for the ledger workers' feed: in commit order above a
 * watermark, or in occurredAt order in an interval with a keyset cursor. Each scan runs
 * in one read transaction (one consistent snapshot) on a pooled read connection. */
#ifndef ISSUERHOOK_FEED_H
#define ISSUERHOOK_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/db.h"
#include "issuerhook/status.h"

struct feed_row {
    int64_t seq;
    const char *source, *type, *tracing_id, *payload;
    int64_t occurred_ms; /* occurred_at, else received_at */
};

/* Called for each row in order; valid only during the call. false stops the scan
 * (the row counts as taken). */
typedef bool (*feed_row_fn)(const struct feed_row *row, void *arg);

struct feed_scan_result {
    int64_t last_seq; /* the last row handed to fn (or the starting point when none) */
    bool more;        /* rows exist after the last one handed to fn */
};

/* Rows with seq > after, ascending, at most scan_max of them. */
IH_MUST_CHECK ih_status feed_scan_commit_order(struct db *db, int64_t after, size_t scan_max, feed_row_fn fn,
                                               void *arg, struct feed_scan_result *out);

/* Rows with from_ms <= occurred < to_ms (bounds optional), ordered by (occurred, seq),
 * ascending or descending, strictly after the cursor (cur_ms, cur_seq) when has_cursor,
 * at most scan_max. out->last_seq/last_ms give the next cursor. */
struct feed_time_query {
    bool has_from, has_to, desc, has_cursor;
    int64_t from_ms, to_ms, cur_ms, cur_seq;
};
struct feed_time_result {
    int64_t last_ms, last_seq;
    bool more;
};
IH_MUST_CHECK ih_status feed_scan_time_order(struct db *db, const struct feed_time_query *q, size_t scan_max,
                                             feed_row_fn fn, void *arg, struct feed_time_result *out);

#endif
