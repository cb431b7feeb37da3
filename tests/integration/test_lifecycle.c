/* The daemon as a process: migrations, refusing a newer database, configuration
 * errors, keygen, a clean SIGTERM, one daemon per port, and listen errors said with
 * the OS's words before anything is written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "issuerhook/migrate.h"
#include "issuerhook/version.h"

/* An Amiko sender with the full test key. */
static const char *const AMIKO[] = {"Content-Type: application/json", "tracing-id: lifecycle", "X-API-Key: " KEY_FULL,
                                    NULL};

static void test_migrate_command_and_newer_database(void **state)
{
    (void)state;
    struct daemon d = {0};
    char env[800], *out = NULL;
    assert_true(daemon_prepare(&d));
    store_env(&d, env, sizeof(env));
    assert_int_equal(daemon_run(env, "migrate", &out), 0);
    assert_non_null(strstr(out, "migration applied"));
    free(out);
    /* again: nothing to do */
    assert_int_equal(daemon_run(env, "migrate", &out), 0);
    assert_null(strstr(out, "migration applied"));
    free(out);
    int latest = 0;
    size_t count = store_migrations(&latest);
    assert_int_equal(db_scalar(&d, "SELECT max(version) FROM schema_migrations"), latest);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM schema_migrations"), (long long)count);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 0);
    /* a database written by a newer issuerhookd is refused, clearly */
    assert_true(db_exec(&d, "INSERT INTO schema_migrations(version, name) VALUES (9999, 'future')"));
    assert_int_equal(daemon_run(env, "migrate", &out), 1);
    assert_non_null(strstr(out, "newer than this issuerhookd"));
    free(out);
    daemon_cleanup(&d);
}

static void test_bad_configuration_names_the_key(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(daemon_run("ISSUERHOOK_MAX_BODY=lots", "", &out), 2);
    assert_non_null(strstr(out, "ISSUERHOOK_MAX_BODY"));
    free(out);
    assert_int_equal(daemon_run("ISSUERHOOK_LISTEN=8080", "", &out), 2);
    assert_non_null(strstr(out, "ISSUERHOOK_LISTEN"));
    free(out);
    assert_int_equal(daemon_run("ISSUERHOOK_API_KEY_X='sha256:00 amiko:events'", "", &out), 2);
    assert_non_null(strstr(out, "ISSUERHOOK_API_KEY_X"));
    free(out);
    char file[] = "/tmp/ihconf.XXXXXX";
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    const char text[] = "# comment\nISSUERHOOK_LOG_LEVEL=info\nISSUERHOOK_THREADS=zero\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    char args[100];
    snprintf(args, sizeof(args), "--config %s", file);
    assert_int_equal(daemon_run("", args, &out), 2);
    assert_non_null(strstr(out, "ISSUERHOOK_THREADS"));
    assert_non_null(strstr(out, "line 3"));
    free(out);
    unlink(file);
}

static void test_keygen_key_works(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(daemon_run("", "keygen PARTNER amiko:events 2>/dev/null", &out), 0);
    char key[128], line[512];
    assert_int_equal(sscanf(out, "%127s\n%511[^\n]", key, line), 2);
    assert_true(strncmp(key, "ihk_", 4) == 0);
    assert_true(strncmp(line, "ISSUERHOOK_API_KEY_PARTNER=sha256:", 34) == 0);
    free(out);
    assert_int_equal(daemon_run("", "keygen PARTNER no:such:scope", &out), 2);
    free(out);

    struct daemon d = {.extra_env = {line, NULL}};
    assert_true(daemon_start(&d));
    char hdr[200];
    snprintf(hdr, sizeof(hdr), "X-API-Key: %s", key);
    const char *h[] = {"Content-Type: application/json", "tracing-id: kg", hdr, NULL};
    assert_int_equal(post_event(&d, h, NULL, NULL), 200);
    /* the log names the caller, never its key */
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    FILE *f = fopen(d.log, "r");
    char l[4096];
    bool named = false;
    while (f && fgets(l, sizeof(l), f)) {
        assert_null(strstr(l, key));
        named = named || strstr(l, "\"principal\":\"PARTNER\"");
    }
    if (f)
        fclose(f);
    assert_true(named);
    daemon_cleanup(&d);
}

static void test_sigterm_exits_zero_and_keeps_data(void **state)
{
    (void)state;
    struct daemon d = {0};
    assert_true(daemon_start(&d));
    for (int i = 0; i < 20; i++)
        assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 20);
    /* and it starts again on the same database */
    assert_true(daemon_start(&d));
    assert_int_equal(daemon_stop(&d, SIGINT), 0);
    daemon_cleanup(&d);
}

static void write_conf(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* One kept-alive connection: counts new connections, so a reload that drops one shows. */
static long post_on(CURL *c, int port, const char *key, long *new_connections)
{
    char url[80], hdr[120];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/events", port);
    snprintf(hdr, sizeof(hdr), "X-API-Key: %s", key);
    char id[37];
    test_uuid(id);
    char *body = amiko_event(id, "case_created");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "tracing-id: reload");
    h = curl_slist_append(h, hdr);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    long st = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, new_connections);
    fclose(sink);
    curl_slist_free_all(h);
    free(body);
    return st;
}

/* SIGHUP reloads the API keys without a restart and without dropping a connection;
 * a bad new file is refused and the old keys stay. */
static void test_sighup_reloads_keys(void **state)
{
    (void)state;
    char path[] = "/tmp/ihreload.XXXXXX", old_line[256], new_line[256], text[700];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    key_line("OLD", "old-partner-key", "amiko:events", old_line, sizeof(old_line));
    key_line("NEW", "new-partner-key", "amiko:events", new_line, sizeof(new_line));
    snprintf(text, sizeof(text), "%s\n", old_line);
    write_conf(path, text);
    /* as systemd starts it: the file is both --config and EnvironmentFile=, so its key
     * line is in the environment too, and must not outlive the file's next version */
    struct daemon d = {.config = path, .extra_env = {old_line, NULL}};
    assert_true(daemon_start(&d));
    /* c stays one connection across the reload; refusals (answered before the body is
     * read, which closes their connection) go on another */
    CURL *c = curl_easy_init(), *probe = curl_easy_init();
    long conns = 0, probe_conns = 0;
    assert_int_equal(post_on(c, d.port, "old-partner-key", &conns), 200);
    assert_int_equal(conns, 1);
    assert_int_equal(post_on(probe, d.port, "new-partner-key", &probe_conns), 401);

    snprintf(text, sizeof(text), "# rotated\n%s\n", new_line);
    write_conf(path, text);
    kill(d.pid, SIGHUP);
    assert_true(daemon_log_has(&d, "configuration reloaded", 5000));
    assert_int_equal(post_on(c, d.port, "new-partner-key", &conns), 200);
    assert_int_equal(conns, 0); /* the same connection served before and after */
    assert_int_equal(post_on(probe, d.port, "old-partner-key", &probe_conns), 401);

    write_conf(path, "ISSUERHOOK_THREADS=zero\n");
    kill(d.pid, SIGHUP);
    assert_true(daemon_log_has(&d, "the new configuration is refused", 5000));
    assert_true(daemon_log_has(&d, "ISSUERHOOK_THREADS", 5000));
    assert_int_equal(post_on(c, d.port, "new-partner-key", &conns), 200); /* the old settings stay */
    curl_easy_cleanup(c);
    curl_easy_cleanup(probe);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
    unlink(path);
}

/* A datagram socket standing in for systemd's notification socket. */
struct manager {
    char dir[32];
    char env[200]; /* NOTIFY_SOCKET=… for the daemon */
    int fd;
};

static int manager_open(struct manager *m)
{
    snprintf(m->dir, sizeof(m->dir), "/tmp/ihnotify.XXXXXX");
    assert_non_null(mkdtemp(m->dir));
    snprintf(m->env, sizeof(m->env), "NOTIFY_SOCKET=%s/notify", m->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", m->dir);
    m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(m->fd >= 0);
    assert_int_equal(bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return m->fd;
}

static void manager_close(struct manager *m)
{
    close(m->fd);
    char cmd[100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->dir);
    assert_int_equal(system(cmd), 0);
}

/* The next datagram from the daemon to its "service manager" within ms ("" if none). */
static void next_notification(int fd, int ms, char *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    buf[0] = '\0';
    if (poll(&p, 1, ms) == 1) {
        ssize_t n = recv(fd, buf, cap - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
    }
}

/* Waits up to ms for a notification starting with prefix, skipping watchdog pings. */
static bool expect_notification(int fd, const char *prefix, int ms, char *buf, size_t cap)
{
    for (int waited = 0; waited < ms; waited += 100) {
        next_notification(fd, 100, buf, cap);
        if (strncmp(buf, prefix, strlen(prefix)) == 0)
            return true;
    }
    return false;
}

/* Type=notify as systemd runs it: READY=1 only once the daemon answers, WATCHDOG=1
 * while the writer turns, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM. */
static void test_systemd_notify_and_watchdog(void **state)
{
    (void)state;
    struct manager m;
    char buf[512];
    int fd = manager_open(&m);

    struct daemon d = {.extra_env = {m.env, "WATCHDOG_USEC=3000000", NULL}};
    assert_true(daemon_start(&d));
    /* no core file, ever: memory can hold card numbers */
    char limits[64], line[256];
    snprintf(limits, sizeof(limits), "/proc/%d/limits", (int)d.pid);
    FILE *lf = fopen(limits, "r");
    assert_non_null(lf);
    bool no_core = false;
    while (fgets(line, sizeof(line), lf))
        if (strncmp(line, "Max core file size", 18) == 0) {
            char soft[32], hard[32];
            no_core = sscanf(line + 18, "%31s %31s", soft, hard) == 2 && !strcmp(soft, "0") && !strcmp(hard, "0");
        }
    fclose(lf);
    assert_true(no_core);
    /* the first thing systemd hears is READY=1, sent after the socket listens */
    next_notification(fd, 5000, buf, sizeof(buf));
    assert_non_null(strstr(buf, "READY=1"));
    assert_non_null(strstr(buf, "STATUS=listening on 127.0.0.1:"));
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    /* a ping every second (interval / 3) */
    assert_true(expect_notification(fd, "WATCHDOG=1", 2500, buf, sizeof(buf)));
    assert_true(expect_notification(fd, "WATCHDOG=1", 2500, buf, sizeof(buf)));

    kill(d.pid, SIGHUP);
    assert_true(expect_notification(fd, "RELOADING=1\nMONOTONIC_USEC=", 3000, buf, sizeof(buf)));
    assert_true(expect_notification(fd, "READY=1", 3000, buf, sizeof(buf)));

    kill(d.pid, SIGTERM);
    assert_true(expect_notification(fd, "STOPPING=1", 3000, buf, sizeof(buf)));
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
    manager_close(&m);
}

struct one_post {
    const struct daemon *d;
    long status;
};

static void *post_one(void *arg)
{
    struct one_post *p = arg;
    p->status = post_event(p->d, AMIKO, NULL, NULL);
    return NULL;
}

/* Counts WATCHDOG=1 datagrams for ms. */
static int watchdog_pings(int fd, int ms)
{
    char buf[256];
    int n = 0;
    for (int waited = 0; waited < ms; waited += 100) {
        next_notification(fd, 100, buf, sizeof(buf));
        n += strcmp(buf, "WATCHDOG=1") == 0;
    }
    return n;
}

/* The watchdog proves the writer: while the writer is stuck in a commit (another
 * session holds the lock its writes need: SQLite's write lock, or a lock on PostgreSQL's
 * records table), the pings stop, so systemd would restart the daemon; when the writer
 * moves again, they resume and the write is acknowledged. */
static void test_watchdog_stops_while_the_writer_is_stuck(void **state)
{
    (void)state;
    struct manager m;
    int fd = manager_open(&m);
    struct daemon d = {.extra_env = {m.env, "WATCHDOG_USEC=3000000", "ISSUERHOOK_BUSY_TIMEOUT_MS=30000", NULL}};
    assert_true(daemon_start(&d));
    assert_true(watchdog_pings(fd, 2500) >= 2);

    struct store_lock *other = store_lock_writes(&d);
    assert_non_null(other);
    struct one_post p = {.d = &d};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, post_one, &p), 0);
    watchdog_pings(fd, 3500);                /* the last pings from before the writer stuck */
    assert_int_equal(watchdog_pings(fd, 2500), 0);
    assert_true(daemon_log_has(&d, "pings withheld", 5000));

    store_unlock(other);
    pthread_join(t, NULL);
    assert_int_equal(p.status, 200); /* waited for, not lost */
    assert_true(watchdog_pings(fd, 2500) >= 1);
    assert_true(daemon_log_has(&d, "pings resumed", 5000));
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
    manager_close(&m);
}

struct load {
    const struct daemon *d;
    int acked;
};

static void *post_many(void *arg)
{
    struct load *l = arg;
    for (int i = 0; i < 300; i++)
        if (post_event(l->d, AMIKO, NULL, NULL) == 200)
            l->acked++;
    return NULL;
}

/* `issuerhookd backup` while the daemon takes writes: a consistent, self-contained
 * copy that a daemon can serve from; an existing file is never overwritten.
 * SQLite-specific: backup copies SQLite files (PRAGMAs check the copy). */
static void test_online_backup_and_restore(void **state)
{
    (void)state;
    struct daemon d = {0};
    assert_true(daemon_start(&d));
    char first[37];
    test_uuid(first);
    assert_int_equal(post_event(&d, AMIKO, first, NULL), 200);
    for (int i = 0; i < 50; i++)
        assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);

    struct load l = {.d = &d};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, post_many, &l), 0);
    char env[400], dest[300], args[500], *out = NULL;
    snprintf(env, sizeof(env), "ISSUERHOOK_DB=%s", d.db);
    snprintf(dest, sizeof(dest), "%s/backup.db", d.dir);
    snprintf(args, sizeof(args), "backup '%s'", dest);
    assert_int_equal(daemon_run(env, args, &out), 0);
    assert_non_null(strstr(out, "records"));
    free(out);
    pthread_join(t, NULL);
    assert_int_equal(l.acked, 300); /* the daemon never stalled for the copy */

    struct stat sb;
    assert_int_equal(stat(dest, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    struct daemon copy = {0};
    snprintf(copy.db, sizeof(copy.db), "%s", dest);
    long long n = db_scalar(&copy, "SELECT count(*) FROM records");
    assert_true(n >= 51 && n <= 351);
    assert_int_equal(db_scalar(&copy, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
    assert_int_equal(db_scalar(&copy, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'delete'"), 1);
    char wal[420];
    snprintf(wal, sizeof(wal), "%s-wal", dest);
    assert_int_not_equal(access(wal, F_OK), 0); /* one self-contained file */

    /* never over an existing file */
    assert_int_equal(daemon_run(env, args, &out), 1);
    assert_non_null(strstr(out, "never overwrites"));
    free(out);
    /* a wrong source path is an error, not a new empty database */
    snprintf(env, sizeof(env), "ISSUERHOOK_DB=%s/missing.db", d.dir);
    snprintf(args, sizeof(args), "backup '%s/other.db'", d.dir);
    assert_int_not_equal(daemon_run(env, args, &out), 0);
    free(out);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);

    /* restore: without the database's PAN key, a daemon on the copy refuses to start
     * (its tokens would match nothing stored) */
    char restore[450], cmd[1200];
    snprintf(restore, sizeof(restore), "ISSUERHOOK_DB=%s", dest);
    struct daemon r = {.extra_env = {restore, NULL}};
    assert_false(daemon_start(&r));
    assert_true(daemon_log_has(&r, "is not the key this database's tokens are made with", 5000));
    /* with its key beside it (the key is backed up apart: issuerhookd backup never copies
     * it), a daemon on the copy knows what it holds (a replay is no new row) */
    snprintf(cmd, sizeof(cmd), "cp '%s/var/pan.dev.key' '%s/pan.dev.key'", d.dir, d.dir);
    assert_int_equal(system(cmd), 0);
    assert_true(daemon_start(&r));
    assert_int_equal(post_event(&r, AMIKO, first, NULL), 200);
    assert_int_equal(db_scalar(&copy, "SELECT count(*) FROM records"), n);
    assert_int_equal(daemon_stop(&r, SIGTERM), 0);
    daemon_cleanup(&r);
    daemon_cleanup(&d);
}

/* ---- the command line, the configuration file, start-up messages ---- */

/* --version, --help and help print and exit 0; what cannot be run names itself, exit 2. */
static void test_command_line(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        int status;
        const char *says;
    } cases[] = {
        {"--version", 0, "issuerhookd " ISSUERHOOK_VERSION "\n"},
        {"version", 0, "issuerhookd " ISSUERHOOK_VERSION "\n"},
        {"serve --version", 0, "issuerhookd " ISSUERHOOK_VERSION "\n"},
        {"--help", 0, "usage: issuerhookd [serve] [--config FILE]"},
        {"help", 0, "issuerhookd keygen NAME SCOPES"},
        {"-h", 0, "issuerhookd config-reference"},
        {"migrate --help", 0, "usage: issuerhookd"},
        {"--frobnicate", 2, "issuerhookd: unknown option '--frobnicate'\nTry 'issuerhookd --help'."},
        {"serve -x", 2, "unknown option '-x'"},
        {"frobnicate", 2, "unknown command 'frobnicate'"},
        {"serve --config", 2, "--config needs a FILE"},
        {"--config a --config=b", 2, "--config is given twice"},
        {"serve extra", 2, "unexpected argument 'extra'"},
        {"backup", 2, "backup needs DEST"},
        {"keygen ONLYNAME", 2, "keygen needs NAME and SCOPES"},
        {"keygen X amiko:events,root:all", 2,
         "unknown scope 'root:all'; the scopes are: amiko:events, amiko:bookings, ledger:read, ledger:write, "
         "cardAdapter/write, riverty:events, bankingAdmin/read"},
        {"keygen X ,", 2, "SCOPES names no scope; the scopes are: amiko:events"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        int st = daemon_run("", cases[i].args, &out);
        if (st != cases[i].status || !strstr(out, cases[i].says))
            fail_msg("issuerhookd %s: exit %d, said:\n%s", cases[i].args, st, out);
        free(out);
    }
}

/* A --config that is a directory, cannot be read or is not there: exit 2 with the
 * reason, before anything is created (it used to start with every default). */
static void test_config_that_cannot_be_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/ihcfg.XXXXXX", env[200], db[100], args[200];
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/db/x.db", dir);
    snprintf(env, sizeof(env), "ISSUERHOOK_DB=%s ISSUERHOOK_LISTEN=127.0.0.1:1", db);
    static const struct {
        const char *config, *says;
    } cases[] = {
        {"/etc", "the configuration file /etc is a directory"},
        {"/proc/self/mem", "cannot read the configuration file /proc/self/mem: Input/output error"},
        {"/nonexistent/issuerhook.env", "/nonexistent/issuerhook.env: No such file or directory"},
    };
    static const char *const commands[] = {"", "migrate", "backup /tmp/never.db"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
            char *out = NULL;
            snprintf(args, sizeof(args), "%s --config %s", commands[k], cases[i].config);
            int st = daemon_run(env, args, &out);
            if (st != 2 || !strstr(out, cases[i].says))
                fail_msg("issuerhookd %s: exit %d, said:\n%s", args, st, out);
            free(out);
        }
    }
    struct stat sb;
    assert_int_not_equal(stat(db, &sb), 0); /* nothing was created */
    assert_int_not_equal(stat("/tmp/never.db", &sb), 0);
    /* a file systemd would read otherwise: refused, naming the line */
    char file[100], *out = NULL;
    snprintf(file, sizeof(file), "%s/x.env", dir);
    write_conf(file, "# ok\nISSUERHOOK_LOG_LEVEL=info\nexport ISSUERHOOK_THREADS=2\n");
    snprintf(args, sizeof(args), "--config %s", file);
    assert_int_equal(daemon_run(env, args, &out), 2);
    assert_non_null(strstr(out, "line 3 of"));
    assert_non_null(strstr(out, "`export` is shell syntax"));
    free(out);
    write_conf(file, "ISSUERHOOK_DB=\"/tmp/a.db\nISSUERHOOK_THREADS=2\n");
    assert_int_equal(daemon_run(env, args, &out), 2);
    assert_non_null(strstr(out, "line 1 of"));
    assert_non_null(strstr(out, "the quote is not closed on its line"));
    free(out);
    snprintf(args, sizeof(args), "rm -rf '%s'", dir);
    assert_int_equal(system(args), 0);
}

/* True when a line of the daemon's log holds both a and b. */
static bool log_line_has(const struct daemon *d, const char *a, const char *b)
{
    FILE *f = fopen(d->log, "r");
    char line[4096];
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, a) && strstr(line, b);
    if (f)
        fclose(f);
    return found;
}

/* A relative ISSUERHOOK_DB is taken from the working directory once, at start, and the
 * log names the absolute path; a daemon without any credential says so. */
static void test_relative_database_and_no_credential(void **state)
{
    (void)state;
    /* putenv() of a name without '=' removes it (glibc): no API key at all */
    struct daemon d = {.extra_env = {"ISSUERHOOK_DB=./rel//ih.db", "ISSUERHOOK_API_KEY_FULL",
                                     "ISSUERHOOK_API_KEY_READER", NULL}};
    assert_true(daemon_start(&d)); /* the harness starts it in d.dir */
    char want[400];
    snprintf(want, sizeof(want), "\"path\":\"%s/rel//ih.db\"", d.dir);
    assert_true(log_line_has(&d, "\"msg\":\"database ready\"", want));
    assert_true(log_line_has(&d, "\"level\":\"warn\"", "no API key and no JWT issuer is configured"));
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 401);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    snprintf(d.db, sizeof(d.db), "%s/rel/ih.db", d.dir);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 0); /* the file is there */
    daemon_cleanup(&d);

    /* with a key: no such warning */
    struct daemon k = {0};
    assert_true(daemon_start(&k));
    assert_int_equal(daemon_stop(&k, SIGTERM), 0);
    assert_false(log_line_has(&k, "no API key", "JWT issuer"));
    daemon_cleanup(&k);
}

/* An ISSUERHOOK_DB that names no database this daemon can use is refused at start, by
 * serve and migrate alike, saying what it must be; backup refuses a store that is not a
 * file, pointing to the database's own tools, and writes nothing. */
static void test_database_that_is_not_a_path(void **state)
{
    (void)state;
    static const char *const commands[] = {"", "migrate"};
    for (size_t k = 0; k < 2; k++) {
        char *out = NULL;
        int st = daemon_run("ISSUERHOOK_DB=mysql://db/ih ISSUERHOOK_LISTEN=127.0.0.1:0", commands[k], &out);
        if (st != 1 || !strstr(out, "ISSUERHOOK_DB must be a path (SQLite) or a PostgreSQL URI"))
            fail_msg("issuerhookd %s: exit %d, said:\n%s", commands[k], st, out);
        free(out);
    }
    char dir[] = "/tmp/ihnodb.XXXXXX", args[200], dest[100], *out = NULL;
    assert_non_null(mkdtemp(dir));
    snprintf(dest, sizeof(dest), "%s/copy.db", dir);
    snprintf(args, sizeof(args), "backup %s", dest);
    assert_int_equal(daemon_run("ISSUERHOOK_DB=postgresql://ih@db.example/ih", args, &out), 1);
    assert_non_null(strstr(out, "back PostgreSQL up with its own tools"));
    free(out);
    struct stat sb;
    assert_int_not_equal(stat(dest, &sb), 0);
    assert_int_equal(rmdir(dir), 0); /* empty: no .partial either */
}

/* Two daemons never serve one database, whatever their ports: the second refuses to
 * start and names the first; `migrate` is refused while a daemon runs, `backup` is not.
 * SQLite-specific: the lock file beside the database. */
static void test_one_daemon_per_database(void **state)
{
    (void)state;
    struct daemon d = {0};
    assert_true(daemon_start(&d));
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    /* the same file by another path, another port; run under timeout(1) (env(1) runs
     * it with the daemon as its command) so that a daemon that does start is killed */
    char env[600], pid[40], dest[300], args[400], *out = NULL;
    snprintf(env, sizeof(env),
             "ISSUERHOOK_DB=%s/var/../var/./issuerhook.db ISSUERHOOK_LISTEN=127.0.0.1:0 /usr/bin/timeout -s KILL 10",
             d.dir);
    snprintf(pid, sizeof(pid), "another issuerhookd (PID %d)", (int)d.pid);
    assert_int_equal(daemon_run(env, "", &out), 1);
    assert_non_null(strstr(out, pid));
    assert_non_null(strstr(out, "issuerhook.db.lock"));
    free(out);
    assert_int_equal(daemon_run(env, "migrate", &out), 1);
    assert_non_null(strstr(out, pid));
    free(out);
    snprintf(dest, sizeof(dest), "%s/copy.db", d.dir);
    snprintf(args, sizeof(args), "backup '%s'", dest);
    assert_int_equal(daemon_run(env, args, &out), 0);
    free(out);
    /* the first one never noticed */
    assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    /* stopped: the lock is free again (its file stays) */
    assert_int_equal(daemon_run(env, "migrate", &out), 0);
    free(out);
    assert_true(daemon_start(&d));
    assert_int_equal(daemon_stop(&d, SIGKILL), 128 + SIGKILL);
    assert_true(daemon_start(&d)); /* a killed holder leaves no stale lock */
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 2);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* A second daemon on a port in use fails with the OS's words and creates nothing:
 * the kernel never splits one port's traffic (and acknowledged events) between two
 * databases. */
static void test_second_daemon_on_the_same_port_fails(void **state)
{
    (void)state;
    struct daemon d = {0};
    assert_true(daemon_start(&d));
    char env[600], *out = NULL, other[400];
    snprintf(other, sizeof(other), "%s/other", d.dir);
    snprintf(env, sizeof(env), "ISSUERHOOK_LISTEN=127.0.0.1:%d ISSUERHOOK_DB=%s/x.db", d.port, other);
    /* (with SO_REUSEPORT it would bind and serve: timeout ends it, status 124) */
    assert_int_equal(daemon_run_as("timeout 10", env, "", &out), 1);
    assert_non_null(strstr(out, "Address already in use"));
    assert_non_null(strstr(out, "cannot listen on 127.0.0.1:"));
    free(out);
    assert_int_not_equal(access(other, F_OK), 0); /* no folder, no database, no PAN key */
    /* the first one still takes every request */
    for (int i = 0; i < 8; i++)
        assert_int_equal(post_event(&d, AMIKO, NULL, NULL), 200);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records"), 8);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);
    daemon_cleanup(&d);
}

/* Listen errors say what the OS said, before the daemon touches the disk. */
static void expect_listen_error(const char *prefix, const char *listen, const char *os_error)
{
    char dir[] = "/tmp/ihlisten.XXXXXX", env[400], *out = NULL, db[300];
    assert_non_null(mkdtemp(dir));
    chmod(dir, 0777); /* writable for an unprivileged run: the test is that nothing is written */
    snprintf(db, sizeof(db), "%s/var/x.db", dir);
    snprintf(env, sizeof(env), "ISSUERHOOK_LISTEN=%s ISSUERHOOK_DB=%s", listen, db);
    char timed[200];
    snprintf(timed, sizeof(timed), "timeout 10 %s", prefix);
    int rc = daemon_run_as(timed, env, "", &out);
    if (rc != 1 || !strstr(out, os_error))
        fail_msg("listening on %s: exit %d, expected 1 and \"%s\" in: %s", listen, rc, os_error, out);
    free(out);
    char var[320];
    snprintf(var, sizeof(var), "%s/var", dir);
    assert_int_not_equal(access(var, F_OK), 0);
    char cmd[100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_listen_errors_name_the_os_error_and_touch_no_disk(void **state)
{
    (void)state;
    expect_listen_error("", "192.0.2.1:8080", "Cannot assign requested address"); /* TEST-NET-1: not ours */
    expect_listen_error("", "no-such-host.invalid:8080", "cannot resolve no-such-host.invalid");
    /* a port below ip_unprivileged_port_start as a user: EACCES */
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
    char line[32] = "1024";
    if (f) {
        if (!fgets(line, sizeof(line), f))
            snprintf(line, sizeof(line), "1024");
        fclose(f);
    }
    long first = strtol(line, NULL, 10);
    if (first <= 80) {
        print_message("skipped the EACCES case: ip_unprivileged_port_start is %ld\n", first);
        return;
    }
    expect_listen_error(geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups" : "",
                        "127.0.0.1:80", "Permission denied");
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_migrate_command_and_newer_database)),
        IH_TEST(cmocka_unit_test(test_bad_configuration_names_the_key)),
        IH_TEST(cmocka_unit_test(test_keygen_key_works)),
        IH_TEST(cmocka_unit_test(test_sigterm_exits_zero_and_keeps_data)),
        IH_TEST(cmocka_unit_test(test_sighup_reloads_keys)),
        IH_TEST(cmocka_unit_test(test_systemd_notify_and_watchdog)),
        IH_TEST(cmocka_unit_test(test_watchdog_stops_while_the_writer_is_stuck)),
        IH_SQLITE_TEST(cmocka_unit_test(test_online_backup_and_restore),
                       "issuerhookd backup copies SQLite's file; on PostgreSQL it refuses "
                       "(test_database_that_is_not_a_path) and pg_dump and base backups do it"),
        IH_TEST(cmocka_unit_test(test_command_line)),
        IH_TEST(cmocka_unit_test(test_config_that_cannot_be_read)),
        IH_SQLITE_TEST(cmocka_unit_test(test_relative_database_and_no_credential),
                       "a relative ISSUERHOOK_DB is an SQLite path"),
        IH_TEST(cmocka_unit_test(test_database_that_is_not_a_path)),
        IH_SQLITE_TEST(cmocka_unit_test(test_one_daemon_per_database),
                       "SQLite's lock file; on PostgreSQL several nodes share a database (test_multinode)"),
        IH_TEST(cmocka_unit_test(test_second_daemon_on_the_same_port_fails)),
        IH_TEST(cmocka_unit_test(test_listen_errors_name_the_os_error_and_touch_no_disk)),
    };
    return IH_RUN_TESTS(tests, NULL, NULL);
}
