/* The callback outbox, whichever backend keeps it: what an item owns, and the reads,
 * handed to the store's backend. */
#include <stdlib.h>

#include "backend.h"
#include "issuerhook/outbox.h"

void outbox_item_clear(struct outbox_item *it)
{
    free(it->body);
    it->body = NULL;
}

ih_status outbox_due(struct store *s, int64_t now_ms, const int64_t *skip, size_t nskip, struct outbox_item *out,
                     size_t max, size_t *n)
{
    return s->ops->outbox_due(s, now_ms, skip, nskip, out, max, n);
}

ih_status outbox_stats(struct store *s, struct outbox_stats *out)
{
    return s->ops->outbox_stats(s, out);
}
