#include "issuerhook/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/version.h"

#define SLOTS 24
#define ROUTES 24
#define NBUCKETS 12

struct slot {
    _Atomic(const char *) label;
    atomic_ullong value;
};

static const struct {
    const char *name, *help, *label;
} counter_info[M_COUNTER_COUNT] = {
    [M_RECORDS_STORED] = {"issuerhook_records_stored_total", "Records committed to the store.", "source"},
    [M_DUPLICATES] = {"issuerhook_duplicates_total", "Replays of an already stored record (same key, same payload).", "source"},
    [M_CONFLICTS] = {"issuerhook_conflicts_total", "Same idempotency key with a different payload (409).", "source"},
    [M_UNKNOWN_TYPES] = {"issuerhook_unknown_event_types_total", "Events of a type this version does not know, stored as received.", "source"},
    [M_VALIDATION_FAILURES] = {"issuerhook_validation_failures_total", "Requests refused for a malformed body or invalid fields.", "route"},
    [M_SERIAL_ANOMALIES] = {"issuerhook_domain_serial_anomalies_total", "Domain events whose serial was not the next one for their entity.", "kind"},
    [M_STORE_ERRORS] = {"issuerhook_store_errors_total", "Writes refused with 503 because the store could not take them.", "kind"},
    [M_AUTH_FAILURES] = {"issuerhook_auth_failures_total", "Requests refused with 401 or 403.", "reason"},
    [M_RATE_LIMITED] = {"issuerhook_rate_limited_total", "Requests refused with 429: over the caller's rate.", "route"},
    [M_CARD_NUMBERS_MASKED] = {"issuerhook_card_numbers_masked_total", "Card numbers found in received strings and masked before storing.", "route"},
    [M_STORE_ROUND_TRIPS] = {"issuerhook_store_round_trips_total", "Network round trips the writer's batches took to the database server (PostgreSQL: one per batch, two when a batch ran again one job per transaction).", "backend"},
    [M_CALLBACKS] = {"issuerhook_callback_attempts_total", "Booking status callback attempts to Amiko, by outcome.", "outcome"},
    [M_FEED_REFUSED] = {"issuerhook_feed_reads_refused_total", "Feed pages refused with 503 (busy: over ISSUERHOOK_FEED_READS; store: cannot be read) or cut off while sent (aborted).", "reason"},
    [M_CHECKPOINTS] = {"issuerhook_wal_checkpoints_total", "Background WAL checkpoints by mode (passive, truncate, catchup: the writer held back), and failed ones.", "mode"},
    [M_CONN_REFUSED] = {"issuerhook_connections_refused_total", "Connections closed as soon as accepted: over the per-address limit, or the reserved slots.", "reason"},
    [M_CONN_TIMED_OUT] = {"issuerhook_connections_timed_out_total", "Connections closed because the headers or the body came too slowly.", "phase"},
    [M_MALFORMED] = {"issuerhook_malformed_requests_total", "Requests refused with 400 for their framing (request line, header fields), before routing.", "reason"},
    [M_LOG_SUPPRESSED] = {"issuerhook_log_lines_suppressed_total", "Log lines of repeated events counted instead of written (each window has a summary line).", "kind"},
    [M_LOG_DROPPED] = {"issuerhook_log_lines_dropped_total", "Log lines dropped because the log target took them too slowly (buffer_full) or failed (write_failed).", "reason"},
};

static struct slot counters[M_COUNTER_COUNT][SLOTS];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

/* Buckets suited to a webhook: 1 ms ... 5 s. */
static const double buckets[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25, 0.5, 1, 2.5, 5};
static const double batch_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define NBATCH (sizeof(batch_buckets) / sizeof(batch_buckets[0]))

struct route_stats {
    _Atomic(const char *) route;
    atomic_ullong status[500]; /* 100..599 */
    atomic_ullong bucket[NBUCKETS];
    atomic_ullong count;
    _Atomic double sum;
};
static struct route_stats routes[ROUTES];

static atomic_ullong batch_bucket[NBATCH], batch_count, batch_jobs;
static _Atomic double batch_seconds;

struct gauge {
    const char *name, *help;
    metrics_gauge_fn fn;
    void *arg;
};
static struct gauge gauges[16];
static size_t ngauges;

/* The slot for a static label: found without a lock, added under one. */
static struct slot *find_slot(struct slot *tab, const char *lv)
{
    for (size_t i = 0; i < SLOTS; i++) {
        const char *l = atomic_load(&tab[i].label);
        if (!l)
            break;
        if (l == lv || strcmp(l, lv) == 0)
            return &tab[i];
    }
    pthread_mutex_lock(&reg_lock);
    struct slot *s = NULL;
    for (size_t i = 0; i < SLOTS && !s; i++) {
        const char *l = atomic_load(&tab[i].label);
        if (!l) {
            atomic_store(&tab[i].label, lv);
            s = &tab[i];
        } else if (l == lv || strcmp(l, lv) == 0) {
            s = &tab[i];
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return s; /* NULL only when a family has more than SLOTS label values: a bug */
}

void metrics_inc(enum metric_counter m, const char *lv)
{
    struct slot *s = find_slot(counters[m], lv);
    if (s)
        atomic_fetch_add(&s->value, 1);
}

unsigned long long metrics_get(enum metric_counter m, const char *lv)
{
    for (size_t i = 0; i < SLOTS; i++) {
        const char *l = atomic_load(&counters[m][i].label);
        if (!l)
            break;
        if (strcmp(l, lv) == 0)
            return atomic_load(&counters[m][i].value);
    }
    return 0;
}

static void add_double(_Atomic double *d, double v)
{
    double old = atomic_load(d);
    while (!atomic_compare_exchange_weak(d, &old, old + v))
        ;
}

static struct route_stats *route_slot(const char *route)
{
    for (size_t i = 0; i < ROUTES; i++) {
        const char *r = atomic_load(&routes[i].route);
        if (!r)
            break;
        if (r == route || strcmp(r, route) == 0)
            return &routes[i];
    }
    pthread_mutex_lock(&reg_lock);
    struct route_stats *s = NULL;
    for (size_t i = 0; i < ROUTES && !s; i++) {
        const char *r = atomic_load(&routes[i].route);
        if (!r) {
            atomic_store(&routes[i].route, route);
            s = &routes[i];
        } else if (r == route || strcmp(r, route) == 0) {
            s = &routes[i];
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return s;
}

void metrics_request(const char *route, unsigned status, double seconds)
{
    struct route_stats *s = route_slot(route);
    if (!s)
        return;
    if (status >= 100 && status < 600)
        atomic_fetch_add(&s->status[status - 100], 1);
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= buckets[i])
            atomic_fetch_add(&s->bucket[i], 1);
    atomic_fetch_add(&s->count, 1);
    add_double(&s->sum, seconds);
}

void metrics_batch(size_t n, double seconds)
{
    for (size_t i = 0; i < NBATCH; i++)
        if ((double)n <= batch_buckets[i])
            atomic_fetch_add(&batch_bucket[i], 1);
    atomic_fetch_add(&batch_count, 1);
    atomic_fetch_add(&batch_jobs, n);
    add_double(&batch_seconds, seconds);
}

void metrics_set_gauge(const char *name, const char *help, metrics_gauge_fn fn, void *arg)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < ngauges; i++) {
        if (strcmp(gauges[i].name, name) == 0) {
            gauges[i].fn = fn;
            gauges[i].arg = arg;
            pthread_mutex_unlock(&reg_lock);
            return;
        }
    }
    if (ngauges < sizeof(gauges) / sizeof(gauges[0]))
        gauges[ngauges++] = (struct gauge){name, help, fn, arg};
    pthread_mutex_unlock(&reg_lock);
}

/* A growable text buffer with a ceiling. */
struct out {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t ncap = o->cap * 2 + (size_t)n;
        if (ncap > (8u << 20)) {
            o->failed = true;
            return;
        }
        char *nb = realloc(o->buf, ncap);
        if (!nb) {
            o->failed = true;
            return;
        }
        o->buf = nb;
        o->cap = ncap;
    }
}

ih_status metrics_render(char **out, size_t *len)
{
    struct out o = {.buf = malloc(16384), .cap = 16384};
    if (!o.buf)
        return IH_ENOMEM;
    outf(&o, "# HELP issuerhook_http_requests_total HTTP requests answered, by route pattern and status.\n"
             "# TYPE issuerhook_http_requests_total counter\n");
    for (size_t i = 0; i < ROUTES; i++) {
        const char *r = atomic_load(&routes[i].route);
        if (!r)
            break;
        for (unsigned s = 0; s < 500; s++) {
            unsigned long long v = atomic_load(&routes[i].status[s]);
            if (v)
                outf(&o, "issuerhook_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n", r, s + 100, v);
        }
    }
    outf(&o, "# HELP issuerhook_http_request_duration_seconds Time from the request's first byte to its answer.\n"
             "# TYPE issuerhook_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < ROUTES; i++) {
        const char *r = atomic_load(&routes[i].route);
        if (!r)
            break;
        for (size_t b = 0; b < NBUCKETS; b++)
            outf(&o, "issuerhook_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", r,
                 buckets[b], atomic_load(&routes[i].bucket[b]));
        unsigned long long c = atomic_load(&routes[i].count);
        outf(&o, "issuerhook_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", r, c);
        outf(&o, "issuerhook_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", r, atomic_load(&routes[i].sum));
        outf(&o, "issuerhook_http_request_duration_seconds_count{route=\"%s\"} %llu\n", r, c);
    }
    for (int m = 0; m < M_COUNTER_COUNT; m++) {
        outf(&o, "# HELP %s %s\n# TYPE %s counter\n", counter_info[m].name, counter_info[m].help,
             counter_info[m].name);
        for (size_t i = 0; i < SLOTS; i++) {
            const char *l = atomic_load(&counters[m][i].label);
            if (!l)
                break;
            outf(&o, "%s{%s=\"%s\"} %llu\n", counter_info[m].name, counter_info[m].label, l,
                 atomic_load(&counters[m][i].value));
        }
    }
    outf(&o, "# HELP issuerhook_commit_batch_size Jobs committed together in one transaction.\n"
             "# TYPE issuerhook_commit_batch_size histogram\n");
    for (size_t b = 0; b < NBATCH; b++)
        outf(&o, "issuerhook_commit_batch_size_bucket{le=\"%g\"} %llu\n", batch_buckets[b], atomic_load(&batch_bucket[b]));
    outf(&o, "issuerhook_commit_batch_size_bucket{le=\"+Inf\"} %llu\n", atomic_load(&batch_count));
    outf(&o, "issuerhook_commit_batch_size_sum %llu\n", atomic_load(&batch_jobs));
    outf(&o, "issuerhook_commit_batch_size_count %llu\n", atomic_load(&batch_count));
    outf(&o, "# HELP issuerhook_commit_seconds_total Time spent in commit transactions.\n"
             "# TYPE issuerhook_commit_seconds_total counter\nissuerhook_commit_seconds_total %.6f\n",
         atomic_load(&batch_seconds));
    outf(&o, "# HELP issuerhook_build_info The running issuerhookd's version (value always 1).\n"
             "# TYPE issuerhook_build_info gauge\nissuerhook_build_info{version=\"%s\"} 1\n",
         ISSUERHOOK_VERSION);
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < ngauges; i++)
        outf(&o, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", gauges[i].name, gauges[i].help, gauges[i].name,
             gauges[i].name, gauges[i].fn(gauges[i].arg));
    pthread_mutex_unlock(&reg_lock);
    if (o.failed) {
        free(o.buf);
        return IH_ENOMEM;
    }
    *out = o.buf;
    *len = o.len;
    return IH_OK;
}
