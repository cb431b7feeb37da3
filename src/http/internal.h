/* Shared by the files of the HTTP server (server.c: libmicrohttpd glue; request.c:
 * what handlers see; access.c: who may call a route). Nothing outside src/http
 * includes it. */
#ifndef ISSUERHOOK_HTTP_INTERNAL_H
#define ISSUERHOOK_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "issuerhook/guard.h"
#include "issuerhook/jwt.h"
#include "issuerhook/lograte.h"
#include "issuerhook/request.h"
#include "issuerhook/router.h"
#include "issuerhook/tls.h"

#define MAX_HEADERS 8
#define TRACING_MAX 128

struct config;
struct ratelimit;

/* The kinds of lines a flood could multiply: each logged at most LOGRATE_BURST times
 * per window, then summarised with a count. */
enum refusal { REFUSAL_NONE, REFUSAL_UNAUTHENTICATED, REFUSAL_RATE, REFUSAL_MALFORMED, REFUSAL_CONNECTION,
               REFUSAL_SLOW, REFUSAL_ABORTED, REFUSAL_COUNT };

struct server {
    struct MHD_Daemon *mhd;
    struct app *app;
    const struct route *routes;
    size_t nroutes;
    int listen_fd;   /* ours until libmicrohttpd starts with it */
    uint16_t port;
    atomic_size_t in_flight;
    atomic_bool stopping;
    _Atomic(const struct config *) credentials; /* API keys, JWT issuers, header, subjects: SIGHUP swaps it */
    struct guard *guard;
    struct tls *tls;              /* NULL: plain HTTP */
    struct ratelimit *failures;   /* failed authentications per client address */
    struct lograte lines[REFUSAL_COUNT];
};

/* One TCP connection (libmicrohttpd's socket context). */
struct conn {
    struct server *srv;
    struct guard_conn *guard;
    bool loopback;
    bool verified;            /* tls holds a verdict for tls.generation */
    struct tls_verdict tls;
};

struct request {
    struct server *srv;
    struct conn *cx;
    struct MHD_Connection *conn;
    struct route_match match;
    bool started;             /* the handler has seen the headers */
    const char *raw_target;   /* where the target starts in the head (its text is decoded later) */
    size_t raw_target_len;
    bool raw_target_bad;
    char method[16];
    char path[512];
    char tracing_id[TRACING_MAX + 1];
    const char *principal;
    char principal_buf[4 + JWT_ISSUER_NAME_MAX + 1 + 128]; /* a token's caller: "jwt:<issuer>/<client or sub>" */
    const char *key_subject;  /* the API key's required certificate subject, or NULL */
    struct timespec t0;
    int64_t received_ms;
    enum refusal refusal;     /* set when the answer is a refusal a flood could repeat */
    /* body */
    char *body;
    size_t body_len, body_cap;
    bool too_big, handled;
    bool body_wiped;          /* request_wipe_body ran (nothing is written to the body after) */
    bool expecting;           /* counted by writer_expect, not yet by writer_unexpect */
    uint64_t drained;
    /* answer */
    unsigned status;
    bool replied, counted;
    char *resp;
    size_t resp_len;
    const char *ctype;
    char hdr_name[MAX_HEADERS][32];
    char hdr_value[MAX_HEADERS][160];
    size_t nhdr;
    const char *note;
    void *state;
    void (*state_free)(void *);
    /* a streamed answer (request_reply_stream), owned here until queued */
    request_read_fn stream_read;
    void *stream_arg;
    void (*stream_done)(void *);
};

/* Drops a streamed answer that was never queued (runs its done). */
void request_stream_drop(struct request *r);

/* libmicrohttpd's per-request callbacks (exchange.c): the URI log callback makes the
 * request, the access handler runs it, the completion callback logs and frees it. */
void *exchange_begin(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result exchange_run(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls);
void exchange_end(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe);

/* Decides whether r's caller may call its route (credential, client certificate,
 * scope, rates). On refusal the answer is set and false returned. */
bool access_check(struct request *r);

#endif
