#include "load.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATUS_SLOTS 600

struct load {
    struct load_options o;
    struct load_event *events;
    size_t n;
    pthread_t *threads;
    size_t nthreads;
    int64_t deadline_ns;
    atomic_size_t acked;
    atomic_size_t answers[STATUS_SLOTS];
};

struct worker {
    struct load *l;
    size_t client, conn;
};

int64_t load_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

size_t load_scaled(size_t n, size_t min)
{
    const char *s = getenv("IH_TEST_LOAD_SCALE");
    unsigned long pct = s && *s ? strtoul(s, NULL, 10) : 100;
    size_t v = (size_t)((unsigned long long)n * pct / 100);
    return v < min ? min : v;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* One POST of body to node k on the worker's handle for it; the status (0: no answer). */
static long post_on(struct load *l, CURL *c, size_t k, const char *body, struct curl_slist *h)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/events", l->o.nodes[k]->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long st = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    atomic_fetch_add(&l->answers[st >= 0 && st < STATUS_SLOTS ? st : STATUS_SLOTS - 1], 1);
    return st;
}

static bool ok(long st)
{
    return st >= 200 && st < 300;
}

/* Sends body starting at node k until a 2xx (or, without retries, once); the last
 * status; *at: the node that answered it. */
static long send_until_ok(struct load *l, CURL **handles, size_t k, const char *body, struct curl_slist *h,
                          unsigned *sends, size_t *at)
{
    long st;
    for (;;) {
        (*sends)++;
        st = post_on(l, handles[k], k, body, h);
        *at = k;
        if (ok(st) || !l->o.retry || load_now_ns() > l->deadline_ns)
            return st;
        struct timespec ts = {l->o.retry_ms / 1000, (long)(l->o.retry_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        k = (k + 1) % l->o.nnodes;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct load *l = w->l;
    CURL *handles[8] = {0};
    struct curl_slist *h = NULL;
    char tracing[64];
    snprintf(tracing, sizeof(tracing), "tracing-id: load-%zu-%zu", w->client, w->conn);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "X-API-Key: " KEY_FULL);
    h = curl_slist_append(h, tracing);
    for (size_t k = 0; k < l->o.nnodes; k++)
        handles[k] = curl_easy_init();
    for (size_t i = w->client * l->o.per_client + w->conn; i < (w->client + 1) * l->o.per_client;
         i += l->o.conns) {
        struct load_event *e = &l->events[i];
        char *body = amiko_event(e->id, "case_created");
        if (!body)
            continue;
        size_t at = i % l->o.nnodes;
        e->sent_ns = load_now_ns();
        long st = send_until_ok(l, handles, at, body, h, &e->sends, &at);
        if (ok(st)) {
            e->acked_ns = load_now_ns();
            e->node = (int)at;
            atomic_fetch_add(&l->acked, 1);
            /* the same event again, to the next node: a repeat, whichever node gets it */
            if (l->o.nnodes > 1 && (i * 7919) % 100 < l->o.resend_pct)
                e->resent = send_until_ok(l, handles, (at + 1) % l->o.nnodes, body, h, &e->sends, &at);
        }
        free(body);
    }
    for (size_t k = 0; k < l->o.nnodes; k++)
        curl_easy_cleanup(handles[k]);
    curl_slist_free_all(h);
    free(w);
    return NULL;
}

struct load *load_start(const struct load_options *o)
{
    if (o->nnodes < 1 || o->nnodes > 8 || o->conns < 1 || o->clients < 1)
        return NULL;
    struct load *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->o = *o;
    l->n = o->clients * o->per_client;
    l->events = calloc(l->n ? l->n : 1, sizeof(*l->events));
    l->threads = calloc(o->clients * o->conns, sizeof(*l->threads));
    l->deadline_ns = load_now_ns() + (int64_t)(o->deadline_s ? o->deadline_s : 60) * 1000000000;
    if (!l->events || !l->threads) {
        load_free(l);
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++) {
        test_uuid(l->events[i].id);
        l->events[i].node = -1;
    }
    for (size_t c = 0; c < o->clients; c++) {
        for (size_t j = 0; j < o->conns; j++) {
            struct worker *w = malloc(sizeof(*w));
            if (!w)
                continue;
            *w = (struct worker){l, c, j};
            if (pthread_create(&l->threads[l->nthreads], NULL, worker_main, w) == 0)
                l->nthreads++;
            else
                free(w);
        }
    }
    return l;
}

size_t load_acked(const struct load *l)
{
    return atomic_load(&l->acked);
}

size_t load_answers(const struct load *l, long status)
{
    return status >= 0 && status < STATUS_SLOTS ? atomic_load(&l->answers[status]) : 0;
}

size_t load_answers_between(const struct load *l, long from, long to)
{
    size_t n = 0;
    for (long s = from; s < to && s < STATUS_SLOTS; s++)
        n += load_answers(l, s);
    return n;
}

void load_wait(struct load *l)
{
    for (size_t i = 0; i < l->nthreads; i++)
        pthread_join(l->threads[i], NULL);
    l->nthreads = 0;
}

const struct load_event *load_events(const struct load *l, size_t *n)
{
    *n = l->n;
    return l->events;
}

void load_free(struct load *l)
{
    if (!l)
        return;
    load_wait(l);
    free(l->threads);
    free(l->events);
    free(l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

long load_missing(const struct load *l, const struct daemon *d)
{
    char **keys = NULL;
    long n = db_strings(d, "SELECT idem_key FROM records WHERE source = 'amiko.event'", &keys);
    if (n < 0)
        return -1;
    qsort(keys, (size_t)n, sizeof(*keys), cmp_str);
    long missing = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct load_event *e = &l->events[i];
        if (!e->acked_ns)
            continue;
        const char *id = e->id;
        char **hit = bsearch(&id, keys, (size_t)n, sizeof(*keys), cmp_str);
        size_t times = 0;
        if (hit) {
            size_t at = (size_t)(hit - keys), lo = at, hi = at + 1;
            while (lo > 0 && !strcmp(keys[lo - 1], id))
                lo--;
            while (hi < (size_t)n && !strcmp(keys[hi], id))
                hi++;
            times = hi - lo;
        }
        if (times != 1 && missing++ < 5)
            fprintf(stderr, "load: event %s acknowledged, stored %zu times\n", id, times);
    }
    for (long i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return missing;
}
