/* libmicrohttpd glue for the whole server: the listening socket (bound before the
 * daemon touches the disk), TLS, connections (admitted by the guard, one struct conn
 * each), reloads and the stop. One request's life is in exchange.c. */
#include "issuerhook/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/listener.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/ratelimit.h"

#define LOG_BURST 10
#define LOG_WINDOW_S 10
#define FD_SPARE 64 /* descriptors beyond the connections: database, log, callbacks, JWKS */

static const char *const refusal_kinds[REFUSAL_COUNT] = {
    [REFUSAL_NONE] = "none", [REFUSAL_UNAUTHENTICATED] = "unauthenticated", [REFUSAL_RATE] = "rate_limited",
    [REFUSAL_MALFORMED] = "malformed", [REFUSAL_CONNECTION] = "connection_refused", [REFUSAL_SLOW] = "slow_client",
    [REFUSAL_ABORTED] = "aborted"};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool sockaddr_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* libmicrohttpd's accept policy: the guard's per-address limit and reserved slots. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct server *s = cls;
    if (atomic_load(&s->stopping)) {
        /* draining: a new connection is closed at once (see server_quiesce) */
        metrics_inc(M_CONN_REFUSED, "stopping");
        return MHD_NO;
    }
    enum guard_admission a = guard_admit(s->guard, addr, addrlen);
    if (a == GUARD_ADMIT)
        return MHD_YES;
    const char *reason = a == GUARD_REFUSE_PER_IP ? "per_ip" : "reserve";
    metrics_inc(M_CONN_REFUSED, reason);
    if (lograte_allow(&s->lines[REFUSAL_CONNECTION], now_ms()))
        log_msg(LOG_WARN, "connection refused", "reason",
                a == GUARD_REFUSE_PER_IP ? "the address holds ISSUERHOOK_PER_IP_CONNECTION_LIMIT connections"
                                         : "the last free connections are kept for addresses holding few",
                NULL);
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn *c = *socket_context;
        if (c) {
            guard_close(s->guard, c->guard);
            free(c);
        }
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ad = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct conn *c = calloc(1, sizeof(*c));
    if (c && fd && ad) {
        c->srv = s;
        c->loopback = sockaddr_loopback(ad->client_addr);
        socklen_t len = ad->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        c->guard = guard_open(s->guard, ad->client_addr, len, fd->connect_fd, now_ms());
    }
    if (!c || !c->guard) {
        /* no record, no clock: not served; libmicrohttpd reads end-of-file and closes */
        if (fd)
            shutdown(fd->connect_fd, SHUT_RDWR);
        free(c);
        c = NULL;
    }
    *socket_context = c;
}

/* gnutls_certificate_retrieve_function2: the certificate of the current generation. */
static int on_tls_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                       unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    struct MHD_Connection *connection = gnutls_session_get_ptr(session);
    const union MHD_ConnectionInfo *ci =
        connection ? MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    struct conn *c = ci ? ci->socket_context : NULL;
    if (!c || !c->srv->tls)
        return -1;
    return tls_select(c->srv->tls, session, pcert, pcert_length, privkey);
}

static void on_expired(void *arg, enum guard_expiry why, const char *addr)
{
    struct server *s = arg;
    metrics_inc(M_CONN_TIMED_OUT, why == GUARD_EXPIRED_HEADERS ? "headers" : "body");
    if (lograte_allow(&s->lines[REFUSAL_SLOW], now_ms()))
        log_msg(LOG_WARN, "connection closed: the client sends too slowly", "phase",
                why == GUARD_EXPIRED_HEADERS ? "headers" : "body", "client", addr, NULL);
}

static void on_tick(void *arg, int64_t now)
{
    struct server *s = arg;
    for (int i = 1; i < REFUSAL_COUNT; i++)
        lograte_flush(&s->lines[i], now);
}

static double gauge_open(void *arg)
{
    return (double)guard_open_count(arg);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[256];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    log_msg(LOG_DEBUG, "libmicrohttpd", "detail", buf, NULL);
}

/* Room for every connection allowed: the soft descriptor limit raised to fit. */
static void fit_descriptors(unsigned connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + FD_SPARE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want) {
        char have[24], need[24];
        snprintf(have, sizeof(have), "%llu", (unsigned long long)rl.rlim_cur);
        snprintf(need, sizeof(need), "%llu", (unsigned long long)want);
        log_msg(LOG_WARN, "the descriptor limit is below ISSUERHOOK_CONNECTION_LIMIT; raise LimitNOFILE / ulimit -n",
                "limit", have, "needed", need, NULL);
    }
}

static struct tls_files tls_files(const struct config *cfg)
{
    return (struct tls_files){.cert = cfg->tls_cert, .key = cfg->tls_key, .client_ca = cfg->tls_client_ca};
}

static ih_status prepare_parts(struct server *s, const struct config *cfg, char *err, size_t errlen)
{
    ih_status rc = listener_open(cfg->listen_host, cfg->listen_port, &s->listen_fd, err, errlen);
    if (rc != IH_OK)
        return rc;
    s->port = listener_port(s->listen_fd);
    if (cfg->tls_cert[0]) {
        struct tls_files f = tls_files(cfg);
        if ((rc = tls_new(&f, cfg->tls_priorities, &s->tls, err, errlen)) != IH_OK)
            return rc;
    }
    struct guard_options go = {.connection_limit = cfg->connection_limit, .per_ip_limit = cfg->per_ip_connection_limit,
                               .reserve = cfg->connection_reserve, .header_timeout_s = cfg->header_timeout_s,
                               .body_timeout_s = cfg->body_timeout_s, .body_min_rate = cfg->body_min_rate,
                               .on_tick = on_tick, .tick_arg = s};
    if ((rc = guard_new(&go, &s->guard)) != IH_OK || (rc = ratelimit_new(cfg->auth_failure_rate,
                                                                        cfg->auth_failure_burst, &s->failures)) != IH_OK)
        snprintf(err, errlen, "out of memory");
    return rc;
}

ih_status server_prepare(const struct config *cfg, struct server **out, char *err, size_t errlen)
{
    struct server *s = calloc(1, sizeof(*s));
    if (!s)
        return IH_ENOMEM;
    s->listen_fd = -1;
    atomic_store(&s->credentials, cfg);
    for (int i = 0; i < REFUSAL_COUNT; i++)
        s->lines[i] = (struct lograte)LOGRATE_INIT(refusal_kinds[i], LOG_BURST, LOG_WINDOW_S);
    ih_status rc = prepare_parts(s, cfg, err, errlen);
    if (rc != IH_OK) {
        server_stop(s);
        return rc;
    }
    fit_descriptors(cfg->connection_limit);
    if (!s->tls && !listener_is_loopback(s->listen_fd))
        log_msg(LOG_WARN, "listening on a non-loopback address without TLS: API keys, tokens and card data cross "
                          "the network in the clear; set ISSUERHOOK_TLS_CERT and ISSUERHOOK_TLS_KEY, or keep a "
                          "TLS-terminating proxy in front", "host", cfg->listen_host, NULL);
    *out = s;
    return IH_OK;
}

ih_status server_start(struct server *s, struct app *app, const struct route *routes, size_t nroutes, char *err,
                       size_t errlen)
{
    const struct config *cfg = app->cfg;
    s->app = app;
    s->routes = routes;
    s->nroutes = nroutes;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (listener_is_ipv6(s->listen_fd))
        flags |= MHD_USE_IPv6;
    if (s->tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        {s->tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, 0, (void *)on_tls_cert},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)cfg->tls_priorities},
        {MHD_OPTION_END, 0, NULL}};
    s->mhd = MHD_start_daemon(flags, 0, on_accept, s, exchange_run, s,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
                              MHD_OPTION_URI_LOG_CALLBACK, exchange_begin, s,
                              MHD_OPTION_NOTIFY_COMPLETED, exchange_end, s,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                              MHD_OPTION_ARRAY, tls_opts,
#if MHD_VERSION >= 0x00097701 /* newer ones refuse NULs, bare LF, CL with chunked themselves */
                              MHD_OPTION_CLIENT_DISCIPLINE_LVL, (int)1,
#endif
                              MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "libmicrohttpd cannot start on %s:%u%s", cfg->listen_host, s->port,
                 s->tls ? " with TLS (see the debug log)" : "");
        return IH_EIO;
    }
    s->listen_fd = -1; /* libmicrohttpd's now */
    if (guard_start(s->guard, on_expired, s) != IH_OK) {
        snprintf(err, errlen, "cannot start the connection guard thread");
        return IH_ENOMEM;
    }
    metrics_set_gauge("issuerhook_connections_open", "HTTP connections open now.", gauge_open, s->guard);
    return IH_OK;
}

uint16_t server_port(const struct server *s) { return s->port; }

ih_status server_reload(struct server *s, const struct config *cfg, const struct config **old, char *err,
                        size_t errlen)
{
    const struct config *cur = atomic_load(&s->credentials);
    if (!s->tls != !cfg->tls_cert[0]) {
        snprintf(err, errlen, "switching between HTTP and HTTPS needs a restart");
        return IH_EINVAL;
    }
    if (strcmp(cur->tls_priorities, cfg->tls_priorities) != 0 || cur->header_timeout_s != cfg->header_timeout_s ||
        cur->body_timeout_s != cfg->body_timeout_s || cur->body_min_rate != cfg->body_min_rate ||
        cur->per_ip_connection_limit != cfg->per_ip_connection_limit ||
        cur->connection_reserve != cfg->connection_reserve || cur->auth_failure_rate != cfg->auth_failure_rate ||
        cur->auth_failure_burst != cfg->auth_failure_burst)
        log_msg(LOG_WARN, "SIGHUP: changed TLS priorities, connection limits, timeouts and failure rates take "
                          "effect only after a restart", NULL);
    if (s->tls) {
        struct tls_files f = tls_files(cfg);
        ih_status rc = tls_reload(s->tls, &f, err, errlen);
        if (rc != IH_OK)
            return rc;
    }
    *old = atomic_exchange(&s->credentials, cfg);
    return IH_OK;
}

void server_quiesce(struct server *s)
{
    /* From now on on_accept closes every new connection at once; the listening socket
     * stays with libmicrohttpd until MHD_stop_daemon. Not MHD_quiesce_daemon: with
     * epoll and a thread pool it races the pool threads removing the same socket from
     * their epoll sets, and libmicrohttpd 0.9.75 aborts the process when it loses
     * ("Failed to remove listen FD from epoll set", seen in test_bookings' SIGTERM). */
    atomic_store(&s->stopping, true);
}

size_t server_in_flight(const struct server *s) { return atomic_load(&s->in_flight); }

void server_stop(struct server *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd); /* every connection closed: the guard holds no record */
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    guard_free(s->guard);
    ratelimit_free(s->failures);
    tls_free(s->tls);
    free(s);
}
