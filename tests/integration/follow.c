#include "follow.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "issuerhook/feedparams.h"
#include "load.h"

struct follow {
    struct daemon *nodes[8];
    size_t nnodes, limit;
    char header[128];
    char wm[FEED_TOKEN_MAX];
    pthread_t thread;
    bool running; /* thread started and not joined */
    pthread_mutex_t lock;
    /* set by follow_stop */
    bool stopping;
    const char *const *want;
    size_t nwant;
    int64_t deadline_ns;
    /* the thread's */
    bool *seen_want;
    size_t nseen_want;
    struct follow_item *items;
    size_t n, cap;
    atomic_size_t polls, errors, regressions;
    char first_error[256];
};

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One page from node k at f->wm: its items appended; *more: hasMore; false on an error. */
static bool poll_once(struct follow *f, size_t k, bool *more, size_t *got)
{
    char path[256];
    snprintf(path, sizeof(path), "/banking/recentEventHistory?limit=%zu%s%s", f->limit, f->wm[0] ? "&watermark=" : "",
             f->wm);
    const char *h[] = {f->header, NULL};
    struct http_resp r;
    atomic_fetch_add(&f->polls, 1);
    bool ok = http_get(f->nodes[k], path, h, &r);
    json_t *j = ok && r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    const char *wm = json_string_value(json_object_get(j, "watermark"));
    json_t *items = json_object_get(j, "items");
    if (!j || !wm || !json_is_array(items)) {
        atomic_fetch_add(&f->errors, 1);
        if (!f->first_error[0])
            snprintf(f->first_error, sizeof(f->first_error), "node %zu: %ld %.200s", k, ok ? r.status : -1L,
                     ok ? r.body : "(no answer)");
        if (ok)
            http_resp_free(&r);
        json_decref(j);
        return false;
    }
    http_resp_free(&r);
    *more = json_is_true(json_object_get(j, "hasMore"));
    *got = json_array_size(items);
    for (size_t i = 0; i < *got; i++) {
        json_t *it = json_array_get(items, i);
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *key = json_string_value(json_object_get(it, "primaryId"));
        if (f->n == f->cap) {
            size_t cap = f->cap ? 2 * f->cap : 4096;
            struct follow_item *b = realloc(f->items, cap * sizeof(*b));
            if (!b)
                break;
            f->items = b;
            f->cap = cap;
        }
        struct follow_item *fi = &f->items[f->n++];
        fi->seq = id && !strncmp(id, "evt-", 4) ? strtoll(id + 4, NULL, 10) : -1;
        snprintf(fi->key, sizeof(fi->key), "%s", key ? key : "");
    }
    struct feed_pos before, after;
    if (f->wm[0] && watermark_pos(f->wm, &before) && (!watermark_pos(wm, &after) || feed_pos_cmp(after, before) < 0))
        atomic_fetch_add(&f->regressions, 1);
    snprintf(f->wm, sizeof(f->wm), "%s", wm);
    json_decref(j);
    return true;
}

/* Marks the wanted keys among items [from, f->n). */
static void mark_wanted(struct follow *f, size_t from)
{
    for (size_t i = from; i < f->n; i++) {
        const char *k = f->items[i].key;
        const char *const *hit = bsearch(&k, f->want, f->nwant, sizeof(*f->want), cmp_key);
        if (hit && !f->seen_want[hit - f->want]) {
            f->seen_want[hit - f->want] = true;
            f->nseen_want++;
        }
    }
}

static void *follow_main(void *arg)
{
    struct follow *f = arg;
    bool marking = false;
    for (size_t turn = 0;; turn++) {
        pthread_mutex_lock(&f->lock);
        bool stopping = f->stopping;
        pthread_mutex_unlock(&f->lock);
        if (stopping && !marking) {
            f->seen_want = calloc(f->nwant ? f->nwant : 1, sizeof(bool));
            mark_wanted(f, 0);
            marking = true;
        }
        bool more = false;
        size_t got = 0, before = f->n;
        if (!poll_once(f, turn % f->nnodes, &more, &got)) {
            pause_ms(50);
        } else if (marking) {
            mark_wanted(f, before);
        }
        bool done = marking && f->nseen_want == f->nwant && got == 0 && !more;
        if (done || (marking && load_now_ns() > f->deadline_ns))
            break;
        if (got == 0 && !more)
            pause_ms(5);
    }
    return NULL;
}

/* The watermark at the end of the feed now. */
static bool end_watermark(struct follow *f)
{
    for (int i = 0; i < 1000; i++) {
        bool more = false;
        size_t got = 0;
        if (!poll_once(f, 0, &more, &got))
            return false;
        if (!more)
            return true;
    }
    return false;
}

struct follow *follow_start(struct daemon *const *nodes, size_t n, const char *reader_key, size_t limit)
{
    struct follow *f = calloc(1, sizeof(*f));
    if (!f || n < 1 || n > 8) {
        free(f);
        return NULL;
    }
    memcpy(f->nodes, nodes, n * sizeof(*nodes));
    f->nnodes = n;
    f->limit = 10000;
    snprintf(f->header, sizeof(f->header), "X-API-Key: %s", reader_key);
    pthread_mutex_init(&f->lock, NULL);
    if (!end_watermark(f)) {
        fprintf(stderr, "follow: cannot read the feed: %s\n", f->first_error);
        follow_free(f);
        return NULL;
    }
    f->n = 0; /* what came before is not this test's */
    atomic_store(&f->polls, 0);
    f->limit = limit;
    if (pthread_create(&f->thread, NULL, follow_main, f) != 0) {
        follow_free(f);
        return NULL;
    }
    f->running = true;
    return f;
}

void follow_stop(struct follow *f, const char *const *want, size_t nwant, unsigned timeout_s)
{
    pthread_mutex_lock(&f->lock);
    f->want = want;
    f->nwant = nwant;
    f->deadline_ns = load_now_ns() + (int64_t)timeout_s * 1000000000;
    f->stopping = true;
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    f->running = false;
}

const struct follow_item *follow_items(const struct follow *f, size_t *n)
{
    *n = f->n;
    return f->items;
}

size_t follow_polls(const struct follow *f)
{
    return atomic_load(&f->polls);
}

size_t follow_errors(const struct follow *f)
{
    return atomic_load(&f->errors);
}

size_t follow_regressions(const struct follow *f)
{
    return atomic_load(&f->regressions);
}

const char *follow_first_error(const struct follow *f)
{
    return f->first_error;
}

void follow_free(struct follow *f)
{
    if (!f)
        return;
    if (f->running)
        follow_stop(f, NULL, 0, 0);
    pthread_mutex_destroy(&f->lock);
    free(f->seen_want);
    free(f->items);
    free(f);
}
