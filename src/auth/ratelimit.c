/* A fixed table of buckets with linear probing: the number of callers is bounded by
 * configuration (API keys) and by valid tokens, and a bounded table keeps a flood of
 * token subjects from growing memory; when a probe window is full, the bucket idle the
 * longest is reused. */
#include "issuerhook/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define WINDOW 16
#define NAME_MAX_LEN 128

struct bucket {
    char name[NAME_MAX_LEN];
    double tokens;
    int64_t last_ms;
    bool used;
};

struct ratelimit {
    unsigned rate, burst;
    pthread_mutex_t lock;
    struct bucket b[SLOTS];
};

ih_status ratelimit_new(unsigned rate, unsigned burst, struct ratelimit **out)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return IH_ENOMEM;
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    pthread_mutex_init(&rl->lock, NULL);
    *out = rl;
    return IH_OK;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct bucket *find(struct ratelimit *rl, const char *name, int64_t now_ms)
{
    uint32_t h = hash(name) % SLOTS;
    struct bucket *oldest = NULL;
    for (uint32_t k = 0; k < WINDOW; k++) {
        struct bucket *b = &rl->b[(h + k) % SLOTS];
        if (b->used && strncmp(b->name, name, NAME_MAX_LEN - 1) == 0)
            return b;
        if (!b->used || !oldest || (oldest->used && b->last_ms < oldest->last_ms))
            oldest = !b->used ? b : oldest && !oldest->used ? oldest : b;
    }
    snprintf(oldest->name, sizeof(oldest->name), "%s", name);
    oldest->tokens = rl->burst;
    oldest->last_ms = now_ms;
    oldest->used = true;
    return oldest;
}

/* Under the lock: caller's bucket, refilled up to now. */
static struct bucket *refilled(struct ratelimit *rl, const char *caller, int64_t now_ms)
{
    struct bucket *b = find(rl, caller ? caller : "", now_ms);
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rl->rate / 1000.0;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
        b->last_ms = now_ms;
    }
    return b;
}

/* Whole seconds until b has a token again (at least 1). */
static unsigned wait_for_token(const struct ratelimit *rl, const struct bucket *b)
{
    double wait_s = (1.0 - b->tokens) / rl->rate;
    unsigned w = (unsigned)wait_s;
    if ((double)w < wait_s)
        w++; /* round up: a whole second the caller can trust */
    return w < 1 ? 1 : w;
}

static bool use(struct ratelimit *rl, const char *caller, int64_t now_ms, unsigned *retry_after_s, bool take)
{
    if (!rl || rl->rate == 0)
        return true;
    pthread_mutex_lock(&rl->lock);
    struct bucket *b = refilled(rl, caller, now_ms);
    bool ok = b->tokens >= 1.0;
    if (ok && take)
        b->tokens -= 1.0;
    else if (!ok)
        *retry_after_s = wait_for_token(rl, b);
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

bool ratelimit_take(struct ratelimit *rl, const char *caller, int64_t now_ms, unsigned *retry_after_s)
{
    return use(rl, caller, now_ms, retry_after_s, true);
}

bool ratelimit_peek(struct ratelimit *rl, const char *caller, int64_t now_ms, unsigned *retry_after_s)
{
    return use(rl, caller, now_ms, retry_after_s, false);
}
