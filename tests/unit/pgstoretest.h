/* Shared helpers of the PostgreSQL store's tests (test_pgstore.c, test_pgjobs.c,
 * test_pgreads.c): a store opened through store_open on a throwaway database (and, to
 * compare with, an SQLite store in a temporary folder), jobs filled as the API modules
 * fill them, and a whole list of jobs run through the shared writer at once. Header-only,
 * static inline, after pgtestutil.h. */
#ifndef ISSUERHOOK_PGSTORETEST_H
#define ISSUERHOOK_PGSTORETEST_H

#include <pthread.h>
#include <sys/stat.h>

#include "issuerhook/bookings.h"
#include "issuerhook/cards.h"
#include "issuerhook/events.h"
#include "issuerhook/feed.h"
#include "issuerhook/log.h"
#include "issuerhook/migrate.h"
#include "issuerhook/outbox.h"
#include "issuerhook/store.h"
#include "issuerhook/writer.h"
#include "pgtestutil.h"

#define PST_N(a) (sizeof(a) / sizeof((a)[0]))

/* A store on t's database, opened as the daemon opens it (password file, busy timeout). */
static inline struct store *pst_open(const struct pgt *t, bool read_only)
{
    struct store_options o = {.busy_timeout_ms = 2000, .password_file = t->pg.password_file, .read_only = read_only};
    struct store *s = NULL;
    char err[640] = "";
    if (store_open(t->pg.conninfo, &o, &s, err, sizeof(err)) != IH_OK)
        print_error("store_open %s: %s\n", t->pg.conninfo, err);
    assert_non_null(s);
    return s;
}

/* An SQLite store in a new folder under /tmp (its path into dir, 64 bytes). */
static inline struct store *pst_open_sqlite(char dir[64])
{
    snprintf(dir, 64, "/tmp/ihpgst.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[128], err[640];
    snprintf(path, sizeof(path), "%s/ih.db", dir);
    struct store_options o = {.busy_timeout_ms = 2000};
    struct store *s = NULL;
    assert_int_equal(store_open(path, &o, &s, err, sizeof(err)), IH_OK);
    return s;
}

static inline void pst_rmdir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- running jobs ---- */

struct pst_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t done;
};
static struct pst_wait PST_W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static inline void pst_on_done(struct writer_job *job, ih_status rc)
{
    job->rc = rc; /* the writer no longer touches it: the test reads it back */
    pthread_mutex_lock(&PST_W.lock);
    PST_W.done++;
    pthread_cond_broadcast(&PST_W.cond);
    pthread_mutex_unlock(&PST_W.lock);
}

/* Submits jobs[0..n) at once to w and waits until each is done; their rc in jobs[i]->rc. */
static inline void pst_run_on(struct writer *w, struct writer_job *const *jobs, size_t n)
{
    pthread_mutex_lock(&PST_W.lock);
    size_t want = PST_W.done + n;
    pthread_mutex_unlock(&PST_W.lock);
    for (size_t i = 0; i < n; i++) {
        jobs[i]->done = pst_on_done;
        writer_submit(w, jobs[i]);
    }
    pthread_mutex_lock(&PST_W.lock);
    while (PST_W.done < want)
        pthread_cond_wait(&PST_W.cond, &PST_W.lock);
    pthread_mutex_unlock(&PST_W.lock);
}

/* The same with a writer of its own. */
static inline void pst_run(struct store *s, struct writer_job *const *jobs, size_t n)
{
    struct writer_options wo = {.batch_max = 1024, .queue_max = 100000};
    struct writer *w = NULL;
    assert_int_equal(writer_start(s, &wo, &w), IH_OK);
    pst_run_on(w, jobs, n);
    writer_free(w);
}

static inline void pst_run1(struct store *s, struct writer_job *job)
{
    pst_run(s, &job, 1);
}

/* ---- jobs, filled as the API modules fill them ---- */

static inline void pst_event(struct store_event *ev, const char *source, const char *key, const char *payload)
{
    memset(ev, 0, sizeof(*ev));
    ev->job.kind = WRITER_JOB_EVENT;
    ev->source = source;
    snprintf(ev->key, sizeof(ev->key), "%s", key);
    ev->payload = strdup(payload);
    ev->payload_len = strlen(payload);
    crypto_sha256(ev->payload, ev->payload_len, ev->hash);
    ev->type = strdup("case_created");
    snprintf(ev->tracing_id, sizeof(ev->tracing_id), "tr-%s", key);
    ev->received_ms = 1700000000000;
    ev->occurred_ms = -1;
    ev->status = 200;
    char resp[160];
    snprintf(resp, sizeof(resp), "{\"answer\":\"%s\"}", key);
    ev->response = strdup(resp);
}

/* A domain event of entity (type, id) with serial. */
static inline void pst_domain(struct store_event *ev, const char *key, const char *entity, long long serial)
{
    char payload[160];
    snprintf(payload, sizeof(payload), "{\"entity\":\"%s\",\"serial\":%lld,\"key\":\"%s\"}", entity, serial, key);
    pst_event(ev, "amiko.domain_event", key, payload);
    ev->has_serial = true;
    ev->entity_type = strdup("case");
    ev->entity_id = strdup(entity);
    ev->serial = serial;
}

static inline void pst_booking(struct booking_request_job *b, const char *id, const char *payload)
{
    memset(b, 0, sizeof(*b));
    pst_event(&b->ev, "amiko.booking", id, payload);
    b->ev.job.kind = WRITER_JOB_BOOKING_REQUEST;
}

/* A result for booking id: completed (issuer id) or failed (reason, code). */
static inline void pst_result(struct booking_result_job *r, const char *id, bool completed, const char *payload)
{
    memset(r, 0, sizeof(*r));
    pst_event(&r->rec, "amiko.booking_result", id, payload);
    r->job.kind = WRITER_JOB_BOOKING_RESULT;
    r->status = completed ? BOOKING_COMPLETED : BOOKING_FAILED;
    if (completed) {
        r->issuer_booking_id = strdup("BK-1");
    } else {
        r->failure_reason = strdup("insufficient funds");
        r->failure_code = strdup("NSF");
    }
    char body[120];
    snprintf(body, sizeof(body), "{\"amikoBookingId\":\"%s\"}", id);
    r->callback_body = strdup(body);
}

/* A card batch of n items (keys k<first>..), under Idempotency-Key idem (NULL: none). */
static inline void pst_cards(struct card_batch_job *b, int first, size_t n, const char *idem)
{
    memset(b, 0, sizeof(*b));
    b->job.kind = WRITER_JOB_CARD_BATCH;
    b->items = calloc(n, sizeof(*b->items));
    assert_non_null(b->items);
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        struct card_item *it = &b->items[i];
        char key[32], payload[96];
        snprintf(key, sizeof(key), "card-%d", first + (int)i);
        snprintf(payload, sizeof(payload), "{\"pan\":\"4242********4242\",\"n\":%d}", first + (int)i);
        pst_event(&it->ev, "apiture.card_activity", key, payload);
        free(it->ev.response);
        it->ev.response = strdup("");
        snprintf(it->pan.token, sizeof(it->pan.token), "%064d", first + (int)i);
        snprintf(it->pan.lead, sizeof(it->pan.lead), "4242");
        snprintf(it->pan.last4, sizeof(it->pan.last4), "4242");
        snprintf(it->pan.key_id, sizeof(it->pan.key_id), "key1");
        it->has_tax_id = i % 2 == 0;
        snprintf(it->tax_id_token, sizeof(it->tax_id_token), "%064d", 7);
    }
    b->has_idem = idem != NULL;
    snprintf(b->idem_scope, sizeof(b->idem_scope), "POST /card-activities caller");
    snprintf(b->idem_key, sizeof(b->idem_key), "%s", idem ? idem : "");
    crypto_sha256(b->items[0].ev.key, strlen(b->items[0].ev.key), b->request_hash);
    b->request_hash[0] ^= (unsigned char)n; /* another batch, another request */
    b->status = 200;
    b->response = strdup("");
}

/* The outbox row of a booking (the last one), by SQL on raw session db. */
static inline long long pst_outbox_id(PGconn *db, const char *booking)
{
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(id), -1) FROM outbox WHERE amiko_booking_id = '%s'", booking);
    return pgt_num(db, sql);
}

#endif
