/* /metrics as Prometheus reads it: valid text format (checked by promtool from
 * Debian's prometheus package), counters and histograms that move with traffic, and
 * no request data (ids, keys) in label values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *const AMIKO[] = {"Content-Type: application/json", "tracing-id: metrics", "X-API-Key: " KEY_FULL,
                                    NULL};

/* Fetches /metrics, checks the answer's type and runs promtool on it. Returns the body. */
static char *scrape_and_lint(const struct daemon *d)
{
    struct http_resp r;
    assert_true(http_get(d, "/metrics", NULL, &r));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/plain"));
    assert_non_null(strstr(r.content_type, "version=0.0.4"));
    char path[400], cmd[1000];
    snprintf(path, sizeof(path), "%s/metrics.txt", d->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(r.body, 1, r.len, f), r.len);
    fclose(f);
    /* promtool prints parse errors and lint problems (naming, _total, HELP/TYPE) and
     * exits non-zero on either */
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s.lint' 2>&1", path, path);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof(cmd), "cat '%s.lint'", path);
        (void)!system(cmd);
        fail_msg("promtool check metrics failed (status %d)", rc);
    }
    char *body = r.body;
    r.body = NULL;
    http_resp_free(&r);
    return body;
}

static double value_in(const char *body, const char *sample)
{
    size_t sl = strlen(sample);
    for (const char *line = body; line && *line;) {
        if (strncmp(line, sample, sl) == 0 && line[sl] == ' ')
            return strtod(line + sl + 1, NULL);
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return 0; /* a labelled series appears on first use: absent is zero */
}

/* Label values are fixed words or route patterns: letters, digits and "/{}_.+-". */
static void assert_label_values_are_plain(const char *body)
{
    for (const char *p = body; (p = strstr(p, "=\"")) != NULL;) {
        p += 2;
        const char *end = strchr(p, '"');
        assert_non_null(end);
        assert_true(end - p < 64);
        for (const char *c = p; c < end; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/{}_.+-", *c))
                fail_msg("label value '%.*s' has '%c'", (int)(end - p), p, *c);
        p = end + 1;
    }
}

/* The /events latency histogram: cumulative buckets, 1 ms ... 5 s, +Inf = count. */
static void assert_histogram_sound(const char *body, double count)
{
    static const char *const le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                      "0.1",   "0.25",   "0.5",   "1",    "2.5",   "5",    "+Inf"};
    double prev = 0;
    for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
        char s[160];
        snprintf(s, sizeof(s), "issuerhook_http_request_duration_seconds_bucket{route=\"/events\",le=\"%s\"}", le[i]);
        assert_non_null(strstr(body, s));
        double v = value_in(body, s);
        assert_true(v >= prev);
        prev = v;
    }
    assert_true(prev == count);
    assert_null(strstr(body, "le=\"10\""));
}

static void test_metrics_parse_and_move(void **state)
{
    (void)state;
    struct daemon d = {0};
    assert_true(daemon_start(&d));
    char *before = scrape_and_lint(&d);
    assert_non_null(strstr(before, "# TYPE issuerhook_http_requests_total counter"));
    assert_non_null(strstr(before, "# TYPE issuerhook_http_request_duration_seconds histogram"));
    assert_non_null(strstr(before, "# TYPE issuerhook_commit_batch_size histogram"));
    assert_non_null(strstr(before, "# TYPE issuerhook_writer_queue_depth gauge"));
    assert_non_null(strstr(before, "# TYPE issuerhook_callback_backlog gauge"));
    assert_non_null(strstr(before, "issuerhook_build_info{version=\""));
    assert_true(value_in(before, "process_start_time_seconds") > 1.7e9);

    /* three new events, one replay, one invalid body, one without a credential */
    char ids[3][37];
    for (int i = 0; i < 3; i++) {
        test_uuid(ids[i]);
        assert_int_equal(post_event(&d, AMIKO, ids[i], NULL), 200);
    }
    assert_int_equal(post_event(&d, AMIKO, ids[0], NULL), 200);
    struct http_resp r;
    assert_true(http_post(&d, "/events", AMIKO, "{\"header\":{}}", 13, &r));
    assert_int_equal(r.status, 400);
    http_resp_free(&r);
    const char *nokey[] = {"Content-Type: application/json", NULL};
    assert_int_equal(post_event(&d, nokey, NULL, NULL), 401);

    char *after = scrape_and_lint(&d);
#define DELTA(sample) (value_in(after, sample) - value_in(before, sample))
    assert_true(DELTA("issuerhook_http_requests_total{route=\"/events\",status=\"200\"}") == 4);
    assert_true(DELTA("issuerhook_http_requests_total{route=\"/events\",status=\"400\"}") == 1);
    assert_true(DELTA("issuerhook_http_requests_total{route=\"/events\",status=\"401\"}") == 1);
    assert_true(DELTA("issuerhook_records_stored_total{source=\"amiko.event\"}") == 3);
    assert_true(DELTA("issuerhook_duplicates_total{source=\"amiko.event\"}") == 1);
    assert_true(DELTA("issuerhook_validation_failures_total{route=\"/events\"}") == 1);
    assert_true(DELTA("issuerhook_auth_failures_total{reason=\"missing\"}") == 1);
    assert_true(DELTA("issuerhook_http_request_duration_seconds_count{route=\"/events\"}") == 6);
    assert_true(DELTA("issuerhook_commit_batch_size_count") >= 1);
    assert_true(DELTA("issuerhook_commit_batch_size_sum") >= 3);
#undef DELTA
    assert_histogram_sound(after,
                           value_in(after, "issuerhook_http_request_duration_seconds_count{route=\"/events\"}"));
    /* nothing from the requests in the metrics */
    assert_label_values_are_plain(after);
    for (int i = 0; i < 3; i++)
        assert_null(strstr(after, ids[i]));
    assert_null(strstr(after, KEY_FULL));
    free(before);
    free(after);
    assert_int_equal(daemon_stop(&d, 15), 0);
    daemon_cleanup(&d);
}

/* The README's metrics table and the daemon's families are the same set of names (a row
 * whose meaning starts "SQLite only:" or "PostgreSQL only:" is that store's alone). */
static bool readme_row_is_for_this_store(const char *line)
{
    const char *other = test_backend() == TEST_POSTGRESQL ? "| SQLite only: " : "| PostgreSQL only: ";
    return strstr(line, other) == NULL;
}

static void test_readme_lists_every_metric(void **state)
{
    (void)state;
    struct daemon d = {0};
    assert_true(daemon_start(&d));
    char *body = scrape_and_lint(&d);
    FILE *f = fopen(README_PATH, "r");
    assert_non_null(f);
    char line[1024];
    int documented = 0;
    while (fgets(line, sizeof(line), f)) {
        char name[128];
        if (sscanf(line, "| `%127[a-z_]` | %*[a-z] |", name) != 1 || strncmp(line, "| `ISSUERHOOK", 13) == 0 ||
            !readme_row_is_for_this_store(line))
            continue;
        char type_line[200];
        snprintf(type_line, sizeof(type_line), "# TYPE %s ", name);
        if (!strstr(body, type_line))
            fail_msg("README lists %s; the daemon does not serve it on %s", name, test_backend_name());
        documented++;
    }
    fclose(f);
    int served = 0;
    for (const char *p = body; (p = strstr(p, "# TYPE ")) != NULL; p += 7) {
        char name[128], row[160];
        assert_int_equal(sscanf(p + 7, "%127s", name), 1);
        snprintf(row, sizeof(row), "| `%s` |", name);
        FILE *g = fopen(README_PATH, "r");
        bool found = false;
        while (!found && fgets(line, sizeof(line), g))
            found = strncmp(line, row, strlen(row)) == 0 && readme_row_is_for_this_store(line);
        fclose(g);
        if (!found)
            fail_msg("the daemon serves %s on %s; the README's metrics table lacks it (for this store)", name,
                     test_backend_name());
        served++;
    }
    assert_int_equal(documented, served);
    free(body);
    assert_int_equal(daemon_stop(&d, 15), 0);
    daemon_cleanup(&d);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_metrics_parse_and_move)),
        IH_TEST(cmocka_unit_test(test_readme_lists_every_metric)),
    };
    return IH_RUN_TESTS(tests, NULL, NULL);
}
