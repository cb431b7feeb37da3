/* Durability under load: the daemon is killed (SIGKILL) or stopped (SIGTERM) while a
 * client posts thousands of distinct events over many connections. Every event that
 * got a 2xx must be in the database exactly once after restart, and the client's
 * retries of the rest must then succeed, leaving each event stored once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define EVENTS 3000
#define PARALLEL 48

struct item {
    char id[37];
    char *body;
    long status; /* 0: no answer */
};

static size_t discard(char *p, size_t s, size_t n, void *a)
{
    (void)p;
    (void)a;
    return s * n;
}

static CURL *make_easy(const struct daemon *d, struct item *it, struct curl_slist *hdrs)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/events", d->port);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, it->body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_PRIVATE, it);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    return e;
}

/* Posts items[from..to) with PARALLEL transfers; sends sig to the daemon once
 * kill_after answers have been acknowledged (kill_after < 0: never). */
static long post_all(struct daemon *d, struct item *items, size_t n, long kill_after, int sig, int *exit_status)
{
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "X-API-Key: " KEY_FULL);
    h = curl_slist_append(h, "tracing-id: crash-test");
    CURLM *m = curl_multi_init();
    size_t next = 0;
    int running = 0;
    long acked = 0;
    bool killed = false;
    pid_t pid = d->pid;
    for (; next < n && next < PARALLEL; next++)
        curl_multi_add_handle(m, make_easy(d, &items[next], h));
    do {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct item *it;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&it);
            long st = 0;
            if (msg->data.result == CURLE_OK)
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &st);
            it->status = st;
            if (st >= 200 && st < 300)
                acked++;
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
            if (next < n) {
                curl_multi_add_handle(m, make_easy(d, &items[next++], h));
                running++;
            }
        }
        if (!killed && kill_after >= 0 && acked >= kill_after) {
            kill(pid, sig);
            killed = true;
        }
        curl_multi_poll(m, NULL, 0, 100, NULL);
    } while (running > 0 || next < n);
    curl_multi_cleanup(m);
    curl_slist_free_all(h);
    if (killed) {
        int status = 0;
        waitpid(pid, &status, 0);
        d->pid = 0;
        *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return acked;
}

static void run(int sig)
{
    struct daemon d = {0};
    struct item *items = calloc(EVENTS, sizeof(*items));
    for (size_t i = 0; i < EVENTS; i++) {
        test_uuid(items[i].id);
        items[i].body = amiko_event(items[i].id, "case_created");
    }
    assert_true(daemon_start(&d));
    int exit_status = -1;
    long acked = post_all(&d, items, EVENTS, EVENTS / 3, sig, &exit_status);
    if (sig == SIGKILL)
        assert_int_equal(exit_status, 128 + SIGKILL);
    else
        assert_int_equal(exit_status, 0); /* clean stop within the grace period */
    print_message("signal %d after %ld of %d events acknowledged\n", sig, acked, EVENTS);
    assert_true(acked >= EVENTS / 3);

    /* after restart every acknowledged event is there exactly once */
    assert_true(daemon_start(&d));
    long long rows = db_scalar(&d, "SELECT count(*) FROM records");
    assert_true(rows >= acked);
    assert_int_equal(db_scalar(&d, "SELECT count(*) - count(DISTINCT idem_key) FROM records"), 0);
    size_t missing = 0;
    for (size_t i = 0; i < EVENTS; i++) {
        if (items[i].status < 200 || items[i].status >= 300)
            continue;
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key='%s'", items[i].id);
        if (db_scalar(&d, sql) != 1)
            missing++;
    }
    assert_int_equal(missing, 0);

    /* the client retries everything that was not acknowledged: all succeed */
    struct item *retry = calloc(EVENTS, sizeof(*retry));
    size_t nr = 0;
    for (size_t i = 0; i < EVENTS; i++)
        if (items[i].status < 200 || items[i].status >= 300)
            retry[nr++] = items[i];
    long again = post_all(&d, retry, nr, -1, 0, &exit_status);
    assert_int_equal(again, (long)nr);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), EVENTS);
    assert_int_equal(db_scalar(&d, "SELECT count(DISTINCT idem_key) FROM records"), EVENTS);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
    for (size_t i = 0; i < EVENTS; i++)
        free(items[i].body);
    free(items);
    free(retry);
}

static void test_sigkill_under_load(void **state)
{
    (void)state;
    run(SIGKILL);
}

static void test_sigterm_under_load(void **state)
{
    (void)state;
    run(SIGTERM);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_sigkill_under_load)),
        IH_TEST(cmocka_unit_test(test_sigterm_under_load)),
    };
    int rc = IH_RUN_TESTS(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
