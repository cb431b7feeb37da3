/* A programmable HTTP receiver on loopback, standing in for Amiko's Booking Status
 * Callback endpoint (or, with a body set, for an IdP's JWKS endpoint): each request
 * takes the next scripted action. */
#ifndef IH_TEST_RECEIVER_H
#define IH_TEST_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum recv_action { RECV_OK = 200, RECV_FAIL = 500, RECV_HANG = -1 /* answer 200 after hang_ms */ };

#define RECV_MAX 64

struct recv_hit {
    char path[256];
    char tracing_id[160];
    char auth[160];
    char body[1024];
    int answered;  /* status sent */
    int64_t at_ms; /* monotonic */
};

struct receiver;

/* Starts on a free loopback port. script: actions for requests 1..n; after it, dflt. */
struct receiver *receiver_start(const int *script, size_t n, int dflt, unsigned hang_ms);
/* The same on 127.0.0.1:port (0: a free port), e.g. to come back on the port of a
 * stopped receiver. NULL when it cannot listen there. */
struct receiver *receiver_start_on(int port, const int *script, size_t n, int dflt, unsigned hang_ms);
int receiver_port(const struct receiver *rv);
/* Every later answer carries body (copied) with Content-Type: application/json,
 * whatever the method, instead of an empty body; NULL: empty again. false: ENOMEM. */
bool receiver_set_body(struct receiver *rv, const char *body);
/* Replaces the action for every later request. */
void receiver_set_default(struct receiver *rv, int dflt);
/* Copies the hits so far into out (up to RECV_MAX); returns their number. */
size_t receiver_hits(struct receiver *rv, struct recv_hit *out);
/* Per path from now on: a path's first fail_first requests are answered 500, and its
 * later ones take the script's action (for several deliverers of one outbox). */
void receiver_fail_first(struct receiver *rv, unsigned fail_first);
/* Every hit so far, however many (the first RECV_MAX also in receiver_hits), in arrival
 * order: path, status sent (0: a hang, answered later) and when. Caller frees *out. */
struct recv_brief {
    char path[128];
    int answered;
    int64_t at_ms;
};
size_t receiver_log(struct receiver *rv, struct recv_brief **out);
/* Waits up to timeout_ms for a hit answered 2xx; returns how many 2xx hits there are. */
size_t receiver_wait_accepted(struct receiver *rv, unsigned timeout_ms);
void receiver_stop(struct receiver *rv);

#endif
