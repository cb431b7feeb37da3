/* Whether the store takes writes, as its writer last saw it, on every backend. The
 * writer reports every failure and every success; /health reads the result
 * (store_writable). A failure is logged the first time it is seen since the store last
 * took writes (one line per distinct error, with the database's message as its backend
 * words it), then only counted (issuerhook_store_errors_total); the recovery is logged
 * with how long writes failed and how many were refused. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "issuerhook/log.h"
#include "issuerhook/writer.h"

void state_init(struct store_state *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_init(&st->lock, NULL);
    st->writable = true;
}

void state_destroy(struct store_state *st)
{
    pthread_mutex_destroy(&st->lock);
}

static bool seen_before(struct store_state *st, const struct store_error *e)
{
    for (size_t i = 0; i < st->nseen; i++)
        if (st->seen[i].code == e->code && st->seen[i].os_errno == e->os_errno)
            return true;
    if (st->nseen < sizeof(st->seen) / sizeof(st->seen[0])) {
        st->seen[st->nseen].code = e->code;
        st->seen[st->nseen].os_errno = e->os_errno;
        st->nseen++;
    }
    return false; /* past eight distinct errors in one outage, each new one is logged */
}

void state_failed(struct store *s, const struct store_error *e, bool log)
{
    struct store_state *st = &s->state;
    char what[560];
    s->ops->error_text(e, what, sizeof(what));
    pthread_mutex_lock(&st->lock);
    if (st->writable) { /* an outage starts */
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(st->since, sizeof(st->since), "%Y-%m-%dT%H:%M:%SZ", &tm);
        st->since_ms = writer_now_ms();
        st->refused = 0;
        st->nseen = 0;
    }
    st->writable = false;
    snprintf(st->why, sizeof(st->why), "writes fail since %s: %s", st->since, what);
    bool first = !seen_before(st, e);
    pthread_mutex_unlock(&st->lock);
    if (log && first)
        log_msg(LOG_ERROR, "the store cannot take writes: they answer 503 and /health fails until it can", "path",
                store_describe(s), "reason", what, NULL);
}

void state_refused(struct store *s)
{
    pthread_mutex_lock(&s->state.lock);
    s->state.refused++;
    pthread_mutex_unlock(&s->state.lock);
}

void state_ok(struct store *s)
{
    struct store_state *st = &s->state;
    pthread_mutex_lock(&st->lock);
    bool was = st->writable;
    st->writable = true;
    st->why[0] = '\0';
    unsigned long refused = st->refused;
    int64_t since = st->since_ms;
    pthread_mutex_unlock(&st->lock);
    if (was)
        return;
    char after[32], n[24];
    snprintf(after, sizeof(after), "%.1f", (double)(writer_now_ms() - since) / 1000.0);
    snprintf(n, sizeof(n), "%lu", refused);
    log_msg(LOG_INFO, "the store takes writes again", "path", store_describe(s), "after_s", after, "writes_refused", n,
            NULL);
}

bool store_writable(struct store *s, char *why, size_t len)
{
    pthread_mutex_lock(&s->state.lock);
    bool ok = s->state.writable;
    if (len)
        snprintf(why, len, "%s", ok ? "" : s->state.why);
    pthread_mutex_unlock(&s->state.lock);
    return ok;
}
