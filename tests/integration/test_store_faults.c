/* When the store cannot take a write: 503 with Retry-After, nothing half-written, /health
 * failing with the store's reason, one log line per distinct error, and the daemon
 * recovers by itself when the store does. On both stores: a lock another session holds
 * past the busy timeout. SQLite's own faults are made on its files (max_page_count, a
 * small tmpfs, file modes, a read-only mount, the -wal file); PostgreSQL's are its server
 * stopped (or crashed) under load and started again, with nothing acknowledged lost, and
 * a node started while it is down, whose PAN key is checked once it is back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "load.h"

static const char *const AMIKO[] = {"Content-Type: application/json", "X-API-Key: " KEY_FULL,
                                    "tracing-id: faults", NULL};

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Lines of the daemon's log that contain needle. */
static int log_count(const struct daemon *d, const char *needle)
{
    daemon_log_sync(d); /* a store that cannot take writes still answers /health */
    FILE *f = fopen(d->log, "r");
    char line[8192];
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* GET /health: its status; with want, the store check's output must contain it. */
static long health_output(const struct daemon *d, const char *want)
{
    struct http_resp r;
    assert_true(http_get(d, "/health", NULL, &r));
    long st = r.status;
    if (want) {
        char name[64];
        snprintf(name, sizeof(name), "\"%s\"", store_health_check());
        const char *check = strstr(r.body, name);
        assert_non_null(check);
        if (!strstr(check, want))
            fail_msg("health does not say '%s': %s", want, r.body);
        assert_non_null(strstr(check, "\"status\":\"fail\""));
    }
    http_resp_free(&r);
    return st;
}

/* Waits up to secs for /health to answer status. */
static bool health_becomes(const struct daemon *d, long status, int secs)
{
    for (int i = 0; i < secs * 10; i++) {
        struct http_resp r;
        bool ok = http_get(d, "/health", NULL, &r) && r.status == status;
        http_resp_free(&r);
        if (ok)
            return true;
        pause_ms(100);
    }
    return false;
}

/* A small file system of our own for the database (tmpfs, size= bytes), unmounted by
 * the teardown; false where this process may not mount (then the test is skipped). */
static char mounted[300];

static bool small_fs(struct daemon *d, const char *size)
{
    snprintf(d->dir, sizeof(d->dir), "/tmp/ihtest.XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(mounted, sizeof(mounted), "%s/vol", d->dir);
    assert_int_equal(mkdir(mounted, 0700), 0);
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
    if (mount("tmpfs", mounted, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        fprintf(stderr, "cannot mount a tmpfs (%s): skipped\n", strerror(errno));
        mounted[0] = '\0';
        daemon_cleanup(d);
        return false;
    }
    snprintf(d->db, sizeof(d->db), "%s/issuerhook.db", mounted);
    snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
    return true;
}

static void small_fs_remount(bool readonly)
{
    assert_int_equal(mount(NULL, mounted, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV | (readonly ? MS_RDONLY : 0), NULL),
                     0);
}

static int unmount_small_fs(void **state)
{
    (void)state;
    if (mounted[0] && umount2(mounted, MNT_DETACH) != 0)
        fprintf(stderr, "cannot unmount %s: %s\n", mounted, strerror(errno));
    mounted[0] = '\0';
    return 0;
}

/* Writes zeros into path until the file system is full. */
static void fill(const char *path)
{
    static const char zeros[65536];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    while (write(fd, zeros, sizeof(zeros)) > 0)
        ;
    assert_int_equal(errno, ENOSPC);
    while (write(fd, zeros, 512) > 0) /* and the last partial block */
        ;
    close(fd);
}

/* Another session holds the lock every write needs (SQLite's write lock; a lock on
 * PostgreSQL's records table) longer than the daemon waits: 503 with Retry-After, nothing
 * stored, counted; once it is free the caller's retry is stored, once. What /health and
 * the log say depends on whose the lock is (harness.h: store_busy). */
static void test_locked_database_503_then_recovers(void **state)
{
    (void)state;
    const struct store_busy *busy = store_busy();
    struct daemon d = {.extra_env = {"ISSUERHOOK_BUSY_TIMEOUT_MS=200", "ISSUERHOOK_RETRY_AFTER=2", NULL}};
    assert_true(daemon_start(&d));
    char id[37], sql[160];
    test_uuid(id);
    struct store_lock *other = store_lock_writes(&d);
    assert_non_null(other);
    struct http_resp r;
    assert_int_equal(post_event(&d, AMIKO, id, &r), 503);
    assert_string_equal(r.retry_after, "2");
    assert_non_null(strstr(r.body, "\"error\""));
    http_resp_free(&r);
    assert_int_equal(post_event(&d, AMIKO, id, NULL), 503);
    assert_int_equal(health_output(&d, busy->words), busy->health);
    assert_true(log_count(&d, busy->log_words) >= 1);
    assert_true(log_count(&d, busy->log_words) <= 2); /* once (SQLite), or once per refused write */
    store_unlock(other);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE idem_key='%s'", id);
    assert_int_equal(db_scalar(&d, sql), 0);
    /* the lock is gone: the caller's retry is stored, once */
    assert_int_equal(post_event(&d, AMIKO, id, NULL), 200);
    assert_int_equal(post_event(&d, AMIKO, id, NULL), 200);
    assert_int_equal(db_scalar(&d, sql), 1);
    assert_true(metric_value(&d, "issuerhook_store_errors_total{kind=\"busy\"}") >= 2);
    assert_int_equal(health_output(&d, NULL), 200);
    assert_int_equal(log_count(&d, busy->recovered ? busy->recovered : "the store takes writes again"),
                     busy->recovered ? 1 : 0);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

static void test_full_database_503_and_nothing_half_written(void **state)
{
    (void)state;
    struct daemon d = {.extra_env = {"ISSUERHOOK_DB_MAX_BYTES=192KiB", NULL}};
    assert_true(daemon_start(&d));
    long acked = 0, refused = 0;
    for (int i = 0; i < 5000 && refused < 3; i++) {
        char id[37];
        test_uuid(id);
        struct http_resp r;
        long st = post_event(&d, AMIKO, id, &r);
        if (st == 200) {
            acked++;
        } else {
            assert_int_equal(st, 503);
            assert_true(r.retry_after[0] != '\0');
            refused++;
        }
        http_resp_free(&r);
    }
    assert_true(acked > 0);
    assert_int_equal(refused, 3);
    /* every acknowledged event is there, nothing else */
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), acked);
    assert_int_equal(db_scalar(&d, "PRAGMA integrity_check") == -1, 0); /* SQLite's own check */
    /* still serving */
    struct http_resp r;
    assert_true(http_get(&d, "/health", NULL, &r));
    assert_true(r.status == 200 || r.status == 503);
    http_resp_free(&r);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

static const char *health_status(struct daemon *d, long *code)
{
    static char st[16];
    struct http_resp r;
    assert_true(http_get(d, "/health", NULL, &r));
    *code = r.status;
    const char *p = strstr(r.body, "\"status\":\"");
    assert_non_null(p);
    snprintf(st, sizeof(st), "%.4s", p + 10);
    assert_non_null(strstr(r.body, "\"disk:free\""));
    http_resp_free(&r);
    return st;
}

/* Free disk under the thresholds: warn answers 200, fail answers 503. */
static void test_health_warn_and_fail(void **state)
{
    (void)state;
    long code;
    struct daemon w = {.extra_env = {"ISSUERHOOK_DISK_WARN=1000000GiB", NULL}};
    assert_true(daemon_start(&w));
    assert_string_equal(health_status(&w, &code), "warn");
    assert_int_equal(code, 200);
    assert_int_equal(daemon_stop(&w, SIGTERM), 0);
    daemon_cleanup(&w);
    struct daemon f = {.extra_env = {"ISSUERHOOK_DISK_WARN=1000000GiB", "ISSUERHOOK_DISK_FAIL=1000000GiB", NULL}};
    assert_true(daemon_start(&f));
    assert_string_equal(health_status(&f, &code), "fail");
    assert_int_equal(code, 503);
    assert_int_equal(daemon_stop(&f, SIGTERM), 0);
    daemon_cleanup(&f);
}

/* A small disk fills up while the daemon serves, and it is restarted on the full disk:
 * it starts all the same, answers writes 503 with Retry-After, /health fails saying the
 * disk is full, the log says it once; once space is freed it takes writes again by
 * itself, without a request to wake it. Nothing acknowledged is lost. */
static void test_small_disk_fills_then_frees(void **state)
{
    (void)state;
    struct daemon d = {.extra_env = {"ISSUERHOOK_DISK_WARN=0", "ISSUERHOOK_DISK_FAIL=0", "ISSUERHOOK_RETRY_AFTER=2",
                                     NULL}};
    if (!small_fs(&d, "4m"))
        skip();
    assert_true(daemon_start(&d));
    long acked = 0, refused = 0;
    for (int i = 0; i < 20; i++)
        acked += post_event(&d, AMIKO, NULL, NULL) == 200;
    assert_int_equal(acked, 20);
    char filler[400];
    snprintf(filler, sizeof(filler), "%s/filler", mounted);
    fill(filler);
    char last[37] = "";
    for (int i = 0; i < 5000 && refused < 20; i++) {
        struct http_resp r;
        char id[37];
        test_uuid(id);
        long st = post_event(&d, AMIKO, id, &r);
        if (st == 200) {
            acked++;
        } else {
            assert_int_equal(st, 503);
            assert_string_equal(r.retry_after, "2");
            refused++;
            memcpy(last, id, sizeof(id));
        }
        http_resp_free(&r);
    }
    assert_int_equal(refused, 20);
    assert_int_equal(health_output(&d, "full"), 503);
    /* one line per distinct error, not one per refusal */
    int lines = log_count(&d, "the store cannot take writes");
    assert_true(lines >= 1 && lines <= 3);
    assert_true(metric_value(&d, "issuerhook_store_errors_total{kind=\"full\"}") >= 1);
    assert_true(metric_value(&d, "issuerhook_store_writable") == 0);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);

    /* restarted on the full disk: it serves (503), it does not exit */
    assert_true(daemon_start(&d));
    assert_int_equal(log_count(&d, "the database cannot take writes yet"), 1);
    assert_int_equal(health_output(&d, "writes fail since"), 503);
    struct http_resp r;
    assert_int_equal(post_event(&d, AMIKO, last, &r), 503);
    assert_string_equal(r.retry_after, "2");
    http_resp_free(&r);

    /* space comes back: the daemon notices by itself */
    assert_int_equal(unlink(filler), 0);
    assert_true(health_becomes(&d, 200, 15));
    assert_int_equal(log_count(&d, "the store takes writes again"), 1);
    assert_true(metric_value(&d, "issuerhook_store_writable") == 1);
    assert_int_equal(post_event(&d, AMIKO, last, NULL), 200);
    assert_int_equal(post_event(&d, AMIKO, last, NULL), 200); /* a replay */
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), acked + 1);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
    unmount_small_fs(NULL);
    daemon_cleanup(&d);
}

/* The store can be made read-only in two ways: a file without write permission (what an
 * operator's restore as another user leaves), or a file system remounted read-only. */
enum readonly_how { RO_FILE, RO_MOUNT };

static char wrapper_env[600];

/* As root, the daemon runs as nobody (through setpriv), for whom file modes count; false
 * when nobody cannot reach the build tree (this test's own binary sits in it). */
static bool run_unprivileged(struct daemon *d)
{
    if (geteuid() != 0)
        return true;
    char self[300] = "", cmd[400];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0)
        self[n] = '\0';
    snprintf(cmd, sizeof(cmd), "setpriv --reuid=65534 --regid=65534 --clear-groups test -x '%s'", self);
    if (n <= 0 || system(cmd) != 0) {
        fprintf(stderr, "the user nobody cannot run programs of this build tree: skipped\n");
        return false;
    }
    snprintf(d->dir, sizeof(d->dir), "/tmp/ihtest.XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->db, sizeof(d->db), "%s/var/issuerhook.db", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
    assert_int_equal(chown(d->dir, 65534, 65534), 0);
    const char *outer = getenv("IH_DAEMON_WRAPPER"); /* e.g. valgrind: inside setpriv */
    snprintf(wrapper_env, sizeof(wrapper_env), "setpriv --reuid=65534 --regid=65534 --clear-groups %s",
             outer ? outer : "");
    setenv("IH_DAEMON_WRAPPER", wrapper_env, 1);
    if (outer)
        setenv("IH_OUTER_WRAPPER", outer, 1);
    return true;
}

static int restore_wrapper(void **state)
{
    const char *outer = getenv("IH_OUTER_WRAPPER");
    if (outer)
        setenv("IH_DAEMON_WRAPPER", outer, 1);
    else if (wrapper_env[0])
        unsetenv("IH_DAEMON_WRAPPER");
    unsetenv("IH_OUTER_WRAPPER");
    wrapper_env[0] = '\0';
    return unmount_small_fs(state);
}

static void make_readonly(const struct daemon *d, enum readonly_how how, bool readonly)
{
    if (how == RO_MOUNT) {
        small_fs_remount(readonly);
        return;
    }
    /* SQLite gives the -wal and -shm files it makes the database's mode: all three */
    const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char f[400];
        snprintf(f, sizeof(f), "%s%s", d->db, suffix[i]);
        assert_true(chmod(f, readonly ? 0440 : 0640) == 0 || errno == ENOENT);
    }
}

/* A read-only database: the daemon starts, says why writes fail at start and in /health,
 * answers 503 without a log line per request, and takes writes again by itself once the
 * store can be written. */
static void readonly_then_writable(enum readonly_how how)
{
    struct daemon d = {.extra_env = {"ISSUERHOOK_DISK_WARN=0", "ISSUERHOOK_DISK_FAIL=0", NULL}};
    if (how == RO_MOUNT && !small_fs(&d, "8m"))
        skip();
    if (how == RO_FILE && !run_unprivileged(&d))
        skip();
    assert_true(daemon_start(&d));
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    make_readonly(&d, how, true);

    assert_true(daemon_start(&d));
    assert_int_equal(log_count(&d, "the database cannot take writes yet"), 1);
    assert_int_equal(health_output(&d, how == RO_MOUNT ? "its folder cannot be written" : "readonly"), 503);
    for (int i = 0; i < 5; i++) {
        struct http_resp r;
        assert_int_equal(post_event(&d, AMIKO, NULL, &r), 503);
        assert_true(r.retry_after[0] != '\0');
        http_resp_free(&r);
    }
    assert_int_equal(log_count(&d, "the store cannot take writes"), 0); /* the start line said it */
    assert_true(metric_value(&d, "issuerhook_store_errors_total{kind=\"readonly\"}") >= 5);
    assert_true(metric_value(&d, "issuerhook_store_writable") == 0);

    make_readonly(&d, how, false);
    assert_true(health_becomes(&d, 200, 15));
    assert_int_equal(log_count(&d, "\"writes_refused\":\"5\""), 1);
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 2);
    unmount_small_fs(NULL);
    daemon_cleanup(&d);
}

static void test_readonly_database_file_then_writable(void **state)
{
    (void)state;
    readonly_then_writable(RO_FILE);
}

static void test_readonly_file_system_then_writable(void **state)
{
    (void)state;
    readonly_then_writable(RO_MOUNT);
}

/* A daemon that starts while its store cannot be read cannot check its PAN key then: it
 * writes nothing until it has (a restored folder with another key must not start taking
 * card data under it once the store comes back). */
static void test_pan_key_checked_when_the_store_comes_back(void **state)
{
    (void)state;
    struct daemon d = {.extra_env = {"ISSUERHOOK_DISK_WARN=0", "ISSUERHOOK_DISK_FAIL=0", NULL, NULL, NULL}};
    if (!small_fs(&d, "8m"))
        skip();
    assert_true(daemon_start(&d)); /* the development key is recorded */
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    char key[300], keyenv[340], cmd[700];
    snprintf(key, sizeof(key), "%s/other.key", d.dir); /* outside the database's folder */
    snprintf(cmd, sizeof(cmd), "head -c 32 /dev/urandom > '%s' && chmod 0600 '%s'", key, key);
    assert_int_equal(system(cmd), 0);
    snprintf(keyenv, sizeof(keyenv), "ISSUERHOOK_PAN_KEY_FILE=%s", key);
    d.extra_env[2] = "ISSUERHOOK_PAN_KEY_DEVELOPMENT=false";
    d.extra_env[3] = keyenv;
    make_readonly(&d, RO_MOUNT, true);
    assert_true(daemon_start(&d)); /* it cannot read the store: it starts, writes nothing */
    assert_int_equal(log_count(&d, "the PAN key cannot be checked against the database yet"), 1);
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 503);
    make_readonly(&d, RO_MOUNT, false);
    /* the store is back; the key is not the database's: still nothing is written */
    bool said = false;
    for (int i = 0; i < 100 && !said; i++) {
        struct http_resp r;
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        if (http_get(&d, "/health", NULL, &r)) {
            said = strstr(r.body, "is not the key this database") != NULL;
            http_resp_free(&r);
        }
    }
    assert_int_equal(health_output(&d, "is not the key this database's tokens are made with"), 503);
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 503);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 1);
    unmount_small_fs(NULL);
    daemon_cleanup(&d);
}

struct wal_watch {
    const struct daemon *d;
    volatile bool stop;
    long long peak;
    int acked;
};

static void *watch_wal(void *arg)
{
    struct wal_watch *w = arg;
    char wal[400];
    snprintf(wal, sizeof(wal), "%s-wal", w->d->db);
    while (!w->stop) {
        struct stat sb;
        if (stat(wal, &sb) == 0 && sb.st_size > w->peak)
            w->peak = sb.st_size;
        pause_ms(5);
    }
    return NULL;
}

static void *post_400(void *arg)
{
    struct wal_watch *w = arg;
    int ok = 0;
    for (int i = 0; i < 400; i++)
        ok += post_event(w->d, AMIKO, NULL, NULL) == 200;
    __atomic_add_fetch(&w->acked, ok, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Commits never checkpoint; the background checkpointer keeps the WAL small under load
 * (the old wal_autocheckpoint let it reach 16 MiB and stay there) and cuts it to nothing
 * once writes stop. */
static void test_wal_checkpointed_in_the_background(void **state)
{
    (void)state;
    struct daemon d = {0};
    assert_true(daemon_start(&d));
    struct wal_watch w = {.d = &d};
    pthread_t watcher, senders[4];
    assert_int_equal(pthread_create(&watcher, NULL, watch_wal, &w), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&senders[i], NULL, post_400, &w), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(senders[i], NULL);
    w.stop = true;
    pthread_join(watcher, NULL);
    assert_int_equal(w.acked, 1600);
    /* the writer holds back once the WAL passes 8 MiB (12: room for a slow machine) */
    fprintf(stderr, "WAL peak under load: %.2f MiB\n", (double)w.peak / 1048576);
    assert_true(w.peak <= 12 * 1024 * 1024);
    assert_true(metric_value(&d, "issuerhook_wal_checkpoints_total{mode=\"passive\"}") >= 1);
    /* idle: truncated to 0 bytes within a few seconds */
    char wal[400];
    snprintf(wal, sizeof(wal), "%s-wal", d.db);
    struct stat sb = {.st_size = 1};
    for (int i = 0; i < 100; i++) {
        if (stat(wal, &sb) != 0)
            sb.st_size = 0;
        if (sb.st_size == 0 && metric_value(&d, "issuerhook_wal_checkpoints_total{mode=\"truncate\"}") >= 1)
            break;
        pause_ms(100);
    }
    assert_int_equal(sb.st_size, 0);
    assert_true(metric_value(&d, "issuerhook_wal_checkpoints_total{mode=\"truncate\"}") >= 1);
    assert_true(metric_value(&d, "issuerhook_wal_bytes") == 0);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 1600);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* ---- PostgreSQL's server stopped and started again ---- */

/* The server stops (fast: sessions ended; immediate: a crash, recovery at the next start)
 * while four clients post, retrying what is not acknowledged: writes answer 503 with
 * Retry-After (never 4xx, never a dropped connection), /health fails on the store's
 * check, the daemon reconnects by itself once the server is back, and every event is
 * then acknowledged and stored exactly once. */
static void server_restart_under_load(const char *mode)
{
    struct daemon d = {.pg_private = true, .extra_env = {"ISSUERHOOK_RETRY_AFTER=1", NULL}};
    assert_true(daemon_start(&d));
    struct daemon *nodes[] = {&d};
    struct load_options o = {.nodes = nodes, .nnodes = 1, .clients = 4, .per_client = load_scaled(500, 50),
                             .conns = 4, .retry = true, .retry_ms = 100, .deadline_s = 120};
    struct load *l = load_start(&o);
    assert_non_null(l);
    size_t total = o.clients * o.per_client;
    for (int i = 0; i < 3000 && load_acked(l) < total / 3; i++)
        pause_ms(10);
    assert_true(load_acked(l) >= total / 3);
    assert_true(store_server_stop(&d, mode));
    for (int i = 0; i < 1000 && load_answers(l, 503) == 0; i++)
        pause_ms(10);
    assert_true(load_answers(l, 503) > 0);
    struct http_resp r;
    assert_int_equal(post_event(&d, AMIKO, NULL, &r), 503);
    assert_string_equal(r.retry_after, "1");
    http_resp_free(&r);
    assert_int_equal(health_output(&d, "fail"), 503);
    pause_ms(1000); /* an outage of a second and more: the reconnects back off */
    assert_true(store_server_start(&d));
    load_wait(l);
    print_message("%s stop: %zu events, %zu answers 503, %zu 2xx\n", mode, total, load_answers(l, 503),
                  load_answers_between(l, 200, 300));
    assert_int_equal(load_acked(l), total);
    assert_int_equal(load_answers_between(l, 400, 500), 0);
    assert_int_equal(load_answers(l, 0), 0); /* every request answered: nothing crashed */
    assert_int_equal(load_missing(l, &d), 0);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records WHERE source = 'amiko.event'"), (long long)total);
    assert_true(health_becomes(&d, 200, 15));
    assert_true(log_count(&d, "the store takes writes again") >= 1);
    assert_true(metric_value(&d, "issuerhook_store_writable") == 1);
    load_free(l);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

static void test_postgresql_restart_under_load(void **state)
{
    (void)state;
    server_restart_under_load("fast");
}

static void test_postgresql_crash_under_load(void **state)
{
    (void)state;
    server_restart_under_load("immediate");
}

/* A node started while PostgreSQL is down cannot check its PAN key: it starts, writes
 * nothing, and once the server is back and the key is not the database's, still writes
 * nothing and says why (the twin of test_pan_key_checked_when_the_store_comes_back). */
static void test_pan_key_checked_when_postgresql_comes_back(void **state)
{
    (void)state;
    struct daemon d = {.pg_private = true, .extra_env = {NULL, NULL, NULL}};
    assert_true(daemon_start(&d)); /* the store's key is recorded */
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    char key[300], keyenv[340], cmd[700];
    snprintf(key, sizeof(key), "%s/other.key", d.dir);
    snprintf(cmd, sizeof(cmd), "head -c 32 /dev/urandom > '%s' && chmod 0600 '%s'", key, key);
    assert_int_equal(system(cmd), 0);
    snprintf(keyenv, sizeof(keyenv), "ISSUERHOOK_PAN_KEY_FILE=%s", key);
    d.extra_env[0] = keyenv;
    assert_true(store_server_stop(&d, "fast"));
    assert_true(daemon_start(&d)); /* it cannot reach the store: it starts, writes nothing */
    assert_int_equal(log_count(&d, "the PAN key cannot be checked against the database yet"), 1);
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 503);
    assert_true(store_server_start(&d));
    bool said = false;
    for (int i = 0; i < 150 && !said; i++) {
        struct http_resp r;
        pause_ms(100);
        if (http_get(&d, "/health", NULL, &r)) {
            said = strstr(r.body, "is not the key this database") != NULL;
            http_resp_free(&r);
        }
    }
    assert_int_equal(health_output(&d, "is not the key this database's tokens are made with"), 503);
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 503);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 1);
    daemon_cleanup(&d);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_locked_database_503_then_recovers)),
        IH_SQLITE_TEST(cmocka_unit_test(test_full_database_503_and_nothing_half_written),
                       "ISSUERHOOK_DB_MAX_BYTES is SQLite's max_page_count; a PostgreSQL database's size is its "
                       "server's to bound"),
        IH_SQLITE_TEST(cmocka_unit_test(test_health_warn_and_fail),
                       "disk:free measures the file system of SQLite's file"),
        IH_SQLITE_TEST(cmocka_unit_test_teardown(test_small_disk_fills_then_frees, unmount_small_fs),
                       "a small tmpfs under SQLite's file (PostgreSQL's disk is its server's; the server "
                       "stopped and crashed is test_postgresql_*)"),
        IH_SQLITE_TEST(cmocka_unit_test_teardown(test_readonly_database_file_then_writable, restore_wrapper),
                       "the mode of SQLite's file"),
        IH_SQLITE_TEST(cmocka_unit_test_teardown(test_pan_key_checked_when_the_store_comes_back, unmount_small_fs),
                       "SQLite's file on a read-only mount; test_pan_key_checked_when_postgresql_comes_back is "
                       "PostgreSQL's"),
        IH_SQLITE_TEST(cmocka_unit_test_teardown(test_readonly_file_system_then_writable, unmount_small_fs),
                       "a read-only mount under SQLite's file"),
        IH_SQLITE_TEST(cmocka_unit_test(test_wal_checkpointed_in_the_background),
                       "SQLite's -wal file (PostgreSQL's WAL is its server's)"),
        IH_PG_TEST(cmocka_unit_test(test_postgresql_restart_under_load), "PostgreSQL's server stopped"),
        IH_PG_TEST(cmocka_unit_test(test_postgresql_crash_under_load), "PostgreSQL's server crashed"),
        IH_PG_TEST(cmocka_unit_test(test_pan_key_checked_when_postgresql_comes_back),
                   "PostgreSQL's server down at start"),
    };
    return IH_RUN_TESTS(tests, NULL, NULL);
}
