/* The store's seam (src/store/store.c, writer.c, feed.c): which backend ISSUERHOOK_DB's
 * form names, what is refused before anything is touched, what an SQLite store says of
 * itself, and jobs that carry a kind going through the shared writer to the backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "issuerhook/crypto.h"
#include "issuerhook/events.h"
#include "issuerhook/feed.h"
#include "issuerhook/log.h"
#include "issuerhook/migrate.h"
#include "issuerhook/store.h"
#include "issuerhook/writer.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct store_options OPT = {.busy_timeout_ms = 100};
static char dir[64];

static int setup(void **state)
{
    (void)state;
    log_configure(LOG_ERROR, true);
    snprintf(dir, sizeof(dir), "/tmp/ihstore.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_backend_from_the_form_of_the_name(void **state)
{
    (void)state;
    static const struct {
        const char *db;
        enum store_db_form want;
    } cases[] = {
        {"/var/lib/issuerhook/issuerhook.db", STORE_DB_PATH},
        {"issuerhook.db", STORE_DB_PATH},
        {"var/ih.db", STORE_DB_PATH},
        {"./name=odd.db", STORE_DB_PATH},      /* a path that would read as conninfo, written as one */
        {"/srv/a://b.db", STORE_DB_PATH},      /* "://" not at the start */
        {"/srv/issuer hook/ih.db", STORE_DB_PATH},
        {"1host=x", STORE_DB_PATH},            /* a keyword never starts with a digit */
        {"file:ih.db?mode=rwc", STORE_DB_SQLITE_URI},
        {"file:///var/lib/ih.db", STORE_DB_SQLITE_URI},
        {"postgresql://issuerhook@db.internal/issuerhook?sslmode=verify-full", STORE_DB_POSTGRESQL},
        {"postgres://db/ih", STORE_DB_POSTGRESQL},
        {"postgresql://", STORE_DB_POSTGRESQL},
        {"host=db.internal dbname=issuerhook", STORE_DB_POSTGRESQL},
        {"dbname = issuerhook", STORE_DB_POSTGRESQL},
        {"service=ih", STORE_DB_POSTGRESQL},
        {"", STORE_DB_UNKNOWN},
        {"mysql://db/ih", STORE_DB_UNKNOWN},
        {"sqlite://ih.db", STORE_DB_UNKNOWN},
        {"postgresqlx://db/ih", STORE_DB_UNKNOWN},
        {"POSTGRES://db/ih", STORE_DB_UNKNOWN}, /* libpq knows the lower-case schemes only */
        {"http://db/ih", STORE_DB_UNKNOWN},
    };
    for (size_t i = 0; i < N(cases); i++)
        if (store_db_form(cases[i].db) != cases[i].want)
            fail_msg("\"%s\": form %d, want %d", cases[i].db, store_db_form(cases[i].db), cases[i].want);
    assert_int_equal(store_db_form(NULL), STORE_DB_UNKNOWN);
}

/* Files in dir (the test's folder): nothing may be created by a refused open. */
static int files_in_dir(void)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", dir);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_what_cannot_be_opened_is_refused_at_once(void **state)
{
    (void)state;
    char err[640] = "";
    struct store *s = (struct store *)(uintptr_t)1; /* must come back NULL */
    assert_int_equal(chdir(dir), 0);
    /* a PostgreSQL name libpq cannot read: refused before any connection, without echoing
     * the password it may hold (libpq's own message quotes the string) */
    static const char *const bad[] = {"postgresql://u:s3cret@[::1/db", "postgresql://u:s3cret%zz@h/db",
                                      "host=h dbname=x hots=s3cret", "dbnme=ih host=h password=s3cret",
                                      "postgresql://u:s3@cret@h/db", "dbname='postgresql://u:s3cret@h/d'"};
    for (size_t i = 0; i < N(bad); i++) {
        assert_int_equal(store_open(bad[i], &OPT, &s, err, sizeof(err)), IH_EINVAL);
        assert_null(s);
        if (!strstr(err, "not a valid PostgreSQL connection string") || strstr(err, "cret"))
            fail_msg("%s -> %s", bad[i], err);
    }
    assert_int_equal(store_open("mysql://db/ih", &OPT, &s, err, sizeof(err)), IH_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "ISSUERHOOK_DB must be a path"));
    assert_int_equal(store_open("", &OPT, &s, err, sizeof(err)), IH_EINVAL);
    assert_int_equal(files_in_dir(), 0); /* no folder, lock file or database made for any */

    struct backup_result r;
    assert_int_equal(store_backup("postgresql://db/ih", "/tmp/never-written.db", &r, err, sizeof(err)), IH_EINVAL);
    assert_non_null(strstr(err, "own tools"));
    assert_int_equal(store_backup("mysql://db/ih", "/tmp/never-written.db", &r, err, sizeof(err)), IH_EINVAL);
    struct stat sb;
    assert_int_not_equal(stat("/tmp/never-written.db", &sb), 0);
}

static void test_sqlite_store_says_what_it_is(void **state)
{
    (void)state;
    char path[128], err[640], why[640];
    snprintf(path, sizeof(path), "%s/what/ih.db", dir);
    struct store *s = NULL;
    assert_int_equal(store_open(path, &OPT, &s, err, sizeof(err)), IH_OK);
    assert_string_equal(store_backend_name(s), "sqlite");
    assert_string_equal(store_describe(s), path);
    assert_string_equal(store_disk_path(s), path);
    assert_int_equal(store_schema_version(s), migrations_sqlite[migrations_sqlite_count - 1].version);
    assert_true(store_writable(s, why, sizeof(why)));
    assert_string_equal(why, "");
    double ms = -1;
    assert_int_equal(store_ping(s, &ms), IH_OK);
    assert_true(ms >= 0);
    /* its feed positions are {0, seq}: one with a transaction part is another backend's */
    assert_true(feed_pos_valid(s, (struct feed_pos){0, 0}));
    assert_true(feed_pos_valid(s, (struct feed_pos){0, 12345}));
    assert_false(feed_pos_valid(s, (struct feed_pos){7, 12345}));
    store_close(s);
    store_close(NULL);
}

static void test_feed_positions_order_by_a_then_b(void **state)
{
    (void)state;
    const struct feed_pos in_order[] = {{0, 0}, {0, 1}, {0, 999}, {1, 0}, {1, 5}, {2, 0}, {INT64_MAX, INT64_MAX}};
    for (size_t i = 0; i < N(in_order); i++)
        for (size_t j = 0; j < N(in_order); j++) {
            int c = feed_pos_cmp(in_order[i], in_order[j]);
            if ((i < j && c >= 0) || (i == j && c != 0) || (i > j && c <= 0))
                fail_msg("cmp(#%zu, #%zu) = %d", i, j, c);
        }
}

/* ---- jobs through the shared writer ---- */

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    ih_status rc;
};
static struct waiter W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, IH_OK};

static void on_done(struct writer_job *job, ih_status rc)
{
    (void)job;
    pthread_mutex_lock(&W.lock);
    W.done++;
    W.rc = rc;
    pthread_cond_broadcast(&W.cond);
    pthread_mutex_unlock(&W.lock);
}

/* Submits job and waits for its done; its rc. */
static ih_status run_job(struct writer *w, struct writer_job *job)
{
    pthread_mutex_lock(&W.lock);
    int before = W.done;
    pthread_mutex_unlock(&W.lock);
    job->done = on_done;
    writer_submit(w, job);
    pthread_mutex_lock(&W.lock);
    while (W.done == before)
        pthread_cond_wait(&W.cond, &W.lock);
    ih_status rc = W.rc;
    pthread_mutex_unlock(&W.lock);
    return rc;
}

static void fill_event(struct store_event *ev, const char *key, const char *payload)
{
    memset(ev, 0, sizeof(*ev));
    ev->job.kind = WRITER_JOB_EVENT;
    ev->source = "amiko.event";
    snprintf(ev->key, sizeof(ev->key), "%s", key);
    ev->payload = strdup(payload);
    ev->payload_len = strlen(payload);
    crypto_sha256(ev->payload, ev->payload_len, ev->hash);
    ev->type = strdup("case_created");
    snprintf(ev->tracing_id, sizeof(ev->tracing_id), "t-%s", key);
    ev->received_ms = 1700000000000;
    ev->occurred_ms = -1;
    ev->status = 200;
    ev->response = strdup("{\"ok\":true}");
}

static enum feed_take count_row(const struct feed_row *row, void *arg)
{
    int64_t *seen = arg;
    assert_int_equal(row->pos.a, 0);
    assert_int_equal(row->pos.b, row->seq);
    seen[0]++;
    seen[1] = row->seq;
    return FEED_NEXT;
}

static void test_jobs_carry_a_kind(void **state)
{
    (void)state;
    char path[128], err[640];
    snprintf(path, sizeof(path), "%s/jobs.db", dir);
    struct store *s = NULL;
    struct writer *w = NULL;
    assert_int_equal(store_open(path, &OPT, &s, err, sizeof(err)), IH_OK);
    struct writer_options wo = {.batch_max = 8, .queue_max = 16};
    assert_int_equal(writer_start(s, &wo, &w), IH_OK);

    /* a job nobody said the kind of fails alone; the store keeps taking writes */
    struct writer_job none = {0};
    assert_int_not_equal(run_job(w, &none), IH_OK);
    assert_true(store_writable(s, NULL, 0));

    struct store_event ev;
    fill_event(&ev, "k-1", "{\"a\":1}");
    assert_int_equal(run_job(w, &ev.job), IH_OK);
    assert_int_equal(ev.outcome, EVENTS_INSERTED);
    int64_t seq = ev.seq;
    assert_true(seq > 0);
    events_clear(&ev);
    fill_event(&ev, "k-1", "{\"a\":1}"); /* the same again: the first answer */
    assert_int_equal(run_job(w, &ev.job), IH_OK);
    assert_int_equal(ev.outcome, EVENTS_REPLAY);
    assert_string_equal(ev.stored_response, "{\"ok\":true}");
    events_clear(&ev);
    fill_event(&ev, "k-1", "{\"a\":2}"); /* the same key, another payload */
    assert_int_equal(run_job(w, &ev.job), IH_OK);
    assert_int_equal(ev.outcome, EVENTS_CONFLICT);
    events_clear(&ev);

    /* the feed shows the one record, at the position {0, seq} */
    int64_t seen[2] = {0, 0};
    struct feed_scan_result res;
    assert_int_equal(feed_scan_commit_order(s, (struct feed_pos){0, 0}, 10, count_row, seen, &res), IH_OK);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], seq);
    assert_int_equal(res.last.a, 0);
    assert_int_equal(res.last.b, seq);
    assert_false(res.more);

    writer_stop(w);
    /* stopped: a submit is answered at once, in this thread */
    fill_event(&ev, "k-2", "{\"a\":3}");
    assert_int_equal(run_job(w, &ev.job), IH_ESHUTDOWN);
    events_clear(&ev);
    writer_free(w);
    store_close(s);
}

/* One batch straight to the SQLite backend: a job that fails on its own leaves nothing of
 * itself, whether it ran in a savepoint (a domain event: a serial, then the record) or
 * without one (an event: one statement), and the jobs around it are stored. */
static void test_a_job_that_fails_alone_leaves_nothing_of_itself(void **state)
{
    (void)state;
    char path[128], err[640];
    snprintf(path, sizeof(path), "%s/alone.db", dir);
    struct store *s = NULL;
    struct backend_writer *bw = NULL;
    assert_int_equal(store_open(path, &OPT, &s, err, sizeof(err)), IH_OK);
    assert_int_equal(s->ops->writer_attach(s, &bw), IH_OK);
    struct store_event ev[5];
    fill_event(&ev[0], "a-0", "{\"a\":0}");
    fill_event(&ev[1], "a-1", "{\"a\":1}"); /* no payload: its INSERT fails (NOT NULL) */
    free(ev[1].payload);
    ev[1].payload = NULL;
    fill_event(&ev[2], "a-2", "{\"a\":2}"); /* a domain event: its serial is written, then its INSERT fails */
    ev[2].source = "amiko.domain_event";
    ev[2].has_serial = true;
    ev[2].entity_type = strdup("case");
    ev[2].entity_id = strdup("c-1");
    ev[2].serial = 7;
    free(ev[2].payload);
    ev[2].payload = NULL;
    fill_event(&ev[3], "a-3", "{\"a\":3}");
    fill_event(&ev[4], "a-4", "{\"a\":4}"); /* the same entity again: no serial was kept */
    ev[4].source = "amiko.domain_event";
    ev[4].has_serial = true;
    ev[4].entity_type = strdup("case");
    ev[4].entity_id = strdup("c-1");
    ev[4].serial = 3;
    for (int i = 0; i < 4; i++)
        ev[i].job.next = &ev[i + 1].job;
    struct store_error e;
    assert_int_equal(s->ops->writer_run(bw, &ev[0].job, 5, &e), BATCH_COMMITTED);
    assert_int_equal(ev[0].job.rc, IH_OK);
    assert_int_not_equal(ev[1].job.rc, IH_OK);
    assert_int_not_equal(ev[2].job.rc, IH_OK);
    assert_int_equal(ev[3].job.rc, IH_OK);
    assert_int_equal(ev[4].job.rc, IH_OK);
    assert_int_equal(ev[4].serial_last, -1); /* the failed job's serial 7 is not there */
    assert_int_equal(ev[4].serial_note, EVENTS_SERIAL_NONE);
    s->ops->writer_detach(bw);
    for (int i = 0; i < 5; i++)
        events_clear(&ev[i]);

    int64_t seen[2] = {0, 0};
    struct feed_scan_result res;
    assert_int_equal(feed_scan_commit_order(s, (struct feed_pos){0, 0}, 10, count_row, seen, &res), IH_OK);
    assert_int_equal(seen[0], 3); /* a-0, a-3, a-4 */
    store_close(s);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The writer waits for requests on their way (writer_expect) only while they keep coming:
 * requests that never submit (a body sent slowly, a client gone) cannot stall commits. */
static void test_expected_requests_that_never_come_do_not_stall_commits(void **state)
{
    (void)state;
    char path[128], err[640];
    snprintf(path, sizeof(path), "%s/linger.db", dir);
    struct store *s = NULL;
    struct writer *w = NULL;
    assert_int_equal(store_open(path, &OPT, &s, err, sizeof(err)), IH_OK);
    struct writer_options wo = {.batch_max = 8, .queue_max = 16};
    assert_int_equal(writer_start(s, &wo, &w), IH_OK);
    struct store_event ev;
    fill_event(&ev, "l-0", "{\"a\":0}"); /* a first commit: the writer knows how long one takes */
    assert_int_equal(run_job(w, &ev.job), IH_OK);
    events_clear(&ev);
    double one = 0, t0 = mono_s();
    fill_event(&ev, "l-1", "{\"a\":1}");
    assert_int_equal(run_job(w, &ev.job), IH_OK);
    events_clear(&ev);
    one = mono_s() - t0;

    for (int i = 0; i < 100; i++)
        writer_expect(w); /* a hundred requests that will never submit */
    t0 = mono_s();
    for (int i = 2; i < 12; i++) {
        char key[16], payload[32];
        snprintf(key, sizeof(key), "l-%d", i);
        snprintf(payload, sizeof(payload), "{\"a\":%d}", i);
        fill_event(&ev, key, payload);
        assert_int_equal(run_job(w, &ev.job), IH_OK);
        assert_int_equal(ev.outcome, EVENTS_INSERTED);
        events_clear(&ev);
    }
    /* each waited at most one step (an eighth of a commit) for them; with a wide margin
     * for a loaded machine: ten commits in less than forty times the time of one plus 2 s */
    assert_true(mono_s() - t0 < 40 * one + 2.0);
    for (int i = 0; i < 100; i++)
        writer_unexpect(w);
    writer_unexpect(NULL); /* no writer (no store): nothing to count */
    writer_expect(NULL);

    writer_free(w);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_from_the_form_of_the_name),
        cmocka_unit_test(test_what_cannot_be_opened_is_refused_at_once),
        cmocka_unit_test(test_sqlite_store_says_what_it_is),
        cmocka_unit_test(test_feed_positions_order_by_a_then_b),
        cmocka_unit_test(test_jobs_carry_a_kind),
        cmocka_unit_test(test_a_job_that_fails_alone_leaves_nothing_of_itself),
        cmocka_unit_test(test_expected_requests_that_never_come_do_not_stall_commits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
