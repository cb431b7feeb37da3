/* A ledger worker following the feed by watermark (GET /banking/recentEventHistory), in a
 * thread of its own, asking the nodes in turn: it keeps every item it is given, in order,
 * and checks that watermarks never go back. Answers other than 200 (a node killed, the
 * store restarting) are counted and polled again. */
#ifndef IH_TEST_FOLLOW_H
#define IH_TEST_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

struct follow_item {
    long long seq;   /* of evt-<seq> */
    char key[40];    /* primaryId: an Amiko event's eventId, a booking's amikoBookingId */
};

struct follow;

/* Starts at the current end of the feed (read from nodes[0]), with the reader's key;
 * polls nodes[0..n) in turn, limit items a page. NULL when it cannot. */
struct follow *follow_start(struct daemon *const *nodes, size_t n, const char *reader_key, size_t limit);
/* Tells it to stop once it has seen every key of want (sorted with strcmp; want[i]
 * valid until follow_stop returns) and then reads an empty page, or after timeout_s;
 * waits for it. */
void follow_stop(struct follow *f, const char *const *want, size_t nwant, unsigned timeout_s);
/* What it saw (valid until follow_free). */
const struct follow_item *follow_items(const struct follow *f, size_t *n);
size_t follow_polls(const struct follow *f);
size_t follow_errors(const struct follow *f);     /* answers other than 200 */
size_t follow_regressions(const struct follow *f); /* a watermark before the one sent */
const char *follow_first_error(const struct follow *f);
void follow_free(struct follow *f);

#endif
