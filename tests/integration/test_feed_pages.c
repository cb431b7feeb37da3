/* Feed pages of large events (issue 11.5, scaled down): with ISSUERHOOK_MAX_BODY=256KiB and
 * ISSUERHOOK_FEED_PAGE_BYTES=100KiB, pages are cut by bytes as well as by count — an event
 * larger than the budget goes out alone — so a drain by watermark or by nextPage_url moves on
 * and sees every event once; at most ISSUERHOOK_FEED_READS=2 pages are read at once, the
 * next answers 503 with Retry-After while /health and intake go on; a page that fails in
 * its first scan is a 503, one that fails later is visibly cut (no last chunk). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "issuerhook/feedparams.h"

#define WRITER_SECRET "pages-writer-key"
#define READER_SECRET "pages-reader-key"
#define BUDGET (100 * 1024)
#define SMALL 20       /* events of about 30 KiB: three to a page */
#define SMALL_BYTES (30 * 1024)
#define BIG 2          /* events of about 200 KiB: each alone */
#define BIG_BYTES (200 * 1024)
#define ENVELOPE_MAX 1024 /* a page's text besides its items */
#define GEN_AT 1710000000000LL /* 2024-03-09T16:00:00Z */

static struct daemon D;
static char writer_key[256], reader_key[256];
static const char *const READER[] = {"X-API-Key: " READER_SECRET, NULL};
static char ids[BIG + SMALL][37]; /* in posting order: the big ones first */

static char *event_of_size(const char *id, size_t size, long long gen_at)
{
    char *filler = malloc(size + 1);
    if (!filler)
        return NULL;
    memset(filler, 'x', size);
    filler[size] = '\0';
    char *s = NULL;
    if (asprintf(&s,
                 "{\"header\":{\"version\":\"2026.1.0\",\"eventId\":\"%s\",\"generatedAt\":%lld},"
                 "\"event\":{\"type\":\"case_created\",\"caseId\":\"1234\",\"note\":\"%s\"}}",
                 id, gen_at, filler) < 0)
        s = NULL;
    free(filler);
    return s;
}

static long post_to(const struct daemon *d, const char *body)
{
    const char *h[] = {"Content-Type: application/json", "X-API-Key: " WRITER_SECRET, "tracing-id: pages-test", NULL};
    struct http_resp r;
    if (!http_post(d, "/events", h, body, strlen(body), &r))
        return -1;
    long st = r.status;
    http_resp_free(&r);
    return st;
}

static long post(const char *body)
{
    return post_to(&D, body);
}

static int setup(void **state)
{
    (void)state;
    key_line("WRITER", WRITER_SECRET, "amiko:events", writer_key, sizeof(writer_key));
    key_line("READER", READER_SECRET, "bankingAdmin/read", reader_key, sizeof(reader_key));
    size_t i = 0;
    D.extra_env[i++] = writer_key;
    D.extra_env[i++] = reader_key;
    D.extra_env[i++] = "ISSUERHOOK_MAX_BODY=256KiB";
    D.extra_env[i++] = "ISSUERHOOK_FEED_PAGE_BYTES=100KiB";
    D.extra_env[i++] = "ISSUERHOOK_FEED_READS=2";
    D.extra_env[i++] = "ISSUERHOOK_RETRY_AFTER=3";
    D.extra_env[i] = NULL;
    /* PostgreSQL's feed shows a commit once no older transaction is in flight anywhere in
     * its cluster: these tests read at once what they just wrote (a cluster of their own) */
    D.pg_private = true;
    if (!daemon_start(&D))
        return -1;
    for (size_t k = 0; k < BIG + SMALL; k++) {
        test_uuid(ids[k]);
        char *b = event_of_size(ids[k], k < BIG ? BIG_BYTES : SMALL_BYTES, GEN_AT + (long long)k * 1000);
        long st = b ? post(b) : -1;
        free(b);
        if (st != 200) {
            fprintf(stderr, "setup: event %zu answered %ld\n", k, st);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = daemon_stop(&D, SIGTERM);
    daemon_cleanup(&D);
    return rc == 0 ? 0 : -1;
}

static const char *jstr(const json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

/* GET path as the reader: 200 and JSON (caller decrefs); *len the body's length. */
static json_t *get_page(const char *path, size_t *len)
{
    struct http_resp r;
    if (!http_get(&D, path, READER, &r))
        fail_msg("GET %s: no answer", path);
    if (r.status != 200)
        fail_msg("GET %s: %ld %.300s", path, r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    if (!j)
        fail_msg("GET %s: not JSON (%zu bytes)", path, r.len);
    *len = r.len;
    http_resp_free(&r);
    return j;
}

/* The posting index of an item (by its data's eventId), or fails. */
static size_t index_of(const json_t *item)
{
    const char *id = json_string_value(json_object_get(json_object_get(json_object_get(item, "data"), "header"),
                                                       "eventId"));
    for (size_t k = 0; id && k < BIG + SMALL; k++)
        if (strcmp(ids[k], id) == 0)
            return k;
    fail_msg("an item that was not posted: %s", id ? id : "(no eventId)");
    return 0;
}

/* Checks one page's items: within the budget unless alone; records what was seen. */
static void check_page(const json_t *page, size_t len, int seen[], size_t *count, long long *prev_seq, bool last)
{
    const json_t *items = json_object_get(page, "items");
    size_t n = json_array_size(items);
    if (n > 1 && len > BUDGET + ENVELOPE_MAX)
        fail_msg("a page of %zu items has %zu bytes: over the budget of %d", n, len, BUDGET);
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(items, i);
        size_t k = index_of(it);
        seen[k]++;
        (*count)++;
        if (k < BIG && n != 1)
            fail_msg("a %d KiB event shares a page with %zu others", BIG_BYTES / 1024, n - 1);
        long long seq = strtoll(jstr(it, "id") + 4, NULL, 10);
        if (prev_seq) {
            assert_true(seq > *prev_seq);
            *prev_seq = seq;
        }
    }
    if (n > 1 && n != 3 && !last)
        fail_msg("a page of %zu small events: three 30 KiB events fit 100 KiB, four do not", n);
}

/* recentEventHistory from the start: every page within the budget (or one event alone),
 * hasMore until the end, every event once in commit order. */
static void test_watermark_pages_cut_by_bytes(void **state)
{
    (void)state;
    int seen[BIG + SMALL] = {0};
    size_t count = 0, pages = 0;
    long long prev = 0;
    char wm[FEED_TOKEN_MAX] = "";
    for (;;) {
        char path[256];
        snprintf(path, sizeof(path), "/banking/recentEventHistory?limit=10000%s%s", wm[0] ? "&watermark=" : "", wm);
        size_t len;
        json_t *j = get_page(path, &len);
        bool more = json_is_true(json_object_get(j, "hasMore"));
        check_page(j, len, seen, &count, &prev, !more);
        size_t n = json_array_size(json_object_get(j, "items"));
        int64_t at;
        assert_true(watermark_seq(jstr(j, "watermark"), &at));
        if (n)
            assert_int_equal(at, prev); /* the watermark is the last item */
        snprintf(wm, sizeof(wm), "%s", jstr(j, "watermark"));
        json_decref(j);
        pages++;
        if (!more)
            break;
        assert_true(n > 0); /* hasMore never comes with an empty page: the watermark moves on */
        assert_true(pages < 100);
    }
    for (size_t k = 0; k < BIG + SMALL; k++)
        if (seen[k] != 1)
            fail_msg("event %zu seen %d times", k, seen[k]);
    assert_int_equal(count, BIG + SMALL);
    assert_int_equal(pages, BIG + (SMALL + 2) / 3);
}

/* eventHistory by nextPage_url, oldest first: the same cut, every event once. */
static void test_history_pages_cut_by_bytes(void **state)
{
    (void)state;
    int seen[BIG + SMALL] = {0};
    size_t count = 0, pages = 0;
    char *path = strdup("/banking/eventHistory?occurredAt=%5B2024-03-01%2C2024-04-01%29&sortBy=occurredAt&limit=50");
    while (path) {
        size_t len;
        json_t *j = get_page(path, &len);
        const char *next = jstr(j, "nextPage_url");
        check_page(j, len, seen, &count, NULL, !next);
        free(path);
        path = next ? strdup(next) : NULL;
        json_decref(j);
        assert_true(++pages < 100);
    }
    for (size_t k = 0; k < BIG + SMALL; k++)
        if (seen[k] != 1)
            fail_msg("event %zu seen %d times", k, seen[k]);
    assert_int_equal(pages, BIG + (SMALL + 2) / 3);
}

/* A connected socket that takes almost nothing: the daemon's answer stalls on it. */
static int stalled_reader(const struct daemon *d, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int tiny = 1;
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nX-API-Key: " READER_SECRET "\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    char first[16];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_true(read(fd, first, sizeof(first)) > 0); /* the answer has started */
    return fd;
}

static double ms_since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* Two pages stalled on readers that take nothing: a third feed read is 503 problem+json
 * with Retry-After, counted; /health and intake answer meanwhile; once the readers go,
 * feed reads are answered again. A daemon of its own, whose pages (24 MiB) are far more
 * than the kernel's socket buffers take. */
static void test_feed_reads_bounded(void **state)
{
    (void)state;
    struct daemon d = {0};
    size_t i = 0;
    d.extra_env[i++] = writer_key;
    d.extra_env[i++] = reader_key;
    d.extra_env[i++] = "ISSUERHOOK_MAX_BODY=1MiB";
    d.extra_env[i++] = "ISSUERHOOK_FEED_PAGE_BYTES=64MiB";
    d.extra_env[i++] = "ISSUERHOOK_FEED_READS=2";
    d.extra_env[i++] = "ISSUERHOOK_RETRY_AFTER=3";
    d.extra_env[i] = NULL;
    assert_true(daemon_start(&d));
    for (int k = 0; k < 24; k++) {
        char id[37];
        test_uuid(id);
        char *ev = event_of_size(id, 1000 * 1000, GEN_AT);
        assert_int_equal(post_to(&d, ev), 200);
        free(ev);
    }
    const char *page = "/banking/eventHistory?occurredAt=%5B2024-03-01%2C2024-04-01%29&sortBy=occurredAt";
    int a = stalled_reader(&d, "/banking/recentEventHistory");
    int b = stalled_reader(&d, page);
    static const char *const feeds[] = {"/banking/recentEventHistory?limit=1", "/banking/eventHistory"};
    for (size_t f = 0; f < 2; f++) {
        struct http_resp r;
        assert_true(http_get(&d, feeds[f], READER, &r));
        if (r.status != 503)
            fail_msg("GET %s beside two stalled pages: %ld", feeds[f], r.status);
        assert_string_equal(r.retry_after, "3");
        assert_non_null(strstr(r.content_type, "application/problem+json"));
        assert_non_null(strstr(r.body, "ISSUERHOOK_FEED_READS"));
        http_resp_free(&r);
    }
    assert_true(metric_value(&d, "issuerhook_feed_reads_refused_total{reason=\"busy\"}") == 2);
    /* health and intake do not wait behind the stalled pages */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct http_resp h;
    assert_true(http_get(&d, "/health", NULL, &h));
    assert_int_equal(h.status, 200);
    http_resp_free(&h);
    char id[37];
    test_uuid(id);
    char *ev = event_of_size(id, 100, GEN_AT);
    assert_int_equal(post_to(&d, ev), 200);
    free(ev);
    double took = ms_since(&t0);
    if (took > 5000)
        fail_msg("/health and a POST took %.0f ms beside two stalled feed pages", took);
    close(a);
    close(b);
    /* the slots come back once the daemon sees the readers gone */
    long st = 0;
    for (int k = 0; k < 100 && st != 200; k++) {
        struct http_resp r;
        assert_true(http_get(&d, "/banking/recentEventHistory?limit=1", READER, &r));
        st = r.status;
        http_resp_free(&r);
        if (st != 200)
            usleep(100 * 1000);
    }
    assert_int_equal(st, 200);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* Raw GET: everything the daemon sends until it closes (HTTP/1.1, Connection: close). */
static char *raw_get(const char *path, size_t *len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)D.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: " READER_SECRET "\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t cap = 1 << 20, got = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, 10000) == 1) {
        if (got == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        ssize_t r = read(fd, buf + got, cap - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
    size_t t = strlen(tail);
    return n >= t && memcmp(s + n - t, tail, t) == 0;
}

/* A stored record the feed cannot render (a source the type table lacks: a bug) after
 * 1,000 filler rows. Read from just before it, the page is a 503; read from before the
 * filler, whose first scan succeeds, the answer is cut without its last chunk. Last:
 * the feed past it stays refused. */
static void test_failed_page_is_never_whole(void **state)
{
    (void)state;
    long long top = db_scalar(&D, "SELECT max(seq) FROM records");
    const char *sql =
        "BEGIN;"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)"
        " INSERT INTO records (source, idem_key, payload_sha256, type, tracing_id, received_at, payload,"
        " response_status, response_body) SELECT 'amiko.event', 'filler-' || i, zeroblob(32), 'case_created',"
        " 'filler', 1710000000000, '{\"header\":{\"eventId\":\"x\"}}', 200, '{}' FROM n;"
        "INSERT INTO records (source, idem_key, payload_sha256, type, tracing_id, received_at, payload,"
        " response_status, response_body) VALUES ('no.such_source', 'bogus', zeroblob(32), 'x', 'bogus',"
        " 1710000000000, '{}', 200, '{}');"
        "COMMIT;";
    assert_true(db_exec(&D, sql));

    double store0 = metric_value(&D, "issuerhook_feed_reads_refused_total{reason=\"store\"}");
    double aborted0 = metric_value(&D, "issuerhook_feed_reads_refused_total{reason=\"aborted\"}");
    char wm[FEED_TOKEN_MAX], path[256];
    watermark_at(&D, db_scalar(&D, "SELECT seq FROM records WHERE idem_key = 'filler-1000'"), wm);
    snprintf(path, sizeof(path), "/banking/recentEventHistory?watermark=%s", wm);
    struct http_resp r;
    assert_true(http_get(&D, path, READER, &r));
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.content_type, "application/problem+json"));
    http_resp_free(&r);
    assert_true(metric_value(&D, "issuerhook_feed_reads_refused_total{reason=\"store\"}") >= (store0 < 0 ? 0 : store0) + 1);

    /* the filler and the bogus row are past the first scan of 1,000 rows */
    watermark_at(&D, top, wm);
    snprintf(path, sizeof(path), "/banking/recentEventHistory?watermark=%s&category=bookings", wm);
    size_t len;
    char *raw = raw_get(path, &len);
    if (strncmp(raw, "HTTP/1.1 200", 12) != 0)
        fail_msg("the answer begins: %.80s", raw);
    assert_non_null(strstr(raw, "{\"items\":["));
    if (ends_with(raw, len, "\r\n0\r\n\r\n"))
        fail_msg("a page that failed ended like a whole one: %.200s", strstr(raw, "\r\n\r\n"));
    assert_null(strstr(raw, "hasMore"));
    free(raw);
    assert_true(metric_value(&D, "issuerhook_feed_reads_refused_total{reason=\"aborted\"}") >=
                (aborted0 < 0 ? 0 : aborted0) + 1);
    /* the control: the same read stopped before the bad row ends whole */
    snprintf(path, sizeof(path), "/banking/recentEventHistory?watermark=%s&limit=5", wm);
    raw = raw_get(path, &len);
    assert_true(ends_with(raw, len, "\r\n0\r\n\r\n"));
    assert_non_null(strstr(raw, "\"hasMore\":true"));
    free(raw);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_watermark_pages_cut_by_bytes)),
        IH_TEST(cmocka_unit_test(test_history_pages_cut_by_bytes)),
        IH_TEST(cmocka_unit_test(test_feed_reads_bounded)),
        IH_TEST(cmocka_unit_test(test_failed_page_is_never_whole)),
    };
    return IH_RUN_TESTS(tests, setup, teardown);
}
