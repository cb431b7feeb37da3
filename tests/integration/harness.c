#include "harness.h"
#include "harness_internal.h"

#include "issuerhook/crypto.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char h[32];
    crypto_sha256(s, strlen(s), h);
    crypto_hex(h, 32, out);
}

static bool log_says_listening(const struct daemon *d)
{
    char want[64], line[4096];
    bool found = false;
    snprintf(want, sizeof(want), "\"port\":\"%d\"", d->port);
    FILE *f = fopen(d->log, "r");
    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, "\"msg\":\"listening\"") && strstr(line, want);
    if (f)
        fclose(f);
    return found;
}

/* Forks and execs the daemon on a free port (d->pid set), without waiting. */
static void spawn(struct daemon *d)
{
    d->port = free_port();
    char listen[64], dbenv[400], pwenv[400], keyenv[400], k1[200], k2[200], h1[65], h2[65];
    snprintf(listen, sizeof(listen), "ISSUERHOOK_LISTEN=127.0.0.1:%d", d->port);
    snprintf(dbenv, sizeof(dbenv), "ISSUERHOOK_DB=%s", d->db);
    snprintf(pwenv, sizeof(pwenv), "ISSUERHOOK_DB_PASSWORD_FILE=%s", d->db_password_file);
    snprintf(keyenv, sizeof(keyenv), "ISSUERHOOK_PAN_KEY_FILE=%s", d->pan_key);
    sha256_hex(KEY_FULL, h1);
    sha256_hex(KEY_READ, h2);
    snprintf(k1, sizeof(k1), "ISSUERHOOK_API_KEY_FULL=sha256:%s amiko:events", h1);
    snprintf(k2, sizeof(k2), "ISSUERHOOK_API_KEY_READER=sha256:%s ledger:read", h2);
    const char *wrapper = getenv("IH_DAEMON_WRAPPER");
    pid_t pid = fork();
    if (pid == 0) {
        /* a test that fails an assertion leaves without stopping its daemon: the daemon
         * dies with it (with the thread that forks it: fork in the test's main thread),
         * and holds none of the test's output pipes */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (chdir(d->dir) != 0)
            _exit(126);
        clearenv();
        putenv(listen);
        putenv(dbenv);
        if (d->db_password_file[0])
            putenv(pwenv);
        putenv(k1);
        putenv(k2);
        putenv("ISSUERHOOK_SHUTDOWN_GRACE=5");
        putenv("ISSUERHOOK_RATE_LIMIT=0"); /* load tests; test_cards.c sets its own */
        putenv("ISSUERHOOK_AUTH_FAILURE_RATE=0"); /* tests of refusals; test_edge.c sets its own */
        /* SQLite: a generated key beside the database (test_pan_keys.c tests the real
         * ones); PostgreSQL: the store's key file, the same for all its nodes */
        putenv(d->pan_key[0] ? keyenv : "ISSUERHOOK_PAN_KEY_DEVELOPMENT=true");
        for (size_t i = 0; d->extra_env[i]; i++)
            putenv((char *)d->extra_env[i]);
        if (wrapper && *wrapper) { /* e.g. IH_DAEMON_WRAPPER="valgrind --error-exitcode=99" */
            char *cmd = NULL;
            if (asprintf(&cmd, "exec %s '%s'%s%s%s", wrapper, IH_DAEMON_PATH, d->config ? " --config '" : "",
                         d->config ? d->config : "", d->config ? "'" : "") > 0)
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        if (d->config)
            execl(IH_DAEMON_PATH, "issuerhookd", "--config", d->config, (char *)NULL);
        execl(IH_DAEMON_PATH, "issuerhookd", (char *)NULL);
        _exit(127);
    }
    d->pid = pid;
}

/* Waits until the spawned daemon answers /health; false (and it is gone) when it exits
 * or does not answer in time. */
static bool ready(struct daemon *d)
{
    const char *wrapper = getenv("IH_DAEMON_WRAPPER");
    for (int i = 0; d->pid > 0 && i < (wrapper ? 1500 : 250); i++) { /* up to 5 s (30 s wrapped) */
        struct http_resp r;
        /* our daemon, not another test's that took the port first: its own log says it
         * listens there */
        if (log_says_listening(d) && http_get(d, "/health", NULL, &r)) {
            long st = r.status;
            http_resp_free(&r);
            if (st == 200 || st == 503)
                return true;
        }
        int status;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = 0;
            return false; /* exited: maybe the port was taken */
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
    return false;
}

bool daemon_start(struct daemon *d)
{
    if (!daemon_prepare(d))
        return false;
    for (int attempt = 0; attempt < 5; attempt++) { /* another port if one was taken */
        spawn(d);
        if (ready(d))
            return true;
    }
    return false;
}

bool daemons_start(struct daemon *const *ds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!daemon_prepare(ds[i]))
            return false;
    for (size_t i = 0; i < n; i++)
        spawn(ds[i]);
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok = ready(ds[i]) && ok;
    return ok;
}

int daemon_stop(struct daemon *d, int sig)
{
    if (d->pid <= 0)
        return -1;
    int status = 0;
    kill(d->pid, sig);
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void daemon_cleanup(struct daemon *d)
{
    if (d->pid > 0)
        daemon_stop(d, SIGKILL);
    const char *keep = getenv("IH_KEEP_TEST_DIRS");
    if (keep && *keep)
        return;
    harness_store_drop(d);
    if (d->dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", d->dir);
    }
}

struct sink {
    char *buf;
    size_t len;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t add = sz * n;
    char *nb = realloc(s->buf, s->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + s->len, p, add);
    s->len += add;
    nb[s->len] = '\0';
    s->buf = nb;
    return add;
}

static void copy_header(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    while (*v == ' ')
        v++;
    size_t vl = n - (size_t)(v - line);
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    snprintf(dst, cap, "%.*s", (int)vl, v);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct http_resp *r = arg;
    size_t len = sz * n;
    copy_header(p, len, "tracing-id", r->tracing_id, sizeof(r->tracing_id));
    copy_header(p, len, "Allow", r->allow, sizeof(r->allow));
    copy_header(p, len, "Retry-After", r->retry_after, sizeof(r->retry_after));
    copy_header(p, len, "WWW-Authenticate", r->www_authenticate, sizeof(r->www_authenticate));
    copy_header(p, len, "Content-Type", r->content_type, sizeof(r->content_type));
    return len;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t on_read(char *buf, size_t sz, size_t n, void *arg)
{
    struct upload *u = arg;
    size_t take = sz * n < u->left ? sz * n : u->left;
    memcpy(buf, u->p, take);
    u->p += take;
    u->left -= take;
    return take;
}

bool http_request(const struct daemon *d, const char *method, const char *path, const char *const *headers,
                  const char *body, size_t len, bool chunked, struct http_resp *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    if (!c)
        return false;
    char *url = NULL; /* any length: the feed's nextPage_url can be long */
    if (asprintf(&url, "%s://127.0.0.1:%d%s", d->https_ca ? "https" : "http", d->port, path) < 0) {
        curl_easy_cleanup(c);
        return false;
    }
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    struct sink s = {0};
    struct upload up = {body, len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (d->https_ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, d->https_ca);
    if (d->client_cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, d->client_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, d->client_key);
    }
    if (body && chunked) {
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    free(url);
    out->body = s.buf ? s.buf : calloc(1, 1);
    out->len = s.len;
    /* a server may answer (e.g. 413) and close before the upload ends: keep its answer */
    if (rc == CURLE_OK || out->status > 0)
        return true;
    http_resp_free(out);
    return false;
}

bool http_post(const struct daemon *d, const char *path, const char *const *headers, const char *body, size_t len,
               struct http_resp *out)
{
    return http_request(d, "POST", path, headers, body, len, false, out);
}

bool http_get(const struct daemon *d, const char *path, const char *const *headers, struct http_resp *out)
{
    return http_request(d, "GET", path, headers, NULL, 0, false, out);
}

void http_resp_free(struct http_resp *r)
{
    free(r->body);
    r->body = NULL;
}

double metric_value(const struct daemon *d, const char *sample)
{
    struct http_resp r;
    double v = -1;
    if (!http_get(d, "/metrics", NULL, &r))
        return -1;
    size_t sl = strlen(sample);
    for (char *line = r.body; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, sample, sl) == 0 && line[sl] == ' ') {
            v = strtod(line + sl + 1, NULL);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    http_resp_free(&r);
    return v;
}

char *amiko_booking(const char *booking_id, const char *amount)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"agentOidcId\":\"61f925fa-653b-46f0-9117-d03040e9b775\",\"amikoBookingId\":\"%s\","
                 "\"amikoCaseType\":\"fraud\",\"bookingAmount\":\"%s\",\"isFullAmount\":false,"
                 "\"currencyCode\":\"840\",\"currencyCodeAlpha\":\"USD\","
                 "\"cardId\":\"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048\",\"bookingTarget\":\"card_account\","
                 "\"bookingOperation\":\"credit\",\"bookingReason\":\"credit_temporary_refund\","
                 "\"disputeReasonCode\":\"4880\",\"transactionLifecycle\":\"dispute_submitted\","
                 "\"bookingReference\":[],\"transaction\":{\"scheme\":\"mastercard\",\"MCC\":\"5812\"}}",
                 booking_id, amount) < 0)
        return NULL;
    return s;
}

char *amiko_event(const char *event_id, const char *type)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"header\":{\"version\":\"2026.1.0\",\"eventId\":\"%s\",\"generatedAt\":1700000000000},"
                 "\"event\":{\"type\":\"%s\",\"cardholderId\":\"2bd52a45-129d-4723-9143-e1c5b5ed34e7\","
                 "\"cardId\":\"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048\",\"caseId\":\"1234\",\"caseType\":\"fraud\","
                 "\"createdVia\":\"cardholder_self_service\"}}",
                 event_id, type) < 0)
        return NULL;
    return s;
}

long post_event(const struct daemon *d, const char *const *headers, const char *id, struct http_resp *keep)
{
    char fresh[37];
    if (!id) {
        test_uuid(fresh);
        id = fresh;
    }
    char *body = amiko_event(id, "case_created");
    struct http_resp r;
    long st = body && http_post(d, "/events", headers, body, strlen(body), &r) ? r.status : -1;
    free(body);
    if (st < 0)
        memset(&r, 0, sizeof(r));
    if (keep)
        *keep = r;
    else
        http_resp_free(&r);
    return st;
}

void key_line(const char *name, const char *secret, const char *scopes, char *out, size_t cap)
{
    char h[65];
    sha256_hex(secret, h);
    snprintf(out, cap, "ISSUERHOOK_API_KEY_%s=sha256:%s %s", name, h, scopes);
}

void test_uuid(char *buf)
{
    if (crypto_uuid4(buf) != IH_OK)
        snprintf(buf, 37, "00000000-0000-4000-8000-000000000000");
}

int daemon_run(const char *env, const char *args, char **out)
{
    return daemon_run_as("", env, args, out);
}

int daemon_run_as(const char *prefix, const char *env, const char *args, char **out)
{
    char *cmd = NULL;
    /* a free port unless env says otherwise: the default 127.0.0.1:8080 may be taken by
     * someone's `make run`, and listening comes before everything a test looks at */
    if (asprintf(&cmd, "%s env -i ISSUERHOOK_LISTEN=127.0.0.1:0 %s '%s' 2>&1 %s", prefix, env, IH_DAEMON_PATH, args) <
        0)
        return -1;
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p)
        return -1;
    struct sink s = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        on_body(buf, 1, n, &s);
    int st = pclose(p);
    *out = s.buf ? s.buf : calloc(1, 1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int ih_run_tests(const char *group, const struct ih_test *tests, size_t n, CMFixtureFunction setup,
                 CMFixtureFunction teardown)
{
    struct CMUnitTest *run = calloc(n ? n : 1, sizeof(*run));
    size_t k = 0;
    if (!run)
        return 1;
    bool pg = test_backend() == TEST_POSTGRESQL;
    for (size_t i = 0; i < n; i++) {
        if ((tests[i].only == IH_SQLITE_ONLY && pg) || (tests[i].only == IH_PG_ONLY && !pg))
            fprintf(stderr, "[ NOT RUN  ] %s on %s: %s\n", tests[i].test.name, test_backend_name(), tests[i].why);
        else
            run[k++] = tests[i].test;
    }
    char name[160];
    snprintf(name, sizeof(name), "%s (%s)", group, test_backend_name());
    int rc = _cmocka_run_group_tests(name, run, k, setup, teardown);
    free(run);
    return rc;
}

bool daemon_log_sync(const struct daemon *d)
{
    static unsigned n;
    if (!d->pid)
        return true; /* stopped: it wrote everything before it exited */
    char tid[64], hdr[96];
    snprintf(tid, sizeof(tid), "log-sync-%d-%u", (int)getpid(), __atomic_fetch_add(&n, 1, __ATOMIC_RELAXED));
    snprintf(hdr, sizeof(hdr), "tracing-id: %s", tid);
    const char *h[] = {hdr, NULL};
    struct http_resp r;
    if (!http_get(d, "/health", h, &r))
        return false;
    http_resp_free(&r);
    return daemon_log_has(d, tid, 5000); /* the lines keep their order: once this one is in, all are */
}

/* The log is read whole (lines of any length) on each look. */
static bool log_holds(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    char buf[64 * 1024];
    size_t keep = 0, n, nl = strlen(needle);
    /* a needle may straddle two reads: the last nl-1 bytes of one are kept for the next */
    while (!found && nl < sizeof(buf) && (n = fread(buf + keep, 1, sizeof(buf) - keep, f)) > 0) {
        size_t have = keep + n;
        found = memmem(buf, have, needle, nl) != NULL;
        keep = have < nl - 1 ? have : nl - 1;
        memmove(buf, buf + have - keep, keep);
    }
    fclose(f);
    return found;
}

bool daemon_log_has(const struct daemon *d, const char *needle, int wait_ms)
{
    for (int waited = 0;; waited += 20) {
        if (log_holds(d->log, needle))
            return true;
        if (waited >= wait_ms)
            return false;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
