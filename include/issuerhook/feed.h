/* Reading stored records back for the ledger workers' feed: in commit order above a
 * watermark, or in occurredAt order in an interval with a keyset cursor. Each scan runs
 * in one short read transaction (one consistent snapshot) on a read connection of the
 * pool's feed share; a page is read as several scans, each going on after the last
 * row the one before took. */
#ifndef ISSUERHOOK_FEED_H
#define ISSUERHOOK_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"
#include "issuerhook/store.h"

/* A place in commit order, the same kind on every backend: positions are ordered by a,
 * then b. SQLite: a is 0, b the record's seq. (PostgreSQL will need two numbers: the
 * writing transaction's id and seq.) The start of the feed is {0, 0}. */
struct feed_pos {
    int64_t a, b;
};
/* <0, 0, >0 as x is before, at, after y. */
int feed_pos_cmp(struct feed_pos x, struct feed_pos y);
/* Whether p can be a position of this store (one another backend gave out cannot). */
bool feed_pos_valid(const struct store *s, struct feed_pos p);

struct feed_row {
    int64_t seq;         /* the record's number (its feed item id) */
    struct feed_pos pos; /* its place in commit order */
    const char *source, *type, *tracing_id, *payload;
    size_t payload_len;
    int64_t occurred_ms; /* occurred_at, else received_at */
};

/* What the scan does after fn has seen a row. */
enum feed_take {
    FEED_NEXT, /* the row is taken (or passed over); go on */
    FEED_LAST, /* the row is taken; stop */
    FEED_BACK, /* stop before this row: it is not taken, and is the first of the rest */
};
/* Called for each row in order; the row is valid only during the call. */
typedef enum feed_take (*feed_row_fn)(const struct feed_row *row, void *arg);

struct feed_scan_result {
    struct feed_pos last; /* the last row taken (or the starting point when none) */
    bool more;            /* rows exist after the last one taken */
};

/* Rows after the position after, in commit order, at most scan_max of them handed to fn. */
IH_MUST_CHECK ih_status feed_scan_commit_order(struct store *s, struct feed_pos after, size_t scan_max,
                                               feed_row_fn fn, void *arg, struct feed_scan_result *out);

/* Rows with from_ms <= occurred < to_ms (bounds optional), ordered by (occurred, seq),
 * ascending or descending, strictly after the cursor (cur_ms, cur_seq) when has_cursor,
 * at most scan_max. out->last_seq/last_ms give the next cursor (the last row taken). */
struct feed_time_query {
    bool has_from, has_to, desc, has_cursor;
    int64_t from_ms, to_ms, cur_ms, cur_seq;
};
struct feed_time_result {
    int64_t last_ms, last_seq;
    bool more;
};
IH_MUST_CHECK ih_status feed_scan_time_order(struct store *s, const struct feed_time_query *q, size_t scan_max,
                                             feed_row_fn fn, void *arg, struct feed_time_result *out);

#endif
