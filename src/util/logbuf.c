/* The log's buffer while the daemon serves: threads append whole lines to a ring under a
 * short lock; one thread writes what gathered, every millisecond at most (at once for warn
 * and error lines), in as few write(2) calls as the ring's wrap allows. A log target that
 * is slow (a stalled journal, a full pipe) blocks only that thread: once the ring is full,
 * lines are dropped whole and counted (issuerhook_log_lines_dropped_total), never waited
 * for. Lines keep their order; a line is never cut. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "logbuf.h"

#define RING_BYTES (256 * 1024)
#define GATHER_NS 1000000 /* lines of one millisecond share a write */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* the writing thread waits on it */
    char *ring;
    size_t head, len;    /* the lines are ring[head .. head+len), wrapping */
    bool running, stopping, urgent;
    pthread_t thread;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Writes all of buf to fd; false when fd fails (the bytes are lost). */
static bool write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            (void)poll(&p, 1, 100); /* a non-blocking stderr: wait until it takes more */
        } else if (w < 0 && errno != EINTR) {
            return false;
        }
    }
    return true;
}

static size_t count_lines(const char *s, size_t n)
{
    size_t k = 0;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + n - p))) != NULL; p++)
        k++;
    return k;
}

/* Waits for lines, and for the rest of their millisecond unless one is urgent. */
static void gather(void)
{
    while (!g.len && !g.stopping)
        pthread_cond_wait(&g.cond, &g.lock);
    if (g.urgent || g.stopping)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += GATHER_NS;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    while (!g.urgent && !g.stopping && pthread_cond_timedwait(&g.cond, &g.lock, &ts) == 0)
        ;
}

static void *flusher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.lock);
    for (;;) {
        gather();
        if (!g.len && g.stopping)
            break;
        /* the lines up to the ring's end; appends go on meanwhile after ring[head + len) */
        size_t n = g.len < RING_BYTES - g.head ? g.len : RING_BYTES - g.head;
        const char *p = g.ring + g.head;
        g.urgent = false;
        pthread_mutex_unlock(&g.lock);
        if (!write_all(STDERR_FILENO, p, n))
            for (size_t k = count_lines(p, n); k > 0; k--)
                metrics_inc(M_LOG_DROPPED, "write_failed");
        pthread_mutex_lock(&g.lock);
        g.head = (g.head + n) % RING_BYTES;
        g.len -= n;
    }
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

bool logbuf_put(const char *line, size_t n, bool urgent)
{
    pthread_mutex_lock(&g.lock);
    if (!g.running) {
        pthread_mutex_unlock(&g.lock);
        return false;
    }
    bool fits = n <= RING_BYTES - g.len, wake = false;
    if (fits) {
        size_t at = (g.head + g.len) % RING_BYTES, first = n < RING_BYTES - at ? n : RING_BYTES - at;
        memcpy(g.ring + at, line, first);
        memcpy(g.ring, line + first, n - first);
        wake = g.len == 0 || (urgent && !g.urgent); /* the thread sleeps, or must not wait */
        g.len += n;
        g.urgent = g.urgent || urgent;
    }
    pthread_mutex_unlock(&g.lock);
    if (wake)
        pthread_cond_signal(&g.cond);
    if (!fits)
        metrics_inc(M_LOG_DROPPED, "buffer_full");
    return true;
}

ih_status log_buffer_start(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_lock(&g.lock);
    ih_status rc = IH_OK;
    if (!g.running) {
        pthread_cond_init(&g.cond, &ca);
        g.ring = malloc(RING_BYTES);
        g.head = g.len = 0;
        g.stopping = g.urgent = false;
        if (!g.ring || pthread_create(&g.thread, NULL, flusher, NULL) != 0) {
            free(g.ring);
            g.ring = NULL;
            pthread_cond_destroy(&g.cond);
            rc = IH_ENOMEM;
        } else {
            g.running = true;
        }
    }
    pthread_mutex_unlock(&g.lock);
    pthread_condattr_destroy(&ca);
    return rc;
}

void log_buffer_stop(void)
{
    pthread_mutex_lock(&g.lock);
    if (!g.running) {
        pthread_mutex_unlock(&g.lock);
        return;
    }
    g.stopping = true;
    g.running = false; /* later lines are written by their own threads */
    pthread_cond_signal(&g.cond);
    pthread_mutex_unlock(&g.lock);
    pthread_join(g.thread, NULL); /* it writes what is left first */
    free(g.ring);
    g.ring = NULL;
    pthread_cond_destroy(&g.cond);
}
