/* The feed, whichever backend keeps it: positions, and the scans, handed to the store's
 * backend. */
#include "backend.h"
#include "issuerhook/feed.h"

int feed_pos_cmp(struct feed_pos x, struct feed_pos y)
{
    if (x.a != y.a)
        return x.a < y.a ? -1 : 1;
    return x.b < y.b ? -1 : x.b > y.b ? 1 : 0;
}

bool feed_pos_valid(const struct store *s, struct feed_pos p)
{
    return s->ops->feed_pos_valid(s, p);
}

ih_status feed_scan_commit_order(struct store *s, struct feed_pos after, size_t scan_max, feed_row_fn fn, void *arg,
                                 struct feed_scan_result *out)
{
    return s->ops->feed_scan_commit_order(s, after, scan_max, fn, arg, out);
}

ih_status feed_scan_time_order(struct store *s, const struct feed_time_query *q, size_t scan_max, feed_row_fn fn,
                               void *arg, struct feed_time_result *out)
{
    return s->ops->feed_scan_time_order(s, q, scan_max, fn, arg, out);
}
