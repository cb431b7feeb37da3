/* libmicrohttpd glue. Per request, in order: route (404/405), credential (401/403),
 * media type (415) and declared length (413) on the first call, before any body
 * byte is read; then the body into a buffer with a ceiling (413); then the handler,
 * which answers at once or parks the connection until the writer has committed. */
#include "issuerhook/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/apikey.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/crypto.h"
#include "issuerhook/log.h"
#include "issuerhook/jwt.h"
#include "issuerhook/metrics.h"
#include "issuerhook/ratelimit.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"

#define MAX_HEADERS 8
#define TRACING_MAX 128
#define DRAIN_FACTOR 4

struct server {
    struct MHD_Daemon *mhd;
    struct app *app;
    const struct route *routes;
    size_t nroutes;
    uint16_t port;
    atomic_size_t in_flight;
    atomic_bool stopping;
    _Atomic(const struct config *) credentials; /* API keys, JWT issuers, header: SIGHUP swaps it */
    MHD_socket quiesced; /* the listening socket once quiesced: closed only after MHD_stop_daemon */
};

struct request {
    struct server *srv;
    struct MHD_Connection *conn;
    struct route_match match;
    char method[16];
    char path[512];
    char tracing_id[TRACING_MAX + 1];
    const char *principal;
    char principal_buf[4 + JWT_ISSUER_NAME_MAX + 1 + 128]; /* a token's caller: "jwt:<issuer>/<client or sub>" */
    struct timespec t0;
    int64_t received_ms;
    /* body */
    char *body;
    size_t body_len, body_cap;
    bool too_big, handled;
    uint64_t drained;
    /* answer */
    unsigned status;
    bool replied;
    char *resp;
    size_t resp_len;
    const char *ctype;
    char hdr_name[MAX_HEADERS][32];
    char hdr_value[MAX_HEADERS][160];
    size_t nhdr;
    const char *note;
    void *state;
    void (*state_free)(void *);
};

/* ---- the handler-facing API (request.h) ---- */

const char *request_body(const struct request *r, size_t *len)
{
    *len = r->body_len;
    return r->body ? r->body : "";
}
const char *request_tracing_id(const struct request *r) { return r->tracing_id; }
const char *request_path(const struct request *r) { return r->path; }
int64_t request_received_ms(const struct request *r) { return r->received_ms; }
const char *request_principal(const struct request *r) { return r->principal; }

const char *request_header(const struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void request_wipe_body(struct request *r)
{
    if (r->body)
        crypto_wipe(r->body, r->body_cap);
}

/* realloc that wipes the block it leaves: a body may hold card data. */
static char *grow_wiped(char *old, size_t used, size_t cap)
{
    char *nb = malloc(cap);
    if (nb && old) {
        memcpy(nb, old, used);
        crypto_wipe(old, used);
        free(old);
    }
    return nb;
}

const char *request_query(const struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *request_param(const struct request *r, size_t i)
{
    return i < r->match.nparams ? r->match.params[i] : NULL;
}

void request_reply(struct request *r, unsigned status, const char *content_type, char *body, size_t len)
{
    free(r->resp);
    r->status = status;
    r->ctype = content_type;
    r->resp = body;
    r->resp_len = body ? len : 0;
    r->replied = true;
}

void request_add_header(struct request *r, const char *name, const char *value)
{
    if (r->nhdr >= MAX_HEADERS)
        return;
    snprintf(r->hdr_name[r->nhdr], sizeof(r->hdr_name[0]), "%s", name);
    snprintf(r->hdr_value[r->nhdr], sizeof(r->hdr_value[0]), "%s", value);
    r->nhdr++;
}

void request_note(struct request *r, const char *note) { r->note = note; }

void request_set_state(struct request *r, void *state, void (*free_fn)(void *))
{
    r->state = state;
    r->state_free = free_fn;
}

void request_suspend(struct request *r) { MHD_suspend_connection(r->conn); }
void request_resume(struct request *r) { MHD_resume_connection(r->conn); }

/* ---- internals ---- */

static enum MHD_Result queue(struct request *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    r->resp = NULL; /* owned by resp now */
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    MHD_add_response_header(resp, "tracing-id", r->tracing_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (size_t i = 0; i < r->nhdr; i++)
        MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static bool tracing_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
            return false;
    return n >= 1 && n <= TRACING_MAX;
}

static bool media_type_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; \t");
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* Checks the credential (an API key in the configured header, or a bearer token);
 * on refusal sets the answer. */
static bool authorize(struct request *r)
{
    const struct config *cfg = atomic_load(&r->srv->credentials);
    const struct route *rt = r->match.route;
    if ((rt->access == ACCESS_HEALTH && cfg->health_public) || (rt->access == ACCESS_METRICS && cfg->metrics_public))
        return true;
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, cfg->auth_header);
    const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    bool bearer = authz && strncasecmp(authz, "Bearer ", 7) == 0;
    unsigned scopes = 0;
    enum jwt_result jr = JWT_MALFORMED;
    if (key) {
        const struct apikey *k = apikey_find(&cfg->keys, key, strlen(key));
        if (k) {
            r->principal = k->name;
            scopes = k->scopes;
        }
    } else if (bearer && cfg->nissuers) {
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        struct jwt_principal p;
        jr = jwt_verify(cfg->issuers, cfg->nissuers, tok, strlen(tok), r->received_ms / 1000, cfg->jwt_leeway_s, &p);
        if (jr == JWT_OK) {
            snprintf(r->principal_buf, sizeof(r->principal_buf), "jwt:%s/%s", jwt_issuer_name(p.issuer),
                     p.client_id[0] ? p.client_id : p.subject);
            r->principal = r->principal_buf;
            scopes = p.scopes;
        } else if (jr == JWT_KEYS_UNAVAILABLE) {
            /* the issuer's key server is down: not the caller's fault, retry later */
            metrics_inc(M_AUTH_FAILURES, "keys_unavailable");
            respond_unavailable_because(r, rt->dialect, cfg->retry_after_s,
                                        "the token issuer's keys cannot be fetched right now; retry later");
            return false;
        }
    }
    if (!r->principal) {
        char www[160];
        /* an API key, when sent, is what was judged (the token is not looked at) */
        const char *why = key      ? "the credential is not valid"
                          : bearer ? (cfg->nissuers ? jwt_result_str(jr) : "bearer tokens are not configured")
                                   : "a credential is required";
        metrics_inc(M_AUTH_FAILURES, key || bearer ? "invalid" : "missing");
        respond_error(r, rt->dialect, 401, "Unauthorized", why, NULL);
        snprintf(www, sizeof(www), "APIKey realm=\"issuerhook\", header=\"%s\"", cfg->auth_header);
        request_add_header(r, "WWW-Authenticate", www);
        if (cfg->nissuers) {
            if (bearer && !key)
                snprintf(www, sizeof(www), "Bearer realm=\"issuerhook\", error=\"invalid_token\", "
                                           "error_description=\"%s\"", why);
            else
                snprintf(www, sizeof(www), "Bearer realm=\"issuerhook\"");
            request_add_header(r, "WWW-Authenticate", www);
        }
        return false;
    }
    if (rt->access == ACCESS_SCOPED && (scopes & rt->scope) != rt->scope) {
        metrics_inc(M_AUTH_FAILURES, "scope");
        respond_error(r, rt->dialect, 403, "Forbidden", "the credential lacks the scope this route needs", NULL);
        if (!key) /* RFC 6750: a token without the scope */
            request_add_header(r, "WWW-Authenticate", "Bearer realm=\"issuerhook\", error=\"insufficient_scope\"");
        return false;
    }
    unsigned retry = 1;
    if (rt->access == ACCESS_SCOPED && !ratelimit_take(r->srv->app->ratelimit, r->principal, r->received_ms, &retry)) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", retry);
        metrics_inc(M_RATE_LIMITED, rt->pattern);
        request_note(r, "rate_limited");
        respond_error(r, rt->dialect, 429, "Too Many Requests",
                      "this caller sends more requests than ISSUERHOOK_RATE_LIMIT allows; retry after the given delay",
                      NULL);
        request_add_header(r, "Retry-After", ra);
        return false;
    }
    return true;
}

/* Everything decided from the headers alone. Returns false when it answered. */
static bool first_call(struct request *r, const char *url, const char *method)
{
    struct server *s = r->srv;
    char allow[64];
    const char *tid = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "tracing-id");
    bool tid_ok = tid && tracing_ok(tid);
    if (tid_ok)
        snprintf(r->tracing_id, sizeof(r->tracing_id), "%s", tid);
    else if (crypto_uuid4(r->tracing_id) != IH_OK)
        snprintf(r->tracing_id, sizeof(r->tracing_id), "unavailable");
    snprintf(r->path, sizeof(r->path), "%s", url);

    switch (router_match(s->routes, s->nroutes, method, url, &r->match, allow, sizeof(allow))) {
    case ROUTER_NOT_FOUND:
        respond_error(r, DIALECT_APITURE, 404, "Not Found", "no route has this path", NULL);
        return false;
    case ROUTER_BAD_METHOD:
        respond_error(r, DIALECT_APITURE, 405, "Method Not Allowed", "this path does not take this method", NULL);
        request_add_header(r, "Allow", allow);
        return false;
    case ROUTER_FOUND:
        break;
    }
    const struct route *rt = r->match.route;
    if (atomic_load(&s->stopping)) {
        /* a new request on a kept-alive connection while stopping: the caller retries
         * elsewhere or after the restart; the connection is closed after the answer */
        respond_unavailable(r, rt->dialect, s->app->cfg->retry_after_s);
        request_add_header(r, "Connection", "close");
        request_note(r, "shutting_down");
        return false;
    }
    if (!authorize(r))
        return false;
    if (rt->tracing_required && !tid_ok) {
        metrics_inc(M_VALIDATION_FAILURES, rt->pattern);
        respond_error(r, rt->dialect, 400, "Invalid request",
                      tid ? "the tracing-id header must be 1 to 128 visible ASCII characters"
                          : "the tracing-id header is required", NULL);
        return false;
    }
    if (!rt->has_body)
        return true;
    if (!media_type_json(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        respond_error(r, rt->dialect, 415, "Unsupported Media Type", "the body must be application/json", NULL);
        return false;
    }
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t max = s->app->cfg->max_body;
    if (cl) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        if (*end == '\0' && v > max) {
            respond_error(r, rt->dialect, 413, "Payload Too Large", "the body is larger than this server accepts", NULL);
            return false;
        }
        /* the declared length sizes the buffer once (capped by the ceiling) */
        if (*end == '\0' && v > 0)
            r->body_cap = (size_t)v;
    }
    return true;
}

/* Appends to the body; false when the ceiling would be passed. */
static bool append_body(struct request *r, const char *data, size_t n)
{
    uint64_t max = r->srv->app->cfg->max_body;
    if (r->body_len + n > max)
        return false;
    if (r->body_len + n > r->body_cap || !r->body) {
        size_t cap = r->body ? r->body_cap * 2 : (r->body_cap ? r->body_cap : 4096);
        while (cap < r->body_len + n)
            cap *= 2;
        if (cap > max)
            cap = (size_t)max;
        char *nb = grow_wiped(r->body, r->body_len, cap);
        if (!nb)
            return false;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct request *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->srv = s;
        r->conn = conn;
        snprintf(r->method, sizeof(r->method), "%s", method);
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        r->received_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
        atomic_fetch_add(&s->in_flight, 1);
        if (!first_call(r, url, method))
            return queue(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        /* once copied, libmicrohttpd's read buffer (which upload_data points into) keeps
         * no card data: it is reused, not cleared, for the next bytes and connections */
        bool kept = r->too_big || append_body(r, upload_data, n);
        crypto_wipe((char *)upload_data, n);
        if (r->too_big) {
            /* libmicrohttpd 0.9.75 cannot answer before the upload ends, so the rest
             * of an oversized (chunked) body is drained without being kept, up to
             * DRAIN_FACTOR times the ceiling; past that the connection is closed. */
            r->drained += n;
            return r->drained > DRAIN_FACTOR * r->srv->app->cfg->max_body ? MHD_NO : MHD_YES;
        }
        if (!kept) {
            request_wipe_body(r);
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            r->too_big = true;
            r->drained = n;
            respond_error(r, r->match.route->dialect, 413, "Payload Too Large",
                          "the body is larger than this server accepts", NULL);
        }
        return MHD_YES;
    }
    if (r->replied)
        return queue(r); /* answered while parked, or refused while the body streamed */
    if (r->handled)
        return MHD_YES; /* parked: nothing to do until resumed */
    r->handled = true;
    r->match.route->handler(r, s->app);
    return r->replied ? queue(r) : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct server *s = cls;
    struct request *r = *con_cls;
    if (!r)
        return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
    const char *route = r->match.route ? r->match.route->pattern : "(unmatched)";
    unsigned status = r->replied ? r->status : 0;
    struct log_request lr = {
        .tracing_id = r->tracing_id, .method = r->method, .route = route, .principal = r->principal,
        .status = status, .latency_ms = secs * 1e3,
        .note = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? r->note : "connection closed before the answer was sent"};
    log_request(&lr);
    if (status)
        metrics_request(route, status, secs);
    if (r->state_free)
        r->state_free(r->state);
    request_wipe_body(r);
    free(r->body);
    free(r->resp);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[256];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    log_msg(LOG_DEBUG, "libmicrohttpd", "detail", buf, NULL);
}

ih_status server_start(struct app *app, const struct route *routes, size_t nroutes, struct server **out, char *err,
                       size_t errlen)
{
    const struct config *cfg = app->cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", cfg->listen_port);
    int gai = getaddrinfo(cfg->listen_host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "ISSUERHOOK_LISTEN: cannot resolve %s: %s", cfg->listen_host, gai_strerror(gai));
        return IH_EINVAL;
    }
    struct server *s = calloc(1, sizeof(*s));
    if (!s) {
        freeaddrinfo(ai);
        return IH_ENOMEM;
    }
    s->app = app;
    s->quiesced = MHD_INVALID_SOCKET;
    atomic_store(&s->credentials, app->cfg);
    s->routes = routes;
    s->nroutes = nroutes;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(flags, cfg->listen_port, NULL, NULL, on_request, s,
                              MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                              MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
                              MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->mhd) {
        snprintf(err, errlen, "ISSUERHOOK_LISTEN: cannot listen on %s:%u (in use, or not an address of this host?)",
                 cfg->listen_host, cfg->listen_port);
        free(s);
        return IH_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->listen_port;
    *out = s;
    return IH_OK;
}

uint16_t server_port(const struct server *s) { return s->port; }

const struct config *server_swap_credentials(struct server *s, const struct config *cfg)
{
    return atomic_exchange(&s->credentials, cfg);
}

void server_quiesce(struct server *s)
{
    atomic_store(&s->stopping, true);
    /* each pool thread drops the socket from its own epoll set later: closing it now
     * would make that fail, and libmicrohttpd aborts on the failure */
    if (s->quiesced == MHD_INVALID_SOCKET)
        s->quiesced = MHD_quiesce_daemon(s->mhd);
}

size_t server_in_flight(const struct server *s) { return atomic_load(&s->in_flight); }

void server_stop(struct server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->mhd);
    if (s->quiesced != MHD_INVALID_SOCKET)
        close(s->quiesced);
    free(s);
}
