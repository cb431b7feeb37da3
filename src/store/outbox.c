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

ih_status outbox_claim(struct store *s, int64_t now_ms, unsigned lease_ms, const int64_t *skip, size_t nskip,
                       struct outbox_item *out, size_t max, size_t *n)
{
    return s->ops->outbox_claim(s, now_ms, lease_ms, skip, nskip, out, max, n);
}

ih_status outbox_stats(struct store *s, struct outbox_stats *out)
{
    return s->ops->outbox_stats(s, out);
}
