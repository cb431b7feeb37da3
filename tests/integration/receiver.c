#include "receiver.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct receiver {
    struct MHD_Daemon *mhd;
    int port;
    int script[RECV_MAX];
    size_t nscript;
    int dflt;
    unsigned hang_ms;
    pthread_mutex_t lock;
    struct recv_hit hits[RECV_MAX];
    size_t nhits;
    char *body; /* answered with Content-Type: application/json; NULL: empty */
    unsigned fail_first; /* per path: its first requests answered 500 */
    struct recv_brief *log; /* every hit */
    size_t nlog, caplog;
};

/* Hits on path before this one (under rv->lock). */
static unsigned seen_before(const struct receiver *rv, const char *path)
{
    unsigned n = 0;
    for (size_t i = 0; i < rv->nlog; i++)
        n += strcmp(rv->log[i].path, path) == 0;
    return n;
}

/* Appends a hit to the log (under rv->lock); false without memory. */
static bool log_hit(struct receiver *rv, const char *path, int answered, int64_t at_ms)
{
    if (rv->nlog == rv->caplog) {
        size_t cap = rv->caplog ? 2 * rv->caplog : 256;
        struct recv_brief *b = realloc(rv->log, cap * sizeof(*b));
        if (!b)
            return false;
        rv->log = b;
        rv->caplog = cap;
    }
    struct recv_brief *h = &rv->log[rv->nlog++];
    snprintf(h->path, sizeof(h->path), "%s", path);
    h->answered = answered;
    h->at_ms = at_ms;
    return true;
}

struct upload {
    char body[1024];
    size_t len;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **ptr)
{
    (void)method;
    (void)version;
    struct receiver *rv = cls;
    struct upload *u = *ptr;
    if (!u) {
        *ptr = calloc(1, sizeof(struct upload));
        return *ptr ? MHD_YES : MHD_NO;
    }
    if (*size) {
        size_t take = *size < sizeof(u->body) - 1 - u->len ? *size : sizeof(u->body) - 1 - u->len;
        memcpy(u->body + u->len, data, take);
        u->len += take;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&rv->lock);
    size_t i = rv->nhits;
    int action = i < rv->nscript ? rv->script[i] : rv->dflt;
    if (rv->fail_first && seen_before(rv, url) < rv->fail_first)
        action = RECV_FAIL;
    (void)log_hit(rv, url, action == RECV_HANG ? 0 : action, mono_ms());
    struct recv_hit *h = i < RECV_MAX ? &rv->hits[rv->nhits++] : NULL;
    if (h) {
        const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "tracing-id");
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
        snprintf(h->path, sizeof(h->path), "%s", url);
        snprintf(h->tracing_id, sizeof(h->tracing_id), "%s", t ? t : "");
        snprintf(h->auth, sizeof(h->auth), "%s", a ? a : "");
        snprintf(h->body, sizeof(h->body), "%.*s", (int)u->len, u->body);
        h->at_ms = mono_ms();
        h->answered = action == RECV_HANG ? 0 : action; /* a hang is never seen answered */
    }
    pthread_mutex_unlock(&rv->lock);
    if (action == RECV_HANG) {
        struct timespec ts = {rv->hang_ms / 1000, (long)(rv->hang_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        action = 200;
    }
    pthread_mutex_lock(&rv->lock);
    struct MHD_Response *resp = rv->body ? MHD_create_response_from_buffer(strlen(rv->body), rv->body,
                                                                           MHD_RESPMEM_MUST_COPY)
                                         : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    bool json = rv->body != NULL;
    pthread_mutex_unlock(&rv->lock);
    if (!resp)
        return MHD_NO;
    if (json)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result r = MHD_queue_response(c, (unsigned)action, resp);
    MHD_destroy_response(resp);
    return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **ptr, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*ptr);
    *ptr = NULL;
}

struct receiver *receiver_start(const int *script, size_t n, int dflt, unsigned hang_ms)
{
    return receiver_start_on(0, script, n, dflt, hang_ms);
}

struct receiver *receiver_start_on(int port, const int *script, size_t n, int dflt, unsigned hang_ms)
{
    struct receiver *rv = calloc(1, sizeof(*rv));
    if (!rv)
        return NULL;
    for (size_t i = 0; i < n && i < RECV_MAX; i++)
        rv->script[i] = script[i];
    rv->nscript = n;
    rv->dflt = dflt;
    rv->hang_ms = hang_ms;
    pthread_mutex_init(&rv->lock, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    rv->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                               on_request, rv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                               MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (!rv->mhd) {
        pthread_mutex_destroy(&rv->lock);
        free(rv);
        return NULL;
    }
    rv->port = MHD_get_daemon_info(rv->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return rv;
}

int receiver_port(const struct receiver *rv)
{
    return rv->port;
}

bool receiver_set_body(struct receiver *rv, const char *body)
{
    char *copy = body ? strdup(body) : NULL;
    if (body && !copy)
        return false;
    pthread_mutex_lock(&rv->lock);
    free(rv->body);
    rv->body = copy;
    pthread_mutex_unlock(&rv->lock);
    return true;
}

void receiver_fail_first(struct receiver *rv, unsigned fail_first)
{
    pthread_mutex_lock(&rv->lock);
    rv->fail_first = fail_first;
    pthread_mutex_unlock(&rv->lock);
}

size_t receiver_log(struct receiver *rv, struct recv_brief **out)
{
    pthread_mutex_lock(&rv->lock);
    size_t n = rv->nlog;
    *out = malloc((n ? n : 1) * sizeof(**out));
    if (*out)
        memcpy(*out, rv->log, n * sizeof(**out));
    else
        n = 0;
    pthread_mutex_unlock(&rv->lock);
    return n;
}

void receiver_set_default(struct receiver *rv, int dflt)
{
    pthread_mutex_lock(&rv->lock);
    rv->dflt = dflt;
    rv->nscript = 0;
    pthread_mutex_unlock(&rv->lock);
}

size_t receiver_hits(struct receiver *rv, struct recv_hit *out)
{
    pthread_mutex_lock(&rv->lock);
    size_t n = rv->nhits;
    memcpy(out, rv->hits, n * sizeof(*out));
    pthread_mutex_unlock(&rv->lock);
    return n;
}

size_t receiver_wait_accepted(struct receiver *rv, unsigned timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    size_t ok;
    do {
        ok = 0;
        pthread_mutex_lock(&rv->lock);
        for (size_t i = 0; i < rv->nhits; i++)
            ok += rv->hits[i].answered >= 200 && rv->hits[i].answered < 300;
        pthread_mutex_unlock(&rv->lock);
        if (ok)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    } while (mono_ms() < end);
    return ok;
}

void receiver_stop(struct receiver *rv)
{
    if (!rv)
        return;
    MHD_stop_daemon(rv->mhd);
    pthread_mutex_destroy(&rv->lock);
    free(rv->body);
    free(rv->log);
    free(rv);
}
