/* sd_notify(3) by hand (see notify.h for why) and the watchdog thread. */
#include "issuerhook/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/log.h"

bool notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return true;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    /* "/path" or "@abstract"; other address kinds (vsock) are not ours to reach */
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
        return false;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    ssize_t sent;
    do
        sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    while (sent < 0 && errno == EINTR);
    close(fd);
    return sent == (ssize_t)strlen(state);
}

uint64_t watchdog_interval_usec(const char *env_usec, const char *env_pid, long pid)
{
    if (!env_usec || !*env_usec)
        return 0;
    if (env_pid && *env_pid) {
        char *end;
        errno = 0;
        long p = strtol(env_pid, &end, 10);
        if (errno || *end || p != pid)
            return 0; /* meant for another process (we were exec'd by a wrapper) */
    }
    char *end;
    errno = 0;
    unsigned long long u = strtoull(env_usec, &end, 10);
    if (errno || *end || env_usec[0] == '-')
        return 0;
    return (uint64_t)u;
}

bool watchdog_alive(int64_t now_ms, int64_t heartbeat_ms, uint64_t interval_usec)
{
    return now_ms - heartbeat_ms < (int64_t)(interval_usec / 1000);
}

struct watchdog {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool stopping;
    uint64_t interval_usec;
    watchdog_alive_fn alive;
    void *arg;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watchdog_main(void *arg)
{
    struct watchdog *wd = arg;
    uint64_t step_ns = wd->interval_usec * 1000 / 3;
    bool was_alive = true;
    pthread_mutex_lock(&wd->lock);
    while (!wd->stopping) {
        pthread_mutex_unlock(&wd->lock);
        int64_t now = mono_ms(), beat = wd->alive(wd->arg);
        bool alive = watchdog_alive(now, beat, wd->interval_usec);
        if (alive)
            notify_send("WATCHDOG=1");
        if (alive != was_alive) {
            char age[32];
            snprintf(age, sizeof(age), "%lld", (long long)(now - beat));
            if (alive)
                log_msg(LOG_INFO, "watchdog: the writer is turning again; pings resumed", NULL);
            else
                log_msg(LOG_ERROR, "watchdog: the writer has not turned within the watchdog interval; "
                                   "pings withheld so that the service manager restarts the daemon",
                        "heartbeat_age_ms", age, NULL);
            was_alive = alive;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + step_ns;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_mutex_lock(&wd->lock);
        while (!wd->stopping && pthread_cond_timedwait(&wd->cond, &wd->lock, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&wd->lock);
    return NULL;
}

ih_status watchdog_start(watchdog_alive_fn alive, void *arg, struct watchdog **out)
{
    *out = NULL;
    uint64_t usec = watchdog_interval_usec(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), (long)getpid());
    if (usec == 0)
        return IH_OK;
    if (usec < 3000000)
        log_msg(LOG_WARN, "watchdog: WatchdogSec below 3s; the idle writer turns once a second, so pings may lapse",
                NULL);
    struct watchdog *wd = calloc(1, sizeof(*wd));
    if (!wd)
        return IH_ENOMEM;
    wd->interval_usec = usec;
    wd->alive = alive;
    wd->arg = arg;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&wd->lock, NULL);
    if (pthread_create(&wd->thread, NULL, watchdog_main, wd) != 0) {
        pthread_cond_destroy(&wd->cond);
        pthread_mutex_destroy(&wd->lock);
        free(wd);
        return IH_ENOMEM;
    }
    char ms[32];
    snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(usec / 1000));
    log_msg(LOG_INFO, "watchdog: pinging the service manager while the writer turns", "interval_ms", ms, NULL);
    *out = wd;
    return IH_OK;
}

void watchdog_stop(struct watchdog *wd)
{
    if (!wd)
        return;
    pthread_mutex_lock(&wd->lock);
    wd->stopping = true;
    pthread_cond_signal(&wd->cond);
    pthread_mutex_unlock(&wd->lock);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cond);
    pthread_mutex_destroy(&wd->lock);
    free(wd);
}
