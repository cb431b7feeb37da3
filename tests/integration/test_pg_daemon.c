/* The real daemon on PostgreSQL (ISSUERHOOK_DB a conninfo, the password in
 * ISSUERHOOK_DB_PASSWORD_FILE), on a private throwaway cluster (tests/kit/pgtmp.h) that
 * the test stops and starts: every route's happy path, replays and conflicts, the
 * callback delivered once; the password in no log line and not in /health; writes 503
 * with Retry-After while PostgreSQL is stopped, /health naming postgresql:responseTime,
 * then recovery without a restart, also for a daemon started while it was down; nothing
 * acknowledged lost across a crash of the server under load; `migrate` and `backup` on
 * PostgreSQL; a node with another PAN key refusing to start; card item keys upgraded by
 * migration 0008 so that a batch retried across it is still a repeat. The whole suite's run on both backends is the harness's; these
 * are the PostgreSQL store's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pgtmp.h"
#include "receiver.h"

#define SECRET "pg-daemon-key"
#define URI_SECRET "uri-s3cret-never-shown"

static struct pgtmp PG;
static char dir[64], db_env[700], pw_env[300], key_env[300], pan_env[200], url_env[200];
static const char *const H[] = {"Content-Type: application/json", "X-API-Key: " SECRET, "tracing-id: pg-daemon", NULL};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The database's conninfo with a wrong password in it: the password file wins, and the
 * conninfo's must never show. Every daemon has the same PAN key (one key for all nodes). */
static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ihpgd.XXXXXX");
    if (!mkdtemp(dir) || pgtmp_start_private(&PG) != 0)
        return -1;
    char key[128];
    snprintf(key, sizeof(key), "%s/pan.key", dir);
    FILE *f = fopen(key, "w");
    if (!f || fputs("0123456789abcdef0123456789abcdef-a-test-pan-key", f) < 0 || fclose(f) != 0 || chmod(key, 0600) != 0)
        return -1;
    snprintf(pan_env, sizeof(pan_env), "ISSUERHOOK_PAN_KEY_FILE=%s", key);
    snprintf(db_env, sizeof(db_env), "ISSUERHOOK_DB=%s password=" URI_SECRET, PG.conninfo);
    snprintf(pw_env, sizeof(pw_env), "ISSUERHOOK_DB_PASSWORD_FILE=%s", PG.password_file);
    key_line("ALL", SECRET,
             "amiko:events,amiko:bookings,ledger:read,ledger:write,cardAdapter/write,riverty:events,bankingAdmin/read",
             key_env, sizeof(key_env));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pgtmp_stop(&PG);
    char cmd[100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A daemon on the database, its callbacks to rv (may be NULL). */
static void start(struct daemon *d, struct receiver *rv)
{
    size_t i = 0;
    d->extra_env[i++] = db_env;
    d->extra_env[i++] = pw_env;
    d->extra_env[i++] = key_env;
    d->extra_env[i++] = pan_env;
    d->extra_env[i++] = "ISSUERHOOK_PAN_KEY_DEVELOPMENT=false";
    d->extra_env[i++] = "ISSUERHOOK_RETRY_AFTER=2";
    d->extra_env[i++] = "ISSUERHOOK_CALLBACK_TIMEOUT_MS=1000";
    if (rv) {
        snprintf(url_env, sizeof(url_env),
                 "ISSUERHOOK_AMIKO_CALLBACK_URL=http://127.0.0.1:%d/bookings/{amikoBookingId}/status",
                 receiver_port(rv));
        d->extra_env[i++] = url_env;
    }
    d->extra_env[i] = NULL;
    assert_true(daemon_start(d));
}

static long req(const struct daemon *d, const char *method, const char *path, const char *const *h, const char *body,
                json_t **out, char *retry_after)
{
    struct http_resp r;
    if (!http_request(d, method, path, h ? h : H, body, body ? strlen(body) : 0, false, &r))
        return -1;
    if (out)
        *out = json_loads(r.body, 0, NULL);
    if (retry_after)
        snprintf(retry_after, 32, "%s", r.retry_after);
    long st = r.status;
    http_resp_free(&r);
    return st;
}

static long post(const struct daemon *d, const char *path, const char *body, json_t **out)
{
    return req(d, "POST", path, NULL, body, out, NULL);
}

static long get(const struct daemon *d, const char *path, json_t **out)
{
    return req(d, "GET", path, NULL, NULL, out, NULL);
}

static PGconn *raw(void)
{
    char ci[512];
    pgtmp_conninfo(&PG, PG.dbname, true, ci, sizeof(ci));
    PGconn *c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static long long num(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static const char DOMAIN_EVENT[] =
    "{\"header\":{\"eventId\":\"%s\",\"generatedAt\":0,\"entity\":{\"type\":\"case\",\"id\":\"c-1\"},"
    "\"serial\":%d,\"causedBy\":\"agent\",\"agentId\":\"61f925fa-653b-46f0-9117-d03040e9b775\"},"
    "\"event\":{\"event_name\":\"case_created\",\"caseId\":\"1234\",\"cardId\":\"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048\","
    "\"createdVia\":\"cardholder_self_service\",\"bankCaseId\":\"b-1\"}}";
static const char CARDS[] =
    "{\"institutionId\":\"TIBURON\",\"items\":[{\"customerId\":\"d1b95731fb029fec062c\",\"cardId\":\"ca0sf8ds0af\","
    "\"pan\":\"%s\",\"activityType\":\"declined\",\"reasonCode\":\"transactionLimitSurpassed\",\"reason\":\"limit\","
    "\"amount\":{\"value\":\"5555.55\",\"currency\":\"USD\"},\"merchant\":{\"category\":\"shopping.other\","
    "\"name\":\"Amazon\",\"address\":{\"regionCode\":\"WA\",\"countryCode\":\"US\"}},"
    "\"occurredAt\":\"2024-10-01T07:56:02.375Z\",\"location\":\"onlineMerchant\"}]}";
static const char RIVERTY[] =
    "{\"eventType\":\"Purchase\",\"categoryType\":\"Sales\",\"time\":\"2024-10-01T09:56:02+02:00\",\"totalAmount\":%d,"
    "\"accountTransactionId\":\"tx-1\",\"items\":[{\"itemId\":\"i1\",\"itemDescription\":\"coffee\",\"unitCode\":\"pcs\","
    "\"quantity\":2,\"unitPrice\":5}],\"currency\":\"NOK\",\"countryCode\":\"NO\",\"conversationLanguage\":\"NO\"}";

/* POSTs a (200), a again (200: the first answer, or in Riverty's dialect eventAdded
 * false), then b under the same key (409). */
static void new_replay_conflict(const struct daemon *d, const char *path, const char *a, const char *b)
{
    struct http_resp r1, r2;
    assert_true(http_post(d, path, H, a, strlen(a), &r1));
    assert_int_equal(r1.status, 200);
    assert_true(http_post(d, path, H, a, strlen(a), &r2));
    assert_int_equal(r2.status, 200);
    if (strstr(r1.body, "\"eventAdded\":true"))
        assert_non_null(strstr(r2.body, "\"eventAdded\":false"));
    else
        assert_string_equal(r1.body, r2.body);
    http_resp_free(&r1);
    http_resp_free(&r2);
    assert_int_equal(post(d, path, b, NULL), 409);
}

static void test_every_route(void **state)
{
    (void)state;
    struct receiver *rv = receiver_start(NULL, 0, RECV_OK, 0);
    struct daemon d = {0};
    start(&d, rv);
    char id[37], a[1200], b[1200], path[160];
    json_t *j = NULL;
    /* the writes */
    test_uuid(id);
    char *e1 = amiko_event(id, "case_created"), *e2 = amiko_event(id, "case_closed");
    new_replay_conflict(&d, "/events", e1, e2);
    free(e1);
    free(e2);
    test_uuid(id);
    snprintf(a, sizeof(a), DOMAIN_EVENT, id, 1);
    snprintf(b, sizeof(b), DOMAIN_EVENT, id, 2);
    new_replay_conflict(&d, "/domain-events", a, b);
    test_uuid(id);
    char *bk = amiko_booking(id, "12.50"), *bk2 = amiko_booking(id, "13.00");
    new_replay_conflict(&d, "/bookings", bk, bk2);
    snprintf(a, sizeof(a), CARDS, "4242424242424242");
    snprintf(b, sizeof(b), CARDS, "5555555555554444");
    const char *idem[] = {"Content-Type: application/json", "X-API-Key: " SECRET, "Idempotency-Key: pg-batch-1", NULL};
    assert_int_equal(req(&d, "POST", "/system/incomingCardActivity", idem, a, NULL, NULL), 200);
    assert_int_equal(req(&d, "POST", "/system/incomingCardActivity", idem, a, NULL, NULL), 200);
    assert_int_equal(req(&d, "POST", "/system/incomingCardActivity", idem, b, NULL, NULL), 409);
    snprintf(a, sizeof(a), RIVERTY, 10);
    snprintf(b, sizeof(b), RIVERTY, 11);
    new_replay_conflict(&d, "/api/v3/customer-account/ACC-1/event", a, b);

    /* the booking's life: pending, listed, completed (the same again, another 409), the
     * callback delivered once */
    snprintf(path, sizeof(path), "/bookings/%s", id);
    assert_int_equal(get(&d, path, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
    json_decref(j);
    assert_int_equal(get(&d, "/bookings?status=pending&limit=10", &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    snprintf(path, sizeof(path), "/bookings/%s/result", id);
    assert_int_equal(post(&d, path, "{\"status\":\"completed\",\"issuerBookingId\":\"L-1\"}", &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "completed");
    json_decref(j);
    assert_int_equal(post(&d, path, "{\"status\":\"completed\",\"issuerBookingId\":\"L-1\"}", NULL), 200);
    assert_int_equal(post(&d, path, "{\"status\":\"completed\",\"issuerBookingId\":\"L-2\"}", NULL), 409);
    char unknown[37];
    test_uuid(unknown);
    snprintf(path, sizeof(path), "/bookings/%s/result", unknown);
    assert_int_equal(post(&d, path, "{\"status\":\"completed\",\"issuerBookingId\":\"L-1\"}", NULL), 404);
    assert_int_equal(receiver_wait_accepted(rv, 10000), 1);
    snprintf(path, sizeof(path), "/bookings/%s", id);
    for (int i = 0; i < 100; i++) { /* the mark is committed just after the answer */
        assert_int_equal(get(&d, path, &j), 200);
        bool delivered = !strcmp(json_string_value(json_object_get(json_object_get(j, "callback"), "state")), "delivered");
        json_decref(j);
        if (delivered)
            break;
        assert_true(i < 99);
        usleep(50000);
    }
    assert_int_equal(receiver_wait_accepted(rv, 500), 1); /* once */

    /* the feed: every record, in order, from a w2 watermark; a w1 one is not this store's */
    assert_int_equal(get(&d, "/banking/recentEventHistory?limit=1000", &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 6);
    const char *wm = json_string_value(json_object_get(j, "watermark"));
    assert_memory_equal(wm, "w2.", 3);
    snprintf(path, sizeof(path), "/banking/recentEventHistory?watermark=%s", wm);
    json_decref(j);
    assert_int_equal(get(&d, path, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    assert_false(json_is_true(json_object_get(j, "hasMore")));
    json_decref(j);
    assert_int_equal(get(&d, "/banking/recentEventHistory?watermark=w1.3", NULL), 400);
    assert_int_equal(get(&d, "/banking/eventHistory?occurredAt=[1970-01-01,2100-01-01)&sortBy=occurredAt", &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 6);
    json_decref(j);
    assert_int_equal(get(&d, "/banking/eventTypes", NULL), 200);

    /* health and metrics */
    struct http_resp r;
    assert_true(http_get(&d, "/health", NULL, &r));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"postgresql:responseTime\""));
    assert_null(strstr(r.body, "disk:free"));
    assert_null(strstr(r.body, URI_SECRET));
    http_resp_free(&r);
    assert_true(metric_value(&d, "issuerhook_store_round_trips_total{backend=\"postgresql\"}") >= 10);

    PGconn *c = raw();
    assert_int_equal(num(c, "SELECT count(*) FROM records"), 6);
    assert_int_equal(num(c, "SELECT count(*) FROM card_activities"), 1);
    assert_int_equal(num(c, "SELECT count(*) FROM outbox WHERE state = 'delivered' AND attempts = 1"), 1);
    PQfinish(c);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    assert_true(daemon_log_has(&d, "\"database ready\"", 0));
    assert_false(daemon_log_has(&d, URI_SECRET, 0));
    assert_false(daemon_log_has(&d, "4242424242424242", 0));
    free(bk);
    free(bk2);
    daemon_cleanup(&d);
    receiver_stop(rv);
}

/* PostgreSQL stopped: writes answer 503 with Retry-After (never 4xx), /health fails on
 * postgresql:responseTime; started again: the same daemon takes writes by itself. */
static void test_stopped_then_back(void **state)
{
    (void)state;
    struct daemon d = {0};
    start(&d, NULL);
    assert_int_equal(post_event(&d, H, NULL, NULL), 200);
    assert_int_equal(pgtmp_server_stop(&PG, "fast"), 0);
    char retry[32] = "";
    char id[37];
    test_uuid(id);
    char *ev = amiko_event(id, "case_created");
    double t0 = now_s();
    assert_int_equal(req(&d, "POST", "/events", NULL, ev, NULL, retry), 503);
    assert_string_equal(retry, "2");
    assert_true(now_s() - t0 < 5);
    assert_int_equal(req(&d, "POST", "/events", NULL, ev, NULL, retry), 503);
    struct http_resp r;
    assert_true(http_get(&d, "/health", NULL, &r));
    assert_int_equal(r.status, 503);
    json_t *h = json_loads(r.body, 0, NULL);
    json_t *check = json_array_get(json_object_get(json_object_get(h, "checks"), "postgresql:responseTime"), 0);
    assert_string_equal(json_string_value(json_object_get(check, "status")), "fail");
    assert_non_null(json_string_value(json_object_get(check, "output")));
    json_decref(h);
    http_resp_free(&r);
    assert_int_equal(get(&d, "/banking/recentEventHistory", NULL), 503);

    assert_int_equal(pgtmp_server_start(&PG), 0);
    long st = 0;
    for (t0 = now_s(); st != 200 && now_s() - t0 < 20; usleep(200000))
        st = req(&d, "POST", "/events", NULL, ev, NULL, NULL);
    assert_int_equal(st, 200);
    assert_true(http_get(&d, "/health", NULL, &r));
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
    assert_true(daemon_log_has(&d, "the store takes writes again", 0));
    free(ev);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* Started while PostgreSQL is down: the daemon serves (writes 503, /health 503), and once
 * the server is up it connects, migrates, checks the PAN key against the database and
 * takes writes, without a restart. */
static void test_started_while_down(void **state)
{
    (void)state;
    assert_int_equal(pgtmp_server_stop(&PG, "fast"), 0);
    struct daemon d = {0};
    start(&d, NULL);
    assert_int_equal(post_event(&d, H, NULL, NULL), 503);
    struct http_resp r;
    assert_true(http_get(&d, "/health", NULL, &r));
    assert_int_equal(r.status, 503);
    http_resp_free(&r);
    assert_int_equal(pgtmp_server_start(&PG), 0);
    long st = 0;
    for (double t0 = now_s(); st != 200 && now_s() - t0 < 20; usleep(200000))
        st = post_event(&d, H, NULL, NULL);
    assert_int_equal(st, 200);
    assert_true(daemon_log_has(&d, "the PAN key matches the database", 0));
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* ---- nothing acknowledged lost across a crash of the server under load ---- */

#define CLIENTS 4
#define ACKED_MAX 20000

struct load {
    const struct daemon *d;
    atomic_bool stop;
    pthread_mutex_t lock;
    char (*acked)[37];
    size_t nacked;
    atomic_long unavailable, other;
};

static void *client(void *arg)
{
    struct load *l = arg;
    while (!atomic_load(&l->stop)) {
        char id[37];
        test_uuid(id);
        long st = post_event(l->d, H, id, NULL);
        if (st == 200) {
            pthread_mutex_lock(&l->lock);
            if (l->nacked < ACKED_MAX)
                memcpy(l->acked[l->nacked++], id, 37);
            pthread_mutex_unlock(&l->lock);
        } else if (st == 503) {
            atomic_fetch_add(&l->unavailable, 1);
            usleep(20000);
        } else if (st != -1) {
            atomic_fetch_add(&l->other, 1);
        }
    }
    return NULL;
}

static void test_nothing_acknowledged_lost(void **state)
{
    (void)state;
    struct daemon d = {0};
    start(&d, NULL);
    struct load l = {.d = &d, .lock = PTHREAD_MUTEX_INITIALIZER, .acked = calloc(ACKED_MAX, 37)};
    assert_non_null(l.acked);
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, client, &l), 0);
    usleep(700000);
    assert_int_equal(pgtmp_server_stop(&PG, "immediate"), 0); /* a crash: recovery at the next start */
    usleep(700000);
    assert_int_equal(pgtmp_server_start(&PG), 0);
    usleep(2500000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
    print_message("acknowledged %zu, 503 %ld, other %ld\n", l.nacked, atomic_load(&l.unavailable),
                  atomic_load(&l.other));
    assert_true(l.nacked > 50);
    assert_true(atomic_load(&l.unavailable) > 0);
    assert_int_equal(atomic_load(&l.other), 0); /* never a 4xx, never another 5xx */
    PGconn *c = raw();
    PGresult *res = PQexec(c, "SELECT idem_key FROM records WHERE source = 'amiko.event'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    size_t missing = 0;
    for (size_t i = 0; i < l.nacked; i++) {
        bool found = false;
        for (int row = 0; row < PQntuples(res) && !found; row++)
            found = strcmp(PQgetvalue(res, row, 0), l.acked[i]) == 0;
        missing += !found;
    }
    PQclear(res);
    PQfinish(c);
    assert_int_equal(missing, 0);
    free(l.acked);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* `migrate` works on PostgreSQL; `backup` refuses, pointing to PostgreSQL's own tools; a
 * node whose PAN key is not the database's refuses to start and says so. */
static void test_commands_and_the_pan_key(void **state)
{
    (void)state;
    char env[1400], *out = NULL;
    snprintf(env, sizeof(env), "'%s' '%s' '%s'", db_env, pw_env, pan_env);
    assert_int_equal(daemon_run(env, "migrate", &out), 0);
    assert_null(strstr(out, URI_SECRET));
    free(out);
    assert_int_equal(daemon_run(env, "backup /tmp/ih-pg-never.db", &out), 1);
    assert_non_null(strstr(out, "pg_dump"));
    free(out);
    assert_int_not_equal(access("/tmp/ih-pg-never.db", F_OK), 0);
    /* a node with a development key of its own: not the key the database's tokens are
     * made with */
    char other[96], cmd[1800];
    snprintf(other, sizeof(other), "%s/other", dir);
    assert_int_equal(mkdir(other, 0700), 0);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && env -i '%s' '%s' '%s' ISSUERHOOK_PAN_KEY_DEVELOPMENT=true ISSUERHOOK_LISTEN=127.0.0.1:0 '%s' 2>&1",
             other, db_env, pw_env, key_env, IH_DAEMON_PATH);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[16384] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !strstr(buf, "is not the key this database's tokens are made with"))
        fail_msg("exit %d, said:\n%s", st, buf);
    assert_null(strstr(buf, URI_SECRET));
}

/* The card item keys' upgrade on PostgreSQL (migration 0008, as on SQLite): a batch stored
 * with the keys of schema 7 (the hex hash alone) and retried after the upgrade is still a
 * repeat, item by item; the keys are then what cards_item_key makes. */
static void test_card_keys_upgraded(void **state)
{
    (void)state;
    static const char ITEM[] =
        "{\"customerId\":\"upgrade-%d\",\"cardId\":\"ca0sf8ds0af\",\"pan\":\"4242424242424242\","
        "\"activityType\":\"declined\",\"reasonCode\":\"transactionLimitSurpassed\",\"reason\":\"limit\","
        "\"amount\":{\"value\":\"5.55\",\"currency\":\"USD\"},\"merchant\":{\"category\":\"shopping.other\","
        "\"name\":\"Amazon\",\"address\":{\"regionCode\":\"WA\",\"countryCode\":\"US\"}},"
        "\"occurredAt\":\"2024-10-01T07:56:0%d.375Z\",\"location\":\"onlineMerchant\"}";
    static const char MINE[] = "source = 'apiture.card_activity' AND tracing_id = 'pg-key-upgrade'";
    static const char *const HK[] = {"Content-Type: application/json", "X-API-Key: " SECRET,
                                     "tracing-id: pg-key-upgrade", NULL};
    char body[4096] = "{\"institutionId\":\"TIBURON\",\"items\":[", one[1024], sql[512];
    for (int i = 0; i < 3; i++) {
        snprintf(one, sizeof(one), ITEM, i, i);
        strcat(body, i ? "," : "");
        strcat(body, one);
    }
    strcat(body, "]}");
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM records WHERE %s AND idem_key = lpad(occurred_at::text, 13, '0') || '-' || "
             "encode(payload_sha256, 'hex')", MINE);
    struct daemon d = {0};
    start(&d, NULL);
    assert_int_equal(req(&d, "POST", "/system/incomingCardActivity", HK, body, NULL, NULL), 200);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    PGconn *c = raw();
    assert_int_equal(num(c, sql), 3);
    /* the database as schema 7 left it */
    char old[512];
    snprintf(old, sizeof(old), "UPDATE records SET idem_key = encode(payload_sha256, 'hex') WHERE %s;"
                               " DELETE FROM schema_migrations WHERE version = 8", MINE);
    PQclear(PQexec(c, old));
    assert_int_equal(num(c, sql), 0);
    start(&d, NULL); /* the upgrade: 0008 runs */
    assert_int_equal(num(c, sql), 3);
    assert_int_equal(req(&d, "POST", "/system/incomingCardActivity", HK, body, NULL, NULL), 200);
    snprintf(old, sizeof(old), "SELECT count(*) FROM records WHERE %s", MINE);
    assert_int_equal(num(c, old), 3);
    snprintf(old, sizeof(old), "SELECT sum(duplicates) FROM records WHERE %s", MINE);
    assert_int_equal(num(c, old), 3);
    PQfinish(c);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route),
        cmocka_unit_test(test_stopped_then_back),
        cmocka_unit_test(test_started_while_down),
        cmocka_unit_test(test_nothing_acknowledged_lost),
        cmocka_unit_test(test_commands_and_the_pan_key),
        cmocka_unit_test(test_card_keys_upgraded),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
