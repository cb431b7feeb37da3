/* The ceiling for the load benchmark: a trivial libmicrohttpd server with the same threading
 * configuration as issuerhookd (internal polling thread, epoll, a thread pool), which reads the
 * whole request body and answers 200 with a small JSON body. Whatever it sustains is the most
 * the daemon could sustain on this machine with libmicrohttpd; tests/bench/run.sh compares both.
 *
 *   ih_bench_ceiling PORT [THREADS]      listens on 127.0.0.1:PORT (THREADS defaults to 4)
 *
 * It runs until SIGTERM or SIGINT. */
#include <stdio.h>
#include <stdlib.h>

#include "benchhttp.h"

static const char REPLY[] = "{\"status\":\"accepted\"}";

/* One per request: how many body bytes arrived. The address doubles as the "seen" marker. */
struct req {
    size_t body_len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        r->body_len += *upload_data_size; /* consume the body chunk */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return bench_answer(conn, MHD_HTTP_OK, REPLY, sizeof(REPLY) - 1);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    unsigned long port, threads = 4;
    if (argc < 2 || argc > 3 || bench_parse_uint(argv[1], 65535, &port) ||
        (argc == 3 && (bench_parse_uint(argv[2], 256, &threads) || threads == 0))) {
        fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
        return 2;
    }

    sigset_t stop;
    bench_block_stop_signals(&stop);
    struct MHD_Daemon *d = bench_start(0, port, threads, on_request, on_completed);
    if (!d) {
        fprintf(stderr, "ih_bench_ceiling: cannot listen on 127.0.0.1:%lu\n", port);
        return 1;
    }

    bench_wait_stop(&stop);
    MHD_stop_daemon(d);
    return 0;
}
