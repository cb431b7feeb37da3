/* Several issuerhookd nodes on one PostgreSQL database, as behind a load balancer: the
 * first node's store (a private cluster, so that tests may stop its server) is every
 * node's, with the same PAN key; the nodes are started at once, so their migrations meet
 * an empty database together. For test_multinode*.c. */
#ifndef IH_TEST_NODES_H
#define IH_TEST_NODES_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

#define NODES_MAX 4
/* API keys every node has, besides the harness's KEY_FULL (amiko:events) */
#define NODES_BOOKING_SECRET "nodes-booking-key" /* amiko:bookings */
#define NODES_LEDGER_SECRET "nodes-ledger-key"   /* ledger:read, ledger:write */
#define NODES_READER_SECRET "nodes-reader-key"   /* bankingAdmin/read */

struct nodes {
    struct daemon d[NODES_MAX];
    size_t n;
    char keys[3][200];
    const char *env[12]; /* the extra environment every node gets (NULL-terminated) */
};

/* n nodes with extra (NULL-terminated, at most 8 "K=V", copied by reference: it must
 * outlive the nodes), started at once; false when one did not start. */
bool nodes_start(struct nodes *ns, size_t n, const char *const *extra);
/* Starts node i again (after a stop or a kill) on the same store. */
bool nodes_restart(struct nodes *ns, size_t i);
/* Stops every node (SIGTERM) and removes the store; the exit statuses' sum of codes. */
int nodes_stop(struct nodes *ns);

#endif
