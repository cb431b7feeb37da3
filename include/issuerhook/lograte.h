/* Bounded logging of repeated events (refusals a flood can cause): in each window of
 * window_s seconds the first `burst` events of a kind are logged one by one; the rest
 * are only counted, and one summary line per window gives their number. A flood then
 * costs at most burst + 1 lines per window and kind. */
#ifndef ISSUERHOOK_LOGRATE_H
#define ISSUERHOOK_LOGRATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct lograte {
    const char *kind; /* static: names the summary ("unauthenticated", ...) */
    unsigned burst, window_s;
    pthread_mutex_t lock;
    int64_t window_start_ms;
    unsigned logged;
    unsigned long long suppressed;
};

#define LOGRATE_INIT(kind, burst, window_s) {(kind), (burst), (window_s), PTHREAD_MUTEX_INITIALIZER, 0, 0, 0}

/* Whether this event may be logged now (true) or is only counted (false). When a new
 * window starts, the summary of the last one is written first. */
bool lograte_allow(struct lograte *lr, int64_t now_ms);
/* Writes the summary of a window that has ended with events counted but not logged
 * (called about once a second, so a flood that stops is still summarised). */
void lograte_flush(struct lograte *lr, int64_t now_ms);

#endif
