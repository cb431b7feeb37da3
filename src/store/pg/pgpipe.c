/* One pipelined round trip (pgpipe.h), following libpq's "Pipeline Mode" chapter: non-
 * blocking sends, PQflush until done while waiting for read or write readiness and
 * consuming input, then PQgetResult item by item (each query's results end in NULL). */
#include "pgpipe.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>

/* Items queued between waits for socket space: libpq sends in 8 KiB pieces by itself as
 * messages are queued; waiting here every so often bounds its buffer without sending a
 * TCP segment per item. */
#define FLUSH_EVERY 64

/* Waits until the socket is ready for events; -1 on error or after timeout_ms. */
static int wait_io(PGconn *pq, short events, unsigned timeout_ms)
{
    struct pollfd p = {.fd = PQsocket(pq), .events = events};
    if (p.fd < 0)
        return -1;
    int r;
    while ((r = poll(&p, 1, (int)timeout_ms)) < 0 && errno == EINTR)
        ;
    return r > 0 && !(p.revents & POLLNVAL) ? 0 : -1;
}

/* Sends what libpq holds, reading whatever the server answers meanwhile. */
static int flush_all(PGconn *pq, unsigned timeout_ms)
{
    for (;;) {
        int f = PQflush(pq);
        if (f <= 0)
            return f;
        if (wait_io(pq, POLLIN | POLLOUT, timeout_ms) < 0 || !PQconsumeInput(pq))
            return -1;
    }
}

static int send_item(PGconn *pq, const struct pgpipe_item *it)
{
    switch (it->kind) {
    case PGPIPE_PREPARE: return PQsendPrepare(pq, it->name, it->sql, 0, NULL);
    case PGPIPE_COMMAND: return PQsendQueryParams(pq, it->sql, 0, NULL, NULL, NULL, NULL, 0);
    case PGPIPE_CALL:
        return PQsendQueryPrepared(pq, it->name, it->nparams, it->values, it->lengths, it->formats, 0);
    case PGPIPE_SYNC: return PQpipelineSync(pq);
    }
    return 0;
}

/* The next result (NULL: the end of the current query's results). */
static int next_result(PGconn *pq, unsigned timeout_ms, PGresult **out)
{
    *out = NULL;
    while (PQisBusy(pq)) {
        if (PQstatus(pq) == CONNECTION_BAD || wait_io(pq, POLLIN, timeout_ms) < 0 || !PQconsumeInput(pq))
            return -1;
    }
    *out = PQgetResult(pq);
    return 0;
}

/* Reads item it's result: a query's first result and the NULL after it (extra results,
 * which these statements do not make, are dropped), or a sync's PGRES_PIPELINE_SYNC. */
static int read_item(PGconn *pq, struct pgpipe_item *it, unsigned timeout_ms)
{
    if (next_result(pq, timeout_ms, &it->res) < 0 || !it->res)
        return -1;
    if (it->kind == PGPIPE_SYNC)
        return PQresultStatus(it->res) == PGRES_PIPELINE_SYNC ? 0 : -1;
    for (;;) {
        PGresult *extra = NULL;
        if (next_result(pq, timeout_ms, &extra) < 0)
            return -1;
        if (!extra)
            return 0;
        PQclear(extra);
    }
}

static void clear_all(struct pgpipe_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        PQclear(items[i].res);
        items[i].res = NULL;
    }
}

int pgpipe_run(PGconn *pq, struct pgpipe_item *items, size_t n, unsigned timeout_ms, char *why, size_t whylen)
{
    const char *what = "cannot enter pipeline mode";
    for (size_t i = 0; i < n; i++)
        items[i].res = NULL;
    if (PQsetnonblocking(pq, 1) != 0 || PQenterPipelineMode(pq) != 1)
        goto fail;
    what = "sending to the server failed";
    for (size_t i = 0; i < n; i++) {
        if (!send_item(pq, &items[i]))
            goto fail;
        if ((i + 1) % FLUSH_EVERY == 0 && flush_all(pq, timeout_ms) < 0)
            goto fail;
    }
    if (flush_all(pq, timeout_ms) < 0)
        goto fail;
    what = "reading the server's answers failed";
    for (size_t i = 0; i < n; i++)
        if (read_item(pq, &items[i], timeout_ms) < 0)
            goto fail;
    what = "cannot leave pipeline mode";
    if (PQexitPipelineMode(pq) != 1 || PQsetnonblocking(pq, 0) != 0)
        goto fail;
    return 0;
fail:
    snprintf(why, whylen, "%s: %s", what,
             PQstatus(pq) == CONNECTION_BAD && *PQerrorMessage(pq) ? PQerrorMessage(pq)
                                                                    : "no answer in time, or out of step");
    clear_all(items, n);
    return -1;
}
