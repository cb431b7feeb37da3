/* Connections against slow and greedy clients. Every open connection has a record
 * and a clock: its request line and headers must arrive within header_timeout_s of
 * the connection opening (or of the previous answer on a kept-alive connection); its
 * body within body_timeout_s of the headers plus one second per body_min_rate bytes
 * received (the rate only buys time while bytes keep coming). A reaper thread shuts
 * down the socket of a connection past its deadline; libmicrohttpd then closes it.
 * While the handler or the writer works on a request, no clock runs.
 *
 * New connections are admitted by address: at most per_ip_limit open per address
 * (0: no limit), and once fewer than `reserve` of connection_limit are free, only
 * addresses holding fewer than GUARD_FEW connections get one, so that a client
 * holding many cannot take the last slots from the others. (Admission is checked at
 * accept and counted when libmicrohttpd adds the connection: pool threads accepting
 * at the same instant may each pass a limit by one.)
 *
 * Thread-safe. No libmicrohttpd type here; sockets are plain fds. */
#ifndef ISSUERHOOK_GUARD_H
#define ISSUERHOOK_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "issuerhook/status.h"

#define GUARD_FEW 16
#define GUARD_ADDR_MAX 46 /* INET6_ADDRSTRLEN */

struct guard;
struct guard_conn;

struct guard_options {
    unsigned connection_limit; /* records kept: libmicrohttpd never opens more */
    unsigned per_ip_limit;     /* 0: none */
    unsigned reserve;          /* < connection_limit */
    unsigned header_timeout_s; /* >= 1 */
    unsigned body_timeout_s;   /* >= 1 */
    uint64_t body_min_rate;    /* bytes per second, >= 1 */
    unsigned tick_ms;          /* how often the reaper looks (0: 250) */
    /* called by the reaper thread about once a second (log summaries); may be NULL */
    void (*on_tick)(void *arg, int64_t now_ms);
    void *tick_arg;
};

enum guard_admission { GUARD_ADMIT, GUARD_REFUSE_PER_IP, GUARD_REFUSE_RESERVE };
enum guard_expiry { GUARD_EXPIRED_HEADERS, GUARD_EXPIRED_BODY };

/* Caller owns *out (guard_free). The reaper starts with guard_start. */
IH_MUST_CHECK ih_status guard_new(const struct guard_options *o, struct guard **out);
/* Starts the reaper thread; on_expired (may be NULL) is told of each connection it
 * shuts down, from that thread, with the guard's lock held (count it, log it; do not
 * call back into the guard). */
IH_MUST_CHECK ih_status guard_start(struct guard *g, void (*on_expired)(void *arg, enum guard_expiry why,
                                                                        const char *addr),
                                    void *arg);
/* Stops the reaper and frees g. No connection may still use its record. */
void guard_free(struct guard *g);

/* Whether a new connection from sa may be accepted. */
enum guard_admission guard_admit(struct guard *g, const struct sockaddr *sa, socklen_t len);
/* A connection accepted on fd from sa: its record (owned by g, valid until
 * guard_close), its header clock running. NULL only if g holds connection_limit
 * records already (then the caller must close the connection). */
struct guard_conn *guard_open(struct guard *g, const struct sockaddr *sa, socklen_t len, int fd, int64_t now_ms);
void guard_close(struct guard *g, struct guard_conn *c);

/* The headers are in: the body clock starts (has_body) or no clock runs. */
void guard_headers_done(struct guard *g, struct guard_conn *c, bool has_body, int64_t now_ms);
/* n more body bytes arrived. */
void guard_body_bytes(struct guard *g, struct guard_conn *c, size_t n);
/* The body is complete or refused: no clock runs until guard_request_done. */
void guard_answering(struct guard *g, struct guard_conn *c);
/* The answer is sent; the connection may carry another request: header clock. */
void guard_request_done(struct guard *g, struct guard_conn *c, int64_t now_ms);

/* The client's address as text ("127.0.0.1", "2001:db8::1"); valid while c is. */
const char *guard_conn_addr(const struct guard_conn *c);
/* Connections open now. */
size_t guard_open_count(struct guard *g);

/* The reaper's rule, exposed for tests: the deadline (monotonic ms) of a connection
 * in the header phase since since_ms, or in the body phase with bytes received. */
int64_t guard_header_deadline(const struct guard_options *o, int64_t since_ms);
int64_t guard_body_deadline(const struct guard_options *o, int64_t since_ms, uint64_t bytes);
/* Runs one reaper pass at now_ms (tests; the thread calls it every tick). Returns
 * how many connections it shut down. */
size_t guard_reap(struct guard *g, int64_t now_ms);

#endif
