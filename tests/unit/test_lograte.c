/* Unit tests of bounded logging (include/issuerhook/lograte.h): a burst per window
 * logged, the rest counted, one summary line with the count. */
#include "testutil.h"

#include <fcntl.h>
#include <unistd.h>

#include "issuerhook/log.h"
#include "issuerhook/lograte.h"
#include "issuerhook/metrics.h"

/* stderr into a file for the duration of the test: what the logger wrote. */
static char captured[8192];
static int saved_fd = -1;
static char path[] = "/tmp/ihlograte.XXXXXX";

static void capture_begin(void)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
}

static const char *capture_end(void)
{
    dup2(saved_fd, 2);
    close(saved_fd);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(captured, 1, sizeof(captured) - 1, f) : 0;
    captured[n] = '\0';
    if (f)
        fclose(f);
    unlink(path);
    snprintf(path, sizeof(path), "/tmp/ihlograte.XXXXXX");
    return captured;
}

static void test_burst_then_counted_then_summary(void **state)
{
    (void)state;
    static struct lograte lr = LOGRATE_INIT("test_kind", 3, 10);
    log_configure(LOG_INFO, true);
    capture_begin();
    int logged = 0;
    for (int i = 0; i < 1000; i++)
        logged += lograte_allow(&lr, 1000 + i);
    assert_int_equal(logged, 3);
    assert_int_equal(metrics_get(M_LOG_SUPPRESSED, "test_kind"), 997);
    lograte_flush(&lr, 10999); /* the window is not over: no summary yet */
    const char *out = capture_end();
    assert_string_equal(out, "");
    capture_begin();
    lograte_flush(&lr, 11000);
    out = capture_end();
    assert_contains(out, "\"kind\":\"test_kind\"");
    assert_contains(out, "\"count\":\"997\"");
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
    /* a new window: a burst again, and nothing left to summarise */
    capture_begin();
    assert_true(lograte_allow(&lr, 11001));
    lograte_flush(&lr, 30000);
    assert_string_equal(capture_end(), "");
}

static void test_new_window_summarises_the_last(void **state)
{
    (void)state;
    static struct lograte lr = LOGRATE_INIT("test_roll", 1, 1);
    capture_begin();
    assert_true(lograte_allow(&lr, 5000));
    assert_false(lograte_allow(&lr, 5001));
    assert_false(lograte_allow(&lr, 5002));
    assert_true(lograte_allow(&lr, 6000)); /* writes the summary of 2, then logs */
    assert_contains(capture_end(), "\"count\":\"2\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_counted_then_summary),
        cmocka_unit_test(test_new_window_summarises_the_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
