#include "issuerhook/callback.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "issuerhook/crypto.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/outbox.h"

#define MAX_CONCURRENCY 64
#define IDLE_POLL_MS 1000
#define RESPONSE_MAX 4096
#define LEASE_MARGIN_MIN_MS 5000

/* One delivery under way, and after it, the writer job that records its outcome. */
struct transfer {
    struct outbox_mark_job mark; /* first: the writer job */
    struct callback *cb;
    struct outbox_item item;
    CURL *easy;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    size_t slot;
};

struct callback {
    struct store *store;
    struct writer *writer;
    struct callback_options opt;
    CURLM *multi;
    pthread_t thread;
    atomic_bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t idle;           /* signalled when a slot is freed */
    int64_t busy[MAX_CONCURRENCY]; /* outbox ids being sent or being marked; 0: free; guarded by lock */
    size_t nbusy;                  /* guarded by lock */
    struct transfer *sending[MAX_CONCURRENCY]; /* in the multi handle; dispatcher thread only */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned callback_backoff_ms(const struct callback_options *o, unsigned attempts, double rnd)
{
    double d = o->backoff_ms;
    for (unsigned i = 1; i < attempts && d < o->backoff_max_ms; i++)
        d *= 2;
    if (d > o->backoff_max_ms)
        d = o->backoff_max_ms;
    return (unsigned)(d / 2 + rnd * d / 2);
}

static double random_unit(void)
{
    uint32_t r = 0;
    if (crypto_random(&r, sizeof(r)) != IH_OK)
        r = (uint32_t)wall_ms();
    return (double)r / 4294967296.0;
}

static size_t discard_body(char *p, size_t s, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return s * n; /* Amiko's answer body is not needed, only its status */
}

/* url_template with {amikoBookingId} replaced (the id is a checked UUID). */
static char *make_url(const char *tmpl, const char *id)
{
    const char *ph = "{amikoBookingId}";
    const char *at = strstr(tmpl, ph);
    char *url = NULL;
    if (!at)
        return strdup(tmpl);
    if (asprintf(&url, "%.*s%s%s", (int)(at - tmpl), tmpl, id, at + strlen(ph)) < 0)
        return NULL;
    return url;
}

/* Frees a slot. The last thing done with cb: callback_stop may free it right after. */
static void release_slot(struct callback *cb, size_t slot)
{
    pthread_mutex_lock(&cb->lock);
    cb->busy[slot] = 0;
    cb->nbusy--;
    pthread_cond_broadcast(&cb->idle);
    pthread_mutex_unlock(&cb->lock);
}

static void transfer_free(struct transfer *t)
{
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    outbox_item_clear(&t->item);
    free(t);
}

/* The mark is committed (or failed: the row stays pending and is tried again). */
static void on_marked(struct writer_job *job, ih_status rc)
{
    struct transfer *t = (struct transfer *)job;
    struct callback *cb = t->cb;
    if (rc != IH_OK)
        log_msg(LOG_WARN, "could not record a callback attempt; it will be made again", "amiko_booking_id",
                t->item.booking_id, "reason", ih_status_str(rc), NULL);
    size_t slot = t->slot;
    transfer_free(t);
    curl_multi_wakeup(cb->multi);
    release_slot(cb, slot);
}

static bool start_transfer(struct callback *cb, struct outbox_item *it, size_t slot)
{
    struct transfer *t = calloc(1, sizeof(*t));
    char *url = t ? make_url(cb->opt.url_template, it->booking_id) : NULL;
    char tracing[160];
    if (!url) {
        free(t);
        return false;
    }
    t->cb = cb;
    t->item = *it;
    it->body = NULL; /* the transfer owns it now */
    t->slot = slot;
    t->easy = curl_easy_init();
    snprintf(tracing, sizeof(tracing), "tracing-id: %s", t->item.tracing_id);
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    t->headers = curl_slist_append(t->headers, tracing);
    if (cb->opt.auth_header[0])
        t->headers = curl_slist_append(t->headers, cb->opt.auth_header);
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->item.body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cb->opt.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cb->opt.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    if (cb->opt.ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, cb->opt.ca_file);
    free(url); /* libcurl copies the URL */
    if (!t->easy || curl_multi_add_handle(cb->multi, e) != CURLM_OK) {
        transfer_free(t);
        return false;
    }
    cb->sending[slot] = t;
    return true;
}

/* How long a claimed row stays this node's on a shared store: the attempt's timeout, then
 * as long again (at least 5 s) for its outcome to be committed through the writer. A node
 * that dies holding it leaves it to another node after that. */
static unsigned lease_ms(const struct callback_options *o)
{
    unsigned margin = o->timeout_ms > LEASE_MARGIN_MIN_MS ? o->timeout_ms : LEASE_MARGIN_MIN_MS;
    return o->timeout_ms + margin;
}

/* Claims due rows while there is room. */
static void fill(struct callback *cb)
{
    struct outbox_item items[MAX_CONCURRENCY];
    int64_t skip[MAX_CONCURRENCY];
    size_t nskip = 0, room, n = 0;
    pthread_mutex_lock(&cb->lock);
    room = cb->opt.concurrency - cb->nbusy;
    for (size_t i = 0; i < MAX_CONCURRENCY; i++)
        if (cb->busy[i])
            skip[nskip++] = cb->busy[i];
    pthread_mutex_unlock(&cb->lock);
    if (room == 0 || outbox_claim(cb->store, wall_ms(), lease_ms(&cb->opt), skip, nskip, items, room, &n) != IH_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        size_t slot = 0;
        pthread_mutex_lock(&cb->lock);
        while (slot < MAX_CONCURRENCY && cb->busy[slot])
            slot++;
        cb->busy[slot] = items[i].id;
        cb->nbusy++;
        pthread_mutex_unlock(&cb->lock);
        if (!start_transfer(cb, &items[i], slot)) {
            release_slot(cb, slot);
            outbox_item_clear(&items[i]);
        }
    }
}

static void finished(struct callback *cb, CURLMsg *msg)
{
    struct transfer *t;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    curl_multi_remove_handle(cb->multi, msg->easy_handle);
    cb->sending[t->slot] = NULL;
    long status = 0;
    if (msg->data.result == CURLE_OK)
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    unsigned attempts = (unsigned)t->item.attempts + 1;
    struct outbox_mark_job *m = &t->mark;
    m->job.kind = WRITER_JOB_OUTBOX_MARK;
    m->job.done = on_marked;
    m->id = t->item.id;
    m->at_ms = wall_ms();
    m->http_status = status;
    if (msg->data.result != CURLE_OK)
        snprintf(m->error, sizeof(m->error), "%.199s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(msg->data.result));
    else if (status < 200 || status > 299)
        snprintf(m->error, sizeof(m->error), "answered HTTP %ld", status);
    char att[16];
    snprintf(att, sizeof(att), "%u", attempts);
    if (status >= 200 && status <= 299) {
        m->what = OUTBOX_DELIVERED;
        metrics_inc(M_CALLBACKS, "delivered");
        log_msg(LOG_INFO, "booking status callback delivered", "tracing_id", t->item.tracing_id,
                "amiko_booking_id", t->item.booking_id, "attempts", att, NULL);
    } else if (attempts >= t->cb->opt.max_attempts) {
        m->what = OUTBOX_DEAD;
        metrics_inc(M_CALLBACKS, "dead");
        log_msg(LOG_ERROR, "booking status callback given up: parked as dead", "tracing_id", t->item.tracing_id,
                "amiko_booking_id", t->item.booking_id, "attempts", att, "reason", m->error, NULL);
    } else {
        m->what = OUTBOX_RETRY;
        m->next_at_ms = m->at_ms + callback_backoff_ms(&t->cb->opt, attempts, random_unit());
        metrics_inc(M_CALLBACKS, "retry");
        log_msg(LOG_WARN, "booking status callback failed; will retry", "tracing_id", t->item.tracing_id,
                "amiko_booking_id", t->item.booking_id, "attempts", att, "reason", m->error, NULL);
    }
    writer_submit(cb->writer, &m->job); /* on_marked frees t */
}

/* How long to sleep: until the next row is due, at most IDLE_POLL_MS. */
static int wait_ms(struct callback *cb)
{
    struct outbox_stats s;
    if (outbox_stats(cb->store, &s) != IH_OK || s.next_due < 0)
        return IDLE_POLL_MS;
    int64_t d = s.next_due - wall_ms();
    return d <= 0 ? 10 : d > IDLE_POLL_MS ? IDLE_POLL_MS : (int)d;
}

static void *dispatcher(void *arg)
{
    struct callback *cb = arg;
    while (!atomic_load(&cb->stopping)) {
        fill(cb);
        int running = 0;
        curl_multi_perform(cb->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(cb->multi, &left)))
            if (msg->msg == CURLMSG_DONE)
                finished(cb, msg);
        curl_multi_poll(cb->multi, NULL, 0, running ? 100 : wait_ms(cb), NULL);
    }
    return NULL;
}

ih_status callback_start(struct store *s, struct writer *w, const struct callback_options *o, struct callback **out)
{
    struct callback *cb = calloc(1, sizeof(*cb));
    if (!cb)
        return IH_ENOMEM;
    cb->store = s;
    cb->writer = w;
    cb->opt = *o;
    if (cb->opt.concurrency == 0 || cb->opt.concurrency > MAX_CONCURRENCY)
        cb->opt.concurrency = MAX_CONCURRENCY;
    pthread_mutex_init(&cb->lock, NULL);
    pthread_cond_init(&cb->idle, NULL);
    cb->multi = curl_multi_init();
    if (!cb->multi || pthread_create(&cb->thread, NULL, dispatcher, cb) != 0) {
        if (cb->multi)
            curl_multi_cleanup(cb->multi);
        pthread_cond_destroy(&cb->idle);
        pthread_mutex_destroy(&cb->lock);
        free(cb);
        return IH_ENOMEM;
    }
    *out = cb;
    return IH_OK;
}

void callback_notify(struct callback *cb)
{
    if (cb)
        curl_multi_wakeup(cb->multi);
}

void callback_stop(struct callback *cb)
{
    if (!cb)
        return;
    atomic_store(&cb->stopping, true);
    curl_multi_wakeup(cb->multi);
    pthread_join(cb->thread, NULL);
    /* transfers still under way are abandoned: their rows stay pending for next time */
    for (size_t i = 0; i < MAX_CONCURRENCY; i++) {
        struct transfer *t = cb->sending[i];
        if (!t)
            continue;
        curl_multi_remove_handle(cb->multi, t->easy);
        transfer_free(t);
        release_slot(cb, i);
    }
    /* outcomes already handed to the writer are recorded before cb goes away */
    pthread_mutex_lock(&cb->lock);
    while (cb->nbusy > 0)
        pthread_cond_wait(&cb->idle, &cb->lock);
    pthread_mutex_unlock(&cb->lock);
    curl_multi_cleanup(cb->multi);
    pthread_cond_destroy(&cb->idle);
    pthread_mutex_destroy(&cb->lock);
    free(cb);
}
