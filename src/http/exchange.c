/* One request on a connection, in libmicrohttpd's order of callbacks. Per request:
 * the head's framing (400, and the connection closed), the route (404/405), access
 * (401/403/429), media type (415) and declared length (413) on the first call, before
 * any body byte is read; then the body into a buffer that grows as bytes arrive, up
 * to a ceiling (413); then the handler, which answers at once or parks the
 * connection until the writer has committed. The guard's clocks follow each phase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/crypto.h"
#include "issuerhook/framing.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"
#include "issuerhook/writer.h"

#define DRAIN_FACTOR 4
/* Only libmicrohttpd before 0.9.76 leaves the head as framing.h reads it. */
#define FRAMING_RECOVER_HIDDEN (MHD_VERSION < 0x00097600)
#define BODY_FIRST 4096

static int64_t mono_ms(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return mono_ms(&ts);
}

/* A queued streamed answer, owned by its MHD response (which may outlive the request). */
struct stream {
    request_read_fn read;
    void *arg;
    void (*done)(void *);
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *st = cls;
    long n = st->read(st->arg, buf, max);
    return n > 0 ? (ssize_t)n : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    st->done(st->arg);
    free(st);
}

/* The response for r's streamed answer, which it takes from r. */
static struct MHD_Response *stream_response(struct request *r)
{
    struct stream *st = malloc(sizeof(*st));
    struct MHD_Response *resp = NULL;
    if (st) {
        *st = (struct stream){r->stream_read, r->stream_arg, r->stream_done};
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_reader, st, stream_free);
    }
    if (!resp) {
        free(st);
        return NULL; /* exchange_end drops the stream */
    }
    r->stream_read = NULL;
    r->stream_arg = NULL;
    r->stream_done = NULL;
    return resp;
}

static enum MHD_Result queue(struct request *r)
{
    struct MHD_Response *resp = r->stream_read ? stream_response(r)
                                               : MHD_create_response_from_buffer(r->resp_len, r->resp,
                                                                                 MHD_RESPMEM_MUST_FREE);
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
    if (!r->counted) {
        /* counted when queued, not when libmicrohttpd reports the request done: a
         * client that reads /metrics right after its answer sees it counted */
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
        metrics_request(r->match.route ? r->match.route->pattern : "(unmatched)", r->status, secs);
        r->counted = true;
    }
    if (r->cx)
        guard_answering(r->srv->guard, r->cx->guard);
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

struct fields {
    struct framing_field f[FRAMING_FIELDS_MAX + 1];
    size_t n;
};

static enum MHD_Result add_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                 const char *value, size_t value_size)
{
    (void)kind;
    struct fields *fs = cls;
    if (fs->n <= FRAMING_FIELDS_MAX)
        fs->f[fs->n] = (struct framing_field){key, value, key_size, value ? value_size : 0};
    fs->n++;
    return MHD_YES;
}

/* The head as libmicrohttpd kept it, checked by framing.h. */
static enum framing_result framing(struct request *r, const char *method, const char *version)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    struct fields fs = {.n = 0};
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, add_field, &fs);
    struct framing_head h = {.start = method, .size = ci ? ci->header_size : 0, .target = r->raw_target,
                             .version = version, .target_len = r->raw_target_len, .target_bad = r->raw_target_bad,
                             .fields = fs.f, .nfields = fs.n, .recover_hidden = FRAMING_RECOVER_HIDDEN};
    return framing_check(&h);
}

/* Routes, then refuses a malformed head in the route's dialect (Apiture for a path
 * no route has) and closes the connection: what follows it cannot be trusted. */
static bool route(struct request *r, const char *url, const char *method, const char *version)
{
    struct server *s = r->srv;
    char allow[64];
    enum router_result rr = router_match(s->routes, s->nroutes, method, url, &r->match, allow, sizeof(allow));
    enum framing_result fr = framing(r, method, version);
    if (fr != FRAMING_OK) {
        metrics_inc(M_MALFORMED, framing_reason(fr));
        respond_error(r, rr == ROUTER_FOUND ? r->match.route->dialect : DIALECT_APITURE, 400, "Bad Request",
                      framing_message(fr), NULL);
        request_add_header(r, "Connection", "close");
        request_note(r, framing_reason(fr));
        r->refusal = REFUSAL_MALFORMED;
        return false;
    }
    if (rr == ROUTER_NOT_FOUND)
        respond_error(r, DIALECT_APITURE, 404, "Not Found", "no route has this path", NULL);
    if (rr == ROUTER_BAD_METHOD) {
        respond_error(r, DIALECT_APITURE, 405, "Method Not Allowed", "this path does not take this method", NULL);
        request_add_header(r, "Allow", allow);
    }
    return rr == ROUTER_FOUND;
}

/* What the body's declared type and length allow; false when it answered. */
static bool body_allowed(struct request *r)
{
    const struct route *rt = r->match.route;
    if (!media_type_json(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        respond_error(r, rt->dialect, 415, "Unsupported Media Type", "the body must be application/json", NULL);
        return false;
    }
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        /* the declared length only refuses: the buffer grows as bytes arrive, so that
         * a slow sender declaring megabytes holds what it sent, not what it declared */
        if (*end == '\0' && v > r->srv->app->cfg->max_body) {
            respond_error(r, rt->dialect, 413, "Payload Too Large", "the body is larger than this server accepts",
                          NULL);
            return false;
        }
    }
    return true;
}

/* Everything decided from the headers alone. Returns false when it answered. */
static bool first_call(struct request *r, const char *url, const char *method, const char *version)
{
    struct server *s = r->srv;
    const char *tid = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "tracing-id");
    bool tid_ok = tid && tracing_ok(tid);
    if (tid_ok)
        snprintf(r->tracing_id, sizeof(r->tracing_id), "%s", tid);
    else if (crypto_uuid4(r->tracing_id) != IH_OK)
        snprintf(r->tracing_id, sizeof(r->tracing_id), "unavailable");
    snprintf(r->path, sizeof(r->path), "%s", url);
    if (!route(r, url, method, version))
        return false;
    const struct route *rt = r->match.route;
    if (atomic_load(&s->stopping)) {
        /* a new request on a kept-alive connection while stopping: the caller retries
         * elsewhere or after the restart; the connection is closed after the answer */
        respond_unavailable(r, rt->dialect, s->app->cfg->retry_after_s);
        request_add_header(r, "Connection", "close");
        request_note(r, "shutting_down");
        return false;
    }
    if (!access_check(r))
        return false;
    if (rt->tracing_required && !tid_ok) {
        metrics_inc(M_VALIDATION_FAILURES, rt->pattern);
        respond_error(r, rt->dialect, 400, "Invalid request",
                      tid ? "the tracing-id header must be 1 to 128 visible ASCII characters"
                          : "the tracing-id header is required", NULL);
        return false;
    }
    return !rt->has_body || body_allowed(r);
}

/* Appends to the body; false when the ceiling would be passed (or memory is short). */
static bool append_body(struct request *r, const char *data, size_t n)
{
    uint64_t max = r->srv->app->cfg->max_body;
    if (r->body_len + n > max)
        return false;
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : BODY_FIRST;
        while (cap < r->body_len + n)
            cap *= 2;
        if (cap > max)
            cap = (size_t)max;
        char *nb = crypto_grow_wiped(r->body, r->body_len, cap); /* a body may hold card data */
        if (!nb)
            return false;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return true;
}

void *exchange_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct server *s = cls;
    struct request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL; /* exchange_run refuses the request */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->srv = s;
    r->cx = ci ? ci->socket_context : NULL;
    r->conn = conn;
    r->raw_target = uri; /* decoded in place after this call: only its place and length are kept */
    r->raw_target_len = uri ? strlen(uri) : 0;
    r->raw_target_bad = !uri || !framing_target_ok(uri);
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    return r;
}

static enum MHD_Result start(struct request *r, const char *url, const char *method, const char *version)
{
    struct server *s = r->srv;
    r->started = true;
    snprintf(r->method, sizeof(r->method), "%s", method);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    r->received_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    atomic_fetch_add(&s->in_flight, 1);
    if (!first_call(r, url, method, version))
        return queue(r);
    if (r->cx)
        guard_headers_done(s->guard, r->cx->guard, r->match.route->has_body, now_ms());
    if (r->match.route->has_body) { /* a write on its way: the writer may wait for it */
        r->expecting = true;
        writer_expect(s->app->writer);
    }
    return MHD_YES;
}

/* The request's job is submitted, or will not be. */
static void unexpect(struct request *r)
{
    if (!r->expecting)
        return;
    r->expecting = false;
    writer_unexpect(r->srv->app->writer);
}

static enum MHD_Result body_chunk(struct request *r, const char *data, size_t n)
{
    struct server *s = r->srv;
    if (r->cx)
        guard_body_bytes(s->guard, r->cx->guard, n);
    if (r->too_big) {
        /* libmicrohttpd 0.9.75 cannot answer before the upload ends, so the rest
         * of an oversized (chunked) body is drained without being kept, up to
         * DRAIN_FACTOR times the ceiling; past that the connection is closed. */
        r->drained += n;
        crypto_wipe((char *)data, n);
        return r->drained > DRAIN_FACTOR * s->app->cfg->max_body ? MHD_NO : MHD_YES;
    }
    bool kept = append_body(r, data, n);
    /* once copied, libmicrohttpd's read buffer (which upload_data points into) keeps no
     * card data: it is reused, not cleared, for the next bytes and connections */
    crypto_wipe((char *)data, n);
    if (!kept) {
        bool over = r->body_len + n > s->app->cfg->max_body;
        request_wipe_body(r);
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        r->too_big = true;
        r->drained = n;
        if (over)
            respond_error(r, r->match.route->dialect, 413, "Payload Too Large",
                          "the body is larger than this server accepts", NULL);
        else
            respond_unavailable_because(r, r->match.route->dialect, s->app->cfg->retry_after_s,
                                        "the server is short of memory; retry later");
    }
    return MHD_YES;
}

enum MHD_Result exchange_run(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)conn;
    struct request *r = *con_cls;
    if (!r)
        return MHD_NO; /* no memory for it: the connection is closed */
    if (!r->started)
        return start(r, url, method, version);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return body_chunk(r, upload_data, n);
    }
    if (r->cx)
        guard_answering(r->srv->guard, r->cx->guard);
    if (r->replied) {
        unexpect(r);
        return queue(r); /* answered while parked, or refused while the body streamed */
    }
    if (r->handled)
        return MHD_YES; /* parked: nothing to do until resumed */
    r->handled = true;
    r->match.route->handler(r, r->srv->app);
    unexpect(r);
    return r->replied ? queue(r) : MHD_YES;
}

/* A request libmicrohttpd ended before the handler saw it: its own 4xx for a head it
 * could not parse, or the client gone (or cut off by the guard) mid-head. */
static void end_unstarted(struct server *s, struct request *r, double secs)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_HTTP_STATUS);
    unsigned status = ci ? ci->http_status : 0;
    if (status)
        metrics_inc(M_MALFORMED, "unparsable");
    enum refusal kind = status ? REFUSAL_MALFORMED : REFUSAL_ABORTED;
    if (!lograte_allow(&s->lines[kind], now_ms()))
        return;
    struct log_request lr = {.tracing_id = "", .method = "", .route = "(unmatched)", .status = status,
                             .latency_ms = secs * 1e3,
                             .note = status ? "refused by the HTTP parser" : "connection closed during the headers"};
    log_request(&lr);
    if (status)
        metrics_request("(unmatched)", status, secs);
}

void exchange_end(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct server *s = cls;
    struct request *r = *con_cls;
    if (!r)
        return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
    if (r->cx)
        guard_request_done(s->guard, r->cx->guard, mono_ms(&t1));
    unexpect(r); /* ended before its handler ran (the client gone, a body cut off) */
    if (!r->started) {
        end_unstarted(s, r, secs);
    } else {
        const char *route = r->match.route ? r->match.route->pattern : "(unmatched)";
        unsigned status = r->replied ? r->status : 0;
        bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
        enum refusal kind = r->refusal ? r->refusal : ok ? REFUSAL_NONE : REFUSAL_ABORTED;
        if (kind == REFUSAL_NONE || lograte_allow(&s->lines[kind], mono_ms(&t1))) {
            struct log_request lr = {.tracing_id = r->tracing_id, .method = r->method, .route = route,
                                     .principal = r->principal, .status = status, .latency_ms = secs * 1e3,
                                     .note = ok ? r->note : "connection closed before the answer was sent"};
            log_request(&lr);
        }
        atomic_fetch_sub(&s->in_flight, 1);
    }
    if (r->state_free)
        r->state_free(r->state);
    request_stream_drop(r); /* never queued */
    request_wipe_body(r);
    free(r->body);
    free(r->resp);
    free(r);
    *con_cls = NULL;
}
