/* A feed page (recentEventHistory, eventHistory), rendered while the client reads it:
 * "{"items":[", the items, read in scans of at most FEEDPAGE_SCAN_ROWS rows and about
 * FEEDPAGE_SCAN_BYTES of text, each scan in its own short read transaction going on
 * after the last row the one before took, then "]" and the rest of the envelope. The
 * page ends after `limit` items, after `page_bytes` of item text (an item that alone
 * is larger still goes out, alone), or after `scan_max` rows read. At most one scan's
 * text (and one item) is held at a time, and no read transaction waits on the client.
 * Not a snapshot across scans: commit order only grows at its end, so a watermark
 * page is the same as if it were read at once; an occurredAt page is as consistent as
 * its cursor pages are with each other. */
#ifndef ISSUERHOOK_FEEDPAGE_H
#define ISSUERHOOK_FEEDPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "issuerhook/feed.h"
#include "issuerhook/feedparams.h"
#include "issuerhook/status.h"

#define FEEDPAGE_SCAN_ROWS 1000
#define FEEDPAGE_SCAN_BYTES (256u << 10)

struct feedpage_filters {
    struct feed_names types, categories;
    bool has_types, has_categories, match_nothing;
};

/* What the envelope says, once the items are out. */
struct feedpage_end {
    size_t n;                 /* items */
    bool more;                /* rows exist after the last one read */
    struct feed_pos last_pos; /* commit order: the position after the page (its watermark) */
    int64_t last_seq, last_ms; /* time order: the cursor after the page */
    int64_t min_ms, max_ms;   /* the items' occurredAt span (n > 0) */
};
/* The members after "items", as the text of a JSON object ("{...}", malloc'ed; NULL:
 * out of memory). */
typedef char *(*feedpage_tail_fn)(const struct feedpage_end *end, void *arg);

struct feedpage_spec {
    bool time_order;
    struct feed_pos after;       /* commit order: the position to go on after */
    struct feed_time_query time; /* time order */
    size_t limit, scan_max, page_bytes;
    struct feedpage_filters filters;
    feedpage_tail_fn tail;
    void *tail_arg;             /* owned by the page: tail_free(tail_arg) with it */
    void (*tail_free)(void *);
};

struct feedpage;

/* Starts the page and reads its first scan now, so that a store that cannot be read is
 * still answered 503. Takes spec->tail_arg (also on failure). Caller owns *out. */
IH_MUST_CHECK ih_status feedpage_open(struct store *s, const struct feedpage_spec *spec, struct feedpage **out);
/* The next 1..max bytes of the page's text into buf: their count, 0 at the end, -1 on a
 * failure (logged) — a request_read_fn. */
long feedpage_read(void *page, char *buf, size_t max);
void feedpage_free(struct feedpage *p);

#endif
