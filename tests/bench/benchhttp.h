/* What the benchmark's two bare servers (ceiling.c, floor.c) share, so that they run
 * libmicrohttpd with one configuration, the daemon's (src/http/server.c): internal polling
 * thread, epoll, a thread pool, 32 KiB of memory a connection. Header-only: each server is
 * one C file that run.sh can compile on its own when CMake did not build it. */
#ifndef IH_BENCH_BENCHHTTP_H
#define IH_BENCH_BENCHHTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* 0 and *out = the decimal s when it is a number <= max; -1 otherwise. */
static inline int bench_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Blocks SIGTERM and SIGINT (into *stop) before any thread starts, so that every thread
 * inherits the mask and only bench_wait_stop() receives them; ignores SIGPIPE. */
static inline void bench_block_stop_signals(sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static inline void bench_wait_stop(const sigset_t *stop)
{
    int sig = 0;
    while (sigwait(stop, &sig) != 0)
        ;
}

/* Listens on 127.0.0.1:port with the daemon's configuration plus extra_flags; NULL if it
 * cannot. */
static inline struct MHD_Daemon *bench_start(unsigned extra_flags, unsigned long port, unsigned long threads,
                                             MHD_AccessHandlerCallback handler,
                                             MHD_RequestCompletedCallback completed)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | extra_flags;
    return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                            MHD_OPTION_CONNECTION_LIMIT, 1024u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
                            MHD_OPTION_END);
}

/* Queues status with the constant JSON body[0..len). */
static inline enum MHD_Result bench_answer(struct MHD_Connection *conn, unsigned status, const char *body,
                                           size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

#endif
