/* HTTPS and mutual TLS with certificates the test makes (tests/kit/make_certs.sh):
 * TLS 1.2+ only with modern ciphers (openssl s_client), client certificates required
 * by scope and by API key (good, none, wrong CA, expired, another subject), SIGHUP
 * swapping the certificate and the client CA without dropping a connection, and the
 * warning when plain HTTP listens beyond loopback. */
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
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define KEY_LEDGER "test-key-ledger-with-subject"

static char dir[] = "/tmp/ihtls.XXXXXX";
static char certs[64][400];
static int ncerts;
static struct daemon D;
static char env_cert[500], env_key[500], env_ca[500], ledger_line[300];

/* dir/name (kept for the test's life). */
static const char *in(const char *name)
{
    snprintf(certs[ncerts], sizeof(certs[0]), "%s/%s", dir, name);
    return certs[ncerts++ % 64];
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "bash '%s' '%s/pki'", MAKE_CERTS, dir);
    if (system(cmd) != 0)
        return -1;
    /* the daemon reads these paths; the reload test swaps what is behind them */
    snprintf(cmd, sizeof(cmd), "cd '%s' && cp pki/server.pem cert.pem && cp pki/server.key key.pem && cp pki/ca.pem ca.pem",
             dir);
    if (system(cmd) != 0)
        return -1;
    snprintf(env_cert, sizeof(env_cert), "ISSUERHOOK_TLS_CERT=%s", in("cert.pem"));
    snprintf(env_key, sizeof(env_key), "ISSUERHOOK_TLS_KEY=%s", in("key.pem"));
    snprintf(env_ca, sizeof(env_ca), "ISSUERHOOK_TLS_CLIENT_CA=%s", in("ca.pem"));
    key_line("LEDGER", KEY_LEDGER, "ledger:read", ledger_line, sizeof(ledger_line));
    strncat(ledger_line, " subject=CN=amiko-prod,O=Amiko", sizeof(ledger_line) - strlen(ledger_line) - 1);
    D = (struct daemon){.extra_env = {env_cert, env_key, env_ca, ledger_line,
                                      "ISSUERHOOK_CLIENT_SUBJECT_AMIKO=amiko:events CN=amiko-prod,O=Amiko", NULL},
                        .https_ca = in("pki/ca.pem")};
    return daemon_start(&D) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = daemon_stop(&D, SIGTERM); /* a clean exit (also under IH_DAEMON_WRAPPER=valgrind) */
    if (rc != 0)
        fprintf(stderr, "the daemon exited with %d\n", rc);
    daemon_cleanup(&D);
    if (rc != 0)
        return -1;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* openssl s_client's transcript for a handshake with args; its exit status in *rc. */
static char *s_client(const char *args, int *rc)
{
    char cmd[900], *out = NULL;
    snprintf(cmd, sizeof(cmd), "echo | timeout 10 openssl s_client -connect 127.0.0.1:%d -CAfile '%s/pki/ca.pem' %s",
             D.port, dir, args);
    *rc = -1;
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    out = calloc(1, cap);
    if (p) {
        n = fread(out, 1, cap - 1, p);
        int st = pclose(p);
        *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    out[n] = '\0';
    return out;
}

static void test_modern_tls_only(void **state)
{
    (void)state;
    struct http_resp r;
    assert_true(http_get(&D, "/health", NULL, &r));
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
    /* plain HTTP on the TLS port gets no answer */
    struct daemon plain = D;
    plain.https_ca = NULL;
    assert_false(http_get(&plain, "/health", NULL, &r) && r.status > 0);

    int rc;
    char *out = s_client("-tls1_3 2>&1", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "New, TLSv1.3, Cipher is TLS_"));
    assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
    free(out);
    out = s_client("-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 2>&1", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"));
    free(out);
    /* TLS 1.1 and 1.0, a CBC suite, a suite without forward secrecy: no handshake */
    const char *refused[] = {"-tls1_1 -cipher DEFAULT@SECLEVEL=0 2>&1", "-tls1 -cipher DEFAULT@SECLEVEL=0 2>&1",
                             "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA 2>&1", "-tls1_2 -cipher AES128-GCM-SHA256 2>&1"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        out = s_client(refused[i], &rc);
        if (!strstr(out, "New, (NONE), Cipher is (NONE)"))
            fail_msg("openssl s_client %s got a session:\n%s", refused[i], out);
        free(out);
    }
}

static const char *const AMIKO[] = {"Content-Type: application/json", "tracing-id: tls", "X-API-Key: " KEY_FULL, NULL};

/* POST /events presenting the client certificate name (NULL: none). */
static long post_with(const char *name, struct http_resp *keep)
{
    char cert[64], key[64];
    D.client_cert = D.client_key = NULL;
    if (name) {
        snprintf(cert, sizeof(cert), "pki/%s.pem", name);
        snprintf(key, sizeof(key), "pki/%s.key", name);
        D.client_cert = in(cert);
        D.client_key = in(key);
    }
    long st = post_event(&D, AMIKO, NULL, keep);
    D.client_cert = D.client_key = NULL;
    return st;
}

static void expect_refusal(const char *cert, long status, const char *words, const char *reason)
{
    char sample[120];
    snprintf(sample, sizeof(sample), "issuerhook_auth_failures_total{reason=\"%s\"}", reason);
    double before = metric_value(&D, sample);
    struct http_resp r;
    long st = post_with(cert, &r);
    if (st != status || !strstr(r.body, words))
        fail_msg("with %s: expected %ld \"%s\", got %ld %s", cert ? cert : "no certificate", status, words, st,
                 r.body ? r.body : "");
    assert_non_null(strstr(r.body, "{\"error\":{")); /* Amiko's dialect */
    http_resp_free(&r);
    assert_true(metric_value(&D, sample) >= (before < 0 ? 0 : before) + 1);
}

/* amiko:events needs the subject CN=amiko-prod,O=Amiko: a verified certificate with
 * it passes; none, an untrusted one, an expired one or another subject do not. */
static void test_client_certificates_by_scope(void **state)
{
    (void)state;
    long long before = db_scalar(&D, "SELECT count(*) FROM records");
    assert_int_equal(post_with("client", NULL), 200);
    expect_refusal(NULL, 401, "this route needs a client certificate", "client_cert_missing");
    expect_refusal("wrongca", 401, "not issued by a trusted CA", "client_cert_untrusted");
    expect_refusal("expired", 401, "has expired", "client_cert_untrusted");
    expect_refusal("other", 403, "subject is not one this route or credential accepts", "client_cert_subject");
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records"), before + 1);
    /* a route no rule covers takes a request without a certificate; public /health too */
    struct http_resp r;
    const char *reader[] = {"X-API-Key: " KEY_READ, NULL};
    assert_true(http_get(&D, "/bookings?status=pending", reader, &r));
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
    /* but an untrusted certificate is refused wherever it is presented */
    D.client_cert = in("pki/expired.pem");
    D.client_key = in("pki/expired.key");
    assert_true(http_get(&D, "/bookings?status=pending", reader, &r));
    assert_int_equal(r.status, 401);
    http_resp_free(&r);
    D.client_cert = D.client_key = NULL;
}

/* An API key with subject= is taken only over a certificate with that subject. */
static void test_client_certificate_by_key(void **state)
{
    (void)state;
    const char *ledger[] = {"X-API-Key: " KEY_LEDGER, NULL};
    struct http_resp r;
    assert_true(http_get(&D, "/bookings?status=pending", ledger, &r));
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "this credential is accepted only with a client certificate"));
    http_resp_free(&r);
    D.client_cert = in("pki/other.pem");
    D.client_key = in("pki/other.key");
    assert_true(http_get(&D, "/bookings?status=pending", ledger, &r));
    assert_int_equal(r.status, 403);
    http_resp_free(&r);
    D.client_cert = in("pki/client.pem");
    D.client_key = in("pki/client.key");
    assert_true(http_get(&D, "/bookings?status=pending", ledger, &r));
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
    D.client_cert = D.client_key = NULL;
}

static int log_count(const char *needle)
{
    FILE *f = fopen(D.log, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Sends SIGHUP and waits for the reload's outcome line. */
static void reload_and_wait(void)
{
    int before = log_count("SIGHUP: ");
    kill(D.pid, SIGHUP);
    for (int i = 0; i < 250 && log_count("SIGHUP: ") == before; i++)
        sleep_ms(20);
    assert_true(log_count("SIGHUP: ") > before);
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return sz * n;
}

/* One kept-alive HTTPS connection with the good client certificate. */
static long on_kept(CURL *c, long *new_connections)
{
    char url[80];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/bookings?status=pending", D.port);
    struct curl_slist *h = curl_slist_append(NULL, "X-API-Key: " KEY_LEDGER);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CAINFO, in("pki/ca.pem"));
    curl_easy_setopt(c, CURLOPT_SSLCERT, in("pki/client.pem"));
    curl_easy_setopt(c, CURLOPT_SSLKEY, in("pki/client.key"));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long st = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, new_connections);
    curl_slist_free_all(h);
    return st;
}

/* SIGHUP: the new certificate for new connections, the open one kept; a new client
 * CA judges every request from then on; files that do not load change nothing. */
static void test_reload_swaps_certificates_without_dropping(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    long conns = 0;
    assert_int_equal(on_kept(c, &conns), 200);
    assert_int_equal(conns, 1);
    int rc;
    char *out = s_client("2>&1", &rc);
    assert_non_null(strstr(out, "subject=CN = localhost\n"));
    free(out);

    char cmd[700];
    snprintf(cmd, sizeof(cmd), "cd '%s' && cp pki/server2.pem cert.pem && cp pki/server2.key key.pem", dir);
    assert_int_equal(system(cmd), 0);
    reload_and_wait();
    assert_true(daemon_log_has(&D, "configuration reloaded", 5000));
    assert_int_equal(on_kept(c, &conns), 200);
    assert_int_equal(conns, 0); /* the same connection, before and after */
    out = s_client("2>&1", &rc);
    assert_non_null(strstr(out, "subject=CN = localhost-2\n"));
    free(out);

    /* a key that is not the certificate's: refused, the running files stay */
    snprintf(cmd, sizeof(cmd), "cd '%s' && cp pki/server.key key.pem", dir);
    assert_int_equal(system(cmd), 0);
    reload_and_wait();
    assert_true(daemon_log_has(&D, "is not the key of the certificate", 5000));
    out = s_client("2>&1", &rc);
    assert_non_null(strstr(out, "subject=CN = localhost-2\n"));
    free(out);

    /* another client CA: the open connection's certificate is judged again */
    snprintf(cmd, sizeof(cmd), "cd '%s' && cp pki/server2.key key.pem && cp pki/other-ca.pem ca.pem", dir);
    assert_int_equal(system(cmd), 0);
    reload_and_wait();
    assert_int_equal(on_kept(c, &conns), 401);
    assert_int_equal(conns, 0); /* on the connection verified against the old CA */
    assert_int_equal(post_with("wrongca", NULL), 200); /* issued by the CA now trusted */
    curl_easy_cleanup(c);
    snprintf(cmd, sizeof(cmd), "cd '%s' && cp pki/ca.pem ca.pem", dir);
    assert_int_equal(system(cmd), 0);
    reload_and_wait();
    assert_int_equal(post_with("client", NULL), 200);
}

/* Plain HTTP beyond loopback is allowed (behind a terminating proxy) but said. */
static void test_plain_http_beyond_loopback_warns(void **state)
{
    (void)state;
    struct daemon p = {0};
    char db[1200], env[1400], *out = NULL;
    assert_true(daemon_prepare(&p));
    store_env_with_key(&p, db, sizeof(db));
    snprintf(env, sizeof(env), "ISSUERHOOK_LISTEN=0.0.0.0:0 %s", db);
    assert_int_equal(daemon_run_as("timeout --preserve-status -s TERM 2", env, "", &out), 0);
    assert_non_null(strstr(out, "listening on a non-loopback address without TLS"));
    free(out);
    snprintf(env, sizeof(env), "ISSUERHOOK_LISTEN=127.0.0.1:0 %s", db);
    assert_int_equal(daemon_run_as("timeout --preserve-status -s TERM 2", env, "", &out), 0);
    assert_null(strstr(out, "without TLS"));
    free(out);
    daemon_cleanup(&p);
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_modern_tls_only)),
        IH_TEST(cmocka_unit_test(test_client_certificates_by_scope)),
        IH_TEST(cmocka_unit_test(test_client_certificate_by_key)),
        IH_TEST(cmocka_unit_test(test_reload_swaps_certificates_without_dropping)),
        IH_TEST(cmocka_unit_test(test_plain_http_beyond_loopback_warns)),
    };
    return IH_RUN_TESTS(tests, setup, teardown);
}
