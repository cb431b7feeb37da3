/* ih_bench_sqlitewriter: the SQLite writer's side alone (src/store/sqlite/writer.c and the jobs
 * it runs), without HTTP: batches handed straight to the backend's writer_run, so that every
 * batch holds exactly the jobs asked for. Per stored row: this thread's CPU time (user and
 * system), the bytes it wrote (the WAL's frames; /proc/thread-self/io) and the reads it made
 * (pages SQLite's cache did not hold). Not a test.
 *
 *   ih_bench_sqlitewriter events ROWS BATCH [sequential|random]
 *       new amiko.event records, BATCH jobs a commit; eventIds counted up as tests/bench/events.lua
 *       makes them (sequential) or random version-4 UUIDs (random, as Amiko sends them)
 *   ih_bench_sqlitewriter cards ROWS ITEMS [PANS [same|rising]]
 *       card-activity batches of ITEMS items (one job a commit), each item a record and its
 *       tokens; PANS distinct card numbers (default 1); occurredAt the same for every item
 *       (same, as tests/bench/cards.lua sends by default) or 1 ms later for each (rising)
 *
 * The database is a fresh file in $TMPDIR (removed at the end); ROWS rows are stored first
 * as a warm-up when IH_BENCH_PREFILL=N asks for N rows of the same kind before the timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "issuerhook/cards.h"
#include "issuerhook/crypto.h"
#include "issuerhook/events.h"

#define EVENT_PAYLOAD                                                                                               \
    "{\"event\":{\"cardId\":\"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048\",\"cardholderId\":\"2bd52a45-129d-4723-9143-"    \
    "e1c5b5ed34e7\",\"caseId\":\"%llu\",\"caseType\":\"fraud\",\"createdVia\":\"cardholder_self_service\",\"type\":" \
    "\"case_created\"},\"header\":{\"eventId\":\"%s\",\"generatedAt\":1700000000000,\"version\":\"2026.1.0\"}}"
#define CARD_PAYLOAD                                                                                                \
    "{\"activityType\":\"declined\",\"amount\":{\"currency\":\"USD\",\"value\":\"5555.55\"},\"cardId\":"            \
    "\"ca0sf8ds0af\",\"customerId\":\"c%llu\",\"institutionId\":\"TIBURON\",\"location\":\"onlineMerchant\","      \
    "\"merchant\":{\"address\":{\"countryCode\":\"US\",\"regionCode\":\"WA\"},\"category\":\"shopping.other\","    \
    "\"name\":\"Amazon\"},\"occurredAt\":\"%s\",\"pan\":\"424242******%04llu\",\"reason\":\"The per transaction "  \
    "limit was surpassed\",\"reasonCode\":\"transactionLimitSurpassed\"}"

struct counters {
    double user_s, sys_s;
    unsigned long long wchar, syscr, syscw;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sample(struct counters *c)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    c->user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    c->sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    FILE *f = fopen("/proc/thread-self/io", "r");
    char line[128];
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long long v;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        v = strtoull(colon + 1, NULL, 10);
        if (strncmp(line, "wchar:", 6) == 0)
            c->wchar = v;
        else if (strncmp(line, "syscr:", 6) == 0)
            c->syscr = v;
        else if (strncmp(line, "syscw:", 6) == 0)
            c->syscw = v;
    }
    if (f)
        fclose(f);
}

static void done_nothing(struct writer_job *j, ih_status rc)
{
    (void)j;
    (void)rc;
}

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;
static unsigned long long rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void event_key(char key[EVENTS_KEY_MAX + 1], unsigned long long n, bool random)
{
    if (random)
        snprintf(key, EVENTS_KEY_MAX + 1, "%08llx-%04llx-4%03llx-8%03llx-%012llx", rng() & 0xffffffffULL,
                 rng() & 0xffffULL, rng() & 0xfffULL, rng() & 0xfffULL, rng() & 0xffffffffffffULL);
    else
        snprintf(key, EVENTS_KEY_MAX + 1, "5f3a9c21-0001-4abc-8def-0000%08llx", n);
}

static void fill_event(struct store_event *ev, const char *source, const char *key, const char *payload, int64_t occ)
{
    memset(ev, 0, sizeof(*ev));
    ev->job.kind = WRITER_JOB_EVENT;
    ev->job.done = done_nothing;
    ev->source = source;
    snprintf(ev->key, sizeof(ev->key), "%s", key);
    ev->payload = strdup(payload);
    ev->payload_len = strlen(payload);
    crypto_sha256(ev->payload, ev->payload_len, ev->hash);
    ev->type = strdup("case_created");
    snprintf(ev->tracing_id, sizeof(ev->tracing_id), "bench-%s", key);
    ev->received_ms = 1700000000000LL;
    ev->occurred_ms = occ;
    ev->status = 200;
    ev->response = strdup("{\"status\":\"accepted\"}");
}

/* One batch of n new events; false when a job did not insert. */
static bool run_events(struct store *s, struct backend_writer *bw, unsigned long long *next, size_t n, bool random)
{
    struct store_event *evs = calloc(n, sizeof(*evs));
    char key[EVENTS_KEY_MAX + 1], payload[600];
    for (size_t i = 0; i < n; i++) {
        event_key(key, *next, random);
        snprintf(payload, sizeof(payload), EVENT_PAYLOAD, *next, key);
        (*next)++;
        fill_event(&evs[i], "amiko.event", key, payload, 1700000000000LL);
        evs[i].job.next = i + 1 < n ? &evs[i + 1].job : NULL;
    }
    struct store_error e;
    bool ok = s->ops->writer_run(bw, &evs[0].job, n, &e) == BATCH_COMMITTED;
    for (size_t i = 0; i < n; i++) {
        ok = ok && evs[i].job.rc == IH_OK && evs[i].outcome == EVENTS_INSERTED;
        events_clear(&evs[i]);
    }
    free(evs);
    return ok;
}

/* One card batch of n items; false when an item was not stored. */
static bool run_cards(struct store *s, struct backend_writer *bw, unsigned long long *next, size_t n,
                      unsigned long long pans, bool rising)
{
    struct card_batch_job b = {.job = {.kind = WRITER_JOB_CARD_BATCH, .done = done_nothing}};
    b.items = calloc(n, sizeof(*b.items));
    b.n = n;
    char payload[900], occurred[32];
    for (size_t i = 0; i < n; i++) {
        struct card_item *it = &b.items[i];
        unsigned long long pan = pans > 1 ? rng() % pans : 0;
        int64_t occ = 1727769362375LL + (rising ? (int64_t)*next : 0);
        time_t secs = (time_t)(occ / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        size_t k = strftime(occurred, sizeof(occurred), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(occurred + k, sizeof(occurred) - k, ".%03dZ", (int)(occ % 1000));
        snprintf(payload, sizeof(payload), CARD_PAYLOAD, *next, occurred, pan % 10000);
        (*next)++;
        unsigned char h[CRYPTO_SHA256_LEN];
        crypto_sha256(payload, strlen(payload), h);
        char key[CARDS_KEY_MAX + 1];
        cards_item_key(occ, h, key);
        fill_event(&it->ev, "apiture.card_activity", key, payload, occ);
        memcpy(it->ev.hash, h, sizeof(h));
        char tok[64];
        snprintf(tok, sizeof(tok), "pan-%llu", pan);
        crypto_sha256(tok, strlen(tok), h);
        crypto_hex(h, sizeof(h), it->pan.token);
        snprintf(it->pan.lead, sizeof(it->pan.lead), "424242");
        snprintf(it->pan.last4, sizeof(it->pan.last4), "%04llu", pan % 10000);
        snprintf(it->pan.key_id, sizeof(it->pan.key_id), "bench");
    }
    struct store_error e;
    bool ok = s->ops->writer_run(bw, &b.job, 1, &e) == BATCH_COMMITTED && b.job.rc == IH_OK && b.inserted == n;
    card_batch_clear(&b);
    return ok;
}

struct plan {
    bool cards, random, rising;
    unsigned long long rows, per, pans;
};

static bool fill(struct store *s, struct backend_writer *bw, const struct plan *p, unsigned long long rows,
                 unsigned long long *next, unsigned long long *batches)
{
    for (unsigned long long done = 0; done < rows; done += p->per, (*batches)++) {
        bool ok = p->cards ? run_cards(s, bw, next, p->per, p->pans, p->rising) : run_events(s, bw, next, p->per, p->random);
        if (!ok) {
            fprintf(stderr, "ih_bench_sqlitewriter: a batch was not stored\n");
            return false;
        }
    }
    return true;
}

static int usage(void)
{
    fprintf(stderr, "usage: ih_bench_sqlitewriter events ROWS BATCH [sequential|random]\n"
                    "       ih_bench_sqlitewriter cards ROWS ITEMS [PANS [same|rising]]\n");
    return 2;
}

static bool parse_plan(int argc, char **argv, struct plan *p)
{
    if (argc < 4)
        return false;
    p->cards = strcmp(argv[1], "cards") == 0;
    if (!p->cards && strcmp(argv[1], "events") != 0)
        return false;
    p->rows = strtoull(argv[2], NULL, 10);
    p->per = strtoull(argv[3], NULL, 10);
    p->pans = 1;
    if (p->cards) {
        if (argc > 4)
            p->pans = strtoull(argv[4], NULL, 10);
        p->rising = argc > 5 && strcmp(argv[5], "rising") == 0;
    } else {
        p->random = argc > 4 && strcmp(argv[4], "random") == 0;
    }
    return p->rows > 0 && p->per > 0 && p->per <= 1000 && p->pans > 0;
}

int main(int argc, char **argv)
{
    struct plan p;
    if (!parse_plan(argc, argv, &p))
        return usage();
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], path[600], cmd[700];
    snprintf(dir, sizeof(dir), "%s/ih-sqlitewriter.XXXXXX", tmp);
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/bench.db", dir);
    struct store_options opt = {.busy_timeout_ms = 5000};
    struct store *s = NULL;
    char err[256];
    struct backend_writer *bw = NULL;
    int rc = 1;
    if (store_open(path, &opt, &s, err, sizeof(err)) != IH_OK || s->ops->writer_attach(s, &bw) != IH_OK) {
        fprintf(stderr, "ih_bench_sqlitewriter: %s\n", err);
        goto done;
    }
    unsigned long long next = 0, batches = 0, prefill = getenv("IH_BENCH_PREFILL") ?
                                                             strtoull(getenv("IH_BENCH_PREFILL"), NULL, 10) : 0;
    if (!fill(s, bw, &p, prefill, &next, &batches))
        goto done;
    struct counters a, b;
    batches = 0;
    sample(&a);
    double t0 = now_s();
    if (!fill(s, bw, &p, p.rows, &next, &batches))
        goto done;
    double t1 = now_s();
    sample(&b);
    double rows = (double)(batches * p.per);
    printf("%s: %.0f rows after %llu, %llu commits of %llu%s%s; %.1f s\n", p.cards ? "cards" : "events", rows,
           prefill, batches, p.per, p.cards ? " items" : " jobs",
           p.cards ? (p.rising ? ", occurredAt rising" : ", occurredAt the same") : (p.random ? ", random ids" : ", sequential ids"),
           t1 - t0);
    if (p.cards)
        printf("pans: %llu\n", p.pans);
    printf("cpu per row:      %.2f us (user %.2f, sys %.2f)\n", (b.user_s + b.sys_s - a.user_s - a.sys_s) * 1e6 / rows,
           (b.user_s - a.user_s) * 1e6 / rows, (b.sys_s - a.sys_s) * 1e6 / rows);
    printf("wall per row:     %.2f us\n", (t1 - t0) * 1e6 / rows);
    printf("written per row:  %.0f bytes (%.2f WAL frames; %.1f a commit)\n", (double)(b.wchar - a.wchar) / rows,
           (double)(b.wchar - a.wchar) / rows / 4120.0, (double)(b.wchar - a.wchar) / (double)batches / 4120.0);
    printf("reads per row:    %.3f\n", (double)(b.syscr - a.syscr) / rows);
    printf("writes per row:   %.3f\n", (double)(b.syscw - a.syscw) / rows);
    rc = 0;
done:
    if (bw)
        s->ops->writer_detach(bw);
    store_close(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "ih_bench_sqlitewriter: could not remove %s\n", dir);
    return rc;
}
