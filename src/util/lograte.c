#include "issuerhook/lograte.h"

#include <stdio.h>

#include "issuerhook/log.h"
#include "issuerhook/metrics.h"

/* Under lr->lock: the summary of the window that just ended, then a fresh window. */
static void roll(struct lograte *lr, int64_t now_ms)
{
    if (lr->suppressed) {
        char n[24], s[16];
        snprintf(n, sizeof(n), "%llu", lr->suppressed);
        snprintf(s, sizeof(s), "%u", lr->window_s);
        log_msg(LOG_WARN, "repeated events not logged one by one", "kind", lr->kind, "count", n, "seconds", s,
                NULL);
    }
    lr->window_start_ms = now_ms;
    lr->logged = 0;
    lr->suppressed = 0;
}

bool lograte_allow(struct lograte *lr, int64_t now_ms)
{
    pthread_mutex_lock(&lr->lock);
    if (lr->window_start_ms == 0 || now_ms - lr->window_start_ms >= (int64_t)lr->window_s * 1000)
        roll(lr, now_ms);
    bool ok = lr->logged < lr->burst;
    if (ok)
        lr->logged++;
    else
        lr->suppressed++;
    pthread_mutex_unlock(&lr->lock);
    if (!ok)
        metrics_inc(M_LOG_SUPPRESSED, lr->kind);
    return ok;
}

void lograte_flush(struct lograte *lr, int64_t now_ms)
{
    pthread_mutex_lock(&lr->lock);
    if (lr->suppressed && now_ms - lr->window_start_ms >= (int64_t)lr->window_s * 1000)
        roll(lr, now_ms);
    pthread_mutex_unlock(&lr->lock);
}
