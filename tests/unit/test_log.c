/* Unit tests of the log's buffer (src/util/logbuf.c through include/issuerhook/log.h):
 * a log target that takes nothing (a pipe nobody reads) never blocks the threads that log;
 * lines that do not fit are dropped whole and counted; the lines written keep their order;
 * a warn line is written at once; log_buffer_stop writes what is left. */
#include "testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/log.h"
#include "issuerhook/metrics.h"

static int saved_stderr = -1, pipe_rd = -1;

/* stderr becomes the write end of a pipe that nothing reads yet. */
static int setup(void **state)
{
    (void)state;
    int p[2];
    if (pipe(p) != 0)
        return -1;
    saved_stderr = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    pipe_rd = p[0];
    log_configure(LOG_INFO, true);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    close(pipe_rd);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double dropped(const char *reason)
{
    char *text = NULL, sample[128];
    size_t len = 0;
    assert_int_equal(metrics_render(&text, &len), IH_OK);
    snprintf(sample, sizeof(sample), "issuerhook_log_lines_dropped_total{reason=\"%s\"} ", reason);
    const char *at = strstr(text, sample);
    double v = at ? strtod(at + strlen(sample), NULL) : 0;
    free(text);
    return v;
}

struct sink {
    char *buf;
    size_t len, cap;
    volatile bool stop;
};

/* Reads the pipe into s->buf until told to stop and the pipe is empty. */
static void *drain(void *arg)
{
    struct sink *s = arg;
    for (;;) {
        struct pollfd p = {.fd = pipe_rd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) {
            if (s->stop)
                return NULL;
            continue;
        }
        if (s->len + 65536 > s->cap) {
            s->cap = s->cap ? s->cap * 2 : 1 << 20;
            s->buf = realloc(s->buf, s->cap);
        }
        ssize_t n = read(pipe_rd, s->buf + s->len, 65536);
        if (n <= 0)
            return NULL;
        s->len += (size_t)n;
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_log: logging blocked on a full log target\n";
    ssize_t w = write(saved_stderr, msg, sizeof(msg) - 1);
    (void)w;
    _exit(1);
}

static void test_a_log_target_that_takes_nothing_never_blocks(void **state)
{
    (void)state;
    assert_int_equal(log_buffer_start(), IH_OK);
    double before = dropped("buffer_full");
    signal(SIGALRM, on_alarm);
    alarm(20); /* without the buffer the first 64 KiB fill the pipe and the next write blocks */
    double t0 = now_s();
    for (int i = 0; i < 20000; i++) { /* ~3 MiB of lines: far more than the pipe and the buffer */
        char tid[32];
        snprintf(tid, sizeof(tid), "seq-%06d", i);
        struct log_request lr = {.tracing_id = tid, .method = "POST", .route = "/events", .principal = "bench",
                                 .status = 200, .latency_ms = 1.5};
        log_request(&lr);
    }
    double spent = now_s() - t0;
    alarm(0);
    assert_true(spent < 10.0);
    assert_true(dropped("buffer_full") > before);

    /* now read it all: what came through is whole lines, in the order they were logged */
    struct sink s = {0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drain, &s), 0);
    log_buffer_stop();
    s.stop = true;
    pthread_join(th, NULL);
    assert_true(s.len > 0);
    assert_int_equal(s.buf[s.len - 1], '\n');
    int last = -1;
    size_t lines = 0;
    for (char *p = s.buf, *end = s.buf + s.len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        json_error_t e;
        json_t *l = json_loadb(p, (size_t)(nl - p), 0, &e);
        assert_non_null(l);
        const char *tid = json_string_value(json_object_get(l, "tracing_id"));
        assert_non_null(tid);
        int seq = (int)strtol(tid + 4, NULL, 10);
        assert_true(seq > last);
        last = seq;
        json_decref(l);
        lines++;
        p = nl + 1;
    }
    assert_true(lines > 0 && lines < 20000); /* the pipe's and the buffer's worth, no more */
    free(s.buf);
}

static void test_a_warn_line_is_written_at_once(void **state)
{
    (void)state;
    assert_int_equal(log_buffer_start(), IH_OK);
    log_msg(LOG_WARN, "something to see", "detail", "x", NULL);
    struct pollfd p = {.fd = pipe_rd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    char buf[512];
    ssize_t n = read(pipe_rd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_contains(buf, "\"level\":\"warn\"");
    assert_contains(buf, "something to see");

    /* an info line waits a millisecond at most for others; stopping writes it */
    log_msg(LOG_INFO, "after", NULL);
    log_buffer_stop();
    assert_int_equal(poll(&p, 1, 2000), 1);
    n = read(pipe_rd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_contains(buf, "\"msg\":\"after\"");

    /* stopped: lines are written by the thread that logs them */
    log_msg(LOG_INFO, "direct", NULL);
    n = read(pipe_rd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_contains(buf, "\"msg\":\"direct\"");
}

/* An access line's fields as they were printed with printf: the time to the millisecond in
 * UTC, the status, the latency with three decimals (to the microsecond), across a second
 * boundary of the time's cache. */
static void test_access_line_fields(void **state)
{
    (void)state;
    static const struct {
        double ms;
        const char *want;
    } lat[] = {{0, "0.000"}, {0.0004, "0.000"}, {0.0006, "0.001"}, {1.5, "1.500"}, {12.3456, "12.346"},
               {999.9996, "1000.000"}, {86400000.25, "86400000.250"}, {-1, "-1.000"}, {2e9, "2000000000.000"}};
    for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
        struct timespec before;
        clock_gettime(CLOCK_REALTIME, &before);
        struct log_request lr = {.tracing_id = "t", .method = "GET", .route = "/x", .status = i ? 503 : 200,
                                 .latency_ms = lat[i].ms};
        log_request(&lr);
        char buf[1024];
        ssize_t n = read(pipe_rd, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        json_t *l = json_loads(buf, 0, NULL);
        assert_non_null(l);
        char want[64];
        snprintf(want, sizeof(want), "\"latency_ms\":%s}", lat[i].want); /* the last field */
        assert_contains(buf, want);
        assert_int_equal(json_integer_value(json_object_get(l, "status")), i ? 503 : 200);
        const char *ts = json_string_value(json_object_get(l, "ts"));
        assert_non_null(ts);
        assert_int_equal(strlen(ts), 24);
        struct timespec after;
        clock_gettime(CLOCK_REALTIME, &after);
        struct tm tm;
        char a[32], b[32];
        gmtime_r(&before.tv_sec, &tm);
        strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
        gmtime_r(&after.tv_sec, &tm);
        strftime(a, sizeof(a), "%Y-%m-%dT%H:%M:%S", &tm);
        assert_true(memcmp(ts, b, 19) == 0 || memcmp(ts, a, 19) == 0); /* the second it was logged in */
        assert_true(ts[19] == '.' && ts[23] == 'Z' && ts[20] >= '0' && ts[20] <= '9');
        json_decref(l);
        if (i == 4)
            sleep(1); /* the cached second moves on */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_access_line_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_log_target_that_takes_nothing_never_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_warn_line_is_written_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
