/* Bearer tokens against the real daemon (src/http/server.c authorize()): an ES256
 * issuer whose JWK Set a loopback receiver serves (and counts the fetches of), an
 * RS256 issuer with a key file, beside the API keys. Tokens are made with
 * tests/kit/jwtkit.h; card activity batches have the shape test_cards.c posts.
 *
 * Timing. The daemon fetches the JWKS once at start; after that it may fetch again
 * only JWKS_REFETCH_S (60 s) after its last attempt. The tests that depend on that
 * window run first, right after the start, and check they are still inside it.
 * While it has never held a set it retries in the background (1 s, 2 s, 4 s, ...);
 * the daemon whose issuer is down at start watches that for a few seconds. Nothing
 * waits for the minute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "jwtkit.h"
#include "receiver.h"
#include "../../src/auth/jwt_internal.h" /* JWKS_REFETCH_S */

#define ROUTE "/system/incomingCardActivity"
#define IDP_ISS "https://idp.test"
#define RSA_ISS "https://rsa.test"
#define AUD "issuerhook"
#define CARD_SECRET "card-adapter-key"
#define CLIENT "card-adapter"   /* client_id of the IDP's tokens */
#define RSA_SUB "rsa-svc"       /* sub of the RSA issuer's tokens (no client_id) */
#define WINDOW_MARGIN_S 15      /* the first-minute tests must start before 60 - 15 s */
#define MAX_TOKENS 64

static struct daemon D;
static struct receiver *idp;  /* D's JWKS endpoint */
static EVP_PKEY *ec_key;      /* served as kid "e1" */
static EVP_PKEY *rsa_key;     /* served as kid "r1", and the RSA issuer's key file */
static EVP_PKEY *stranger;    /* P-256, never served */
static char kdir[64], rsa_pem[128];
static char idp_env[256], rsa_env[256], card_env[200];
static double ready_at;       /* when D answered /health (after its prefetch) */
static size_t next_item;      /* card items posted so far: each batch takes fresh PANs */
static char *tokens[MAX_TOKENS];
static size_t ntokens;

/* ---- small helpers ---- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    for (double now = mono_s(); now < t; now = mono_s()) {
        double d = t - now;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static struct recv_hit hit_buf[RECV_MAX];

/* How many requests the receiver has seen (their records: hit_buf). */
static size_t hits(struct receiver *rv)
{
    return receiver_hits(rv, hit_buf);
}

/* Serves {"keys":[e1 (ec_key), r1 (rsa_key)]} from rv; false on failure. */
static bool serve_jwks(struct receiver *rv)
{
    EVP_PKEY *keys[] = {ec_key, rsa_key};
    const char *kids[] = {"e1", "r1"};
    char *doc = jk_jwks(2, keys, kids, ",\"use\":\"sig\"");
    bool ok = doc && receiver_set_body(rv, doc);
    free(doc);
    return ok;
}

/* Claims with iss, aud, sub, iat now and exp now + exp_in, then extra members
 * (",\"k\":v" or ""). Static buffer: the next call overwrites it. */
static const char *claims_of(const char *iss, const char *aud, const char *sub, long long exp_in, const char *extra)
{
    static char buf[1024];
    long long now = (long long)time(NULL);
    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld%s}", iss,
             aud, sub, now, now + exp_in, extra);
    return buf;
}

/* The same with sub svc-7. */
static const char *claims(const char *iss, const char *aud, long long exp_in, const char *extra)
{
    return claims_of(iss, aud, "svc-7", exp_in, extra);
}

static const char *remember(char *t)
{
    assert_non_null(t);
    assert_true(ntokens < MAX_TOKENS);
    tokens[ntokens++] = t;
    return t;
}

/* A token signed by pk (RS256 or ES256 by its type) with kid (NULL: none); freed at the end. */
static const char *token(EVP_PKEY *pk, const char *kid, const char *c)
{
    return remember(jk_token_kid(pk, kid, c));
}

/* The IDP's usual token: ES256, kid e1, client_id card-adapter, with scope_member. */
static const char *idp_token(const char *scope_member)
{
    char extra[256];
    snprintf(extra, sizeof(extra), ",\"client_id\":\"" CLIENT "\",%s", scope_member);
    return token(ec_key, "e1", claims(IDP_ISS, AUD, 600, extra));
}

/* A batch of n card activity items with fresh PANs (the body test_cards.c posts). */
static char *card_batch(size_t n)
{
    json_t *items = json_array();
    for (size_t i = next_item; i < next_item + n; i++) {
        char pan[24], tax[24], when[40];
        snprintf(pan, sizeof(pan), "49%014llu", 27182818000000ull + (unsigned long long)i * 7919);
        snprintf(tax, sizeof(tax), "9%02zu-7%01zu-%04zu", i % 100, i % 10, 1000 + i);
        snprintf(when, sizeof(when), "2024-10-01T07:%02zu:%02zu.%03zuZ", (i / 60) % 60, i % 60, i % 1000);
        json_t *it = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:{s:s, s:s}},"
                               " s:s, s:s}",
                               "customerId", "d1b95731fb029fec062c", "customerTaxId", tax, "cardId", "ca0sf8ds0af",
                               "pan", pan, "activityType", i % 2 ? "approved" : "declined", "reasonCode",
                               "transactionOccurred", "reason", "a reason", "amount", "value", "12.34", "currency",
                               "USD", "merchant", "category", "shopping.other", "name", "Amazon", "address",
                               "regionCode", "WA", "countryCode", "US", "occurredAt", when, "location",
                               "onlineMerchant");
        json_array_append_new(items, it);
    }
    next_item += n;
    json_t *b = json_pack("{s:s, s:o}", "institutionId", "TIBURON", "items", items);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    assert_non_null(s);
    return s;
}

/* Sends method path (with body when not NULL) to d, with a bearer token, an API key
 * and an Idempotency-Key when each is not NULL. Returns the status; keep (may be
 * NULL) receives the answer, which the caller frees. */
static long call(const struct daemon *d, const char *method, const char *path, const char *bearer, const char *key,
                 const char *idem, const char *body, struct http_resp *keep)
{
    char *authz = NULL, *apikey = NULL, *idk = NULL;
    const char *h[5];
    size_t n = 0;
    if (body)
        h[n++] = "Content-Type: application/json";
    if (bearer) {
        assert_true(asprintf(&authz, "Authorization: Bearer %s", bearer) > 0);
        h[n++] = authz;
    }
    if (key) {
        assert_true(asprintf(&apikey, "X-API-Key: %s", key) > 0);
        h[n++] = apikey;
    }
    if (idem) {
        assert_true(asprintf(&idk, "Idempotency-Key: %s", idem) > 0);
        h[n++] = idk;
    }
    h[n] = NULL;
    struct http_resp r;
    assert_true(http_request(d, method, path, h, body, body ? strlen(body) : 0, false, &r));
    free(authz);
    free(apikey);
    free(idk);
    long st = r.status;
    if (keep)
        *keep = r;
    else
        http_resp_free(&r);
    return st;
}

/* POSTs a fresh batch of n items to D's card route; returns the status. */
static long post_cards(const struct daemon *d, const char *bearer, const char *key, size_t n, struct http_resp *keep)
{
    char *b = card_batch(n);
    long st = call(d, "POST", ROUTE, bearer, key, NULL, b, keep);
    free(b);
    return st;
}

static long long rows(const struct daemon *d)
{
    return db_scalar(d, "SELECT count(*) FROM card_activities");
}

static double auth_failures(const struct daemon *d, const char *reason)
{
    char sample[128];
    snprintf(sample, sizeof(sample), "issuerhook_auth_failures_total{reason=\"%s\"}", reason);
    return metric_value(d, sample);
}

/* The challenge of a refused token, for reason (jwt_result_str). */
static void assert_bearer_401(const struct http_resp *r, const char *reason)
{
    char want[160];
    snprintf(want, sizeof(want), "Bearer realm=\"issuerhook\", error=\"invalid_token\", error_description=\"%s\"",
             reason);
    assert_int_equal(r->status, 401);
    assert_string_equal(r->www_authenticate, want);
    assert_non_null(strstr(r->content_type, "application/problem+json"));
    assert_non_null(strstr(r->body, reason));
    assert_string_equal(r->retry_after, "");
}

/* A refused token: 401 with the challenge naming reason, nothing stored. */
static void refused(const char *bearer, const char *reason)
{
    long long before = rows(&D);
    struct http_resp r;
    post_cards(&D, bearer, NULL, 1, &r);
    assert_bearer_401(&r, reason);
    http_resp_free(&r);
    assert_int_equal(rows(&D), before);
}

/* The whole file at path (caller frees), NUL-terminated; *len its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *len = 0;
        return calloc(1, 1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static size_t count_in(const char *path, const char *s)
{
    size_t len, n = 0;
    char *buf = slurp(path, &len);
    for (const char *p = buf; (p = memmem(p, len - (size_t)(p - buf), s, strlen(s))) != NULL; p += strlen(s))
        n++;
    free(buf);
    return n;
}

/* Fails unless the test still runs inside the daemon's first JWKS_REFETCH_S. */
static void assert_in_first_minute(void)
{
    double elapsed = mono_s() - ready_at;
    if (elapsed > JWKS_REFETCH_S - WINDOW_MARGIN_S)
        fail_msg("%.1f s since the daemon started: too late for the no-refetch window (%d s)", elapsed, JWKS_REFETCH_S);
}

/* ---- set-up ---- */

static int setup(void **state)
{
    (void)state;
    ec_key = jk_ec_key();
    rsa_key = jk_rsa_key();
    stranger = jk_ec_key();
    snprintf(kdir, sizeof(kdir), "/tmp/ihjwt.XXXXXX");
    if (!ec_key || !rsa_key || !stranger || !mkdtemp(kdir))
        return -1;
    snprintf(rsa_pem, sizeof(rsa_pem), "%s/rsa.pem", kdir);
    if (!jk_write_pubkey_pem(rsa_key, rsa_pem))
        return -1;
    idp = receiver_start(NULL, 0, RECV_OK, 0);
    if (!idp || !serve_jwks(idp))
        return -1;
    snprintf(idp_env, sizeof(idp_env),
             "ISSUERHOOK_JWT_IDP=alg=ES256 jwks=http://127.0.0.1:%d/jwks.json iss=" IDP_ISS " aud=" AUD,
             receiver_port(idp));
    snprintf(rsa_env, sizeof(rsa_env), "ISSUERHOOK_JWT_RSA=alg=RS256 key=%s iss=" RSA_ISS " aud=" AUD, rsa_pem);
    key_line("CARD", CARD_SECRET, "cardAdapter/write", card_env, sizeof(card_env));
    D.extra_env[0] = idp_env;
    D.extra_env[1] = rsa_env;
    D.extra_env[2] = card_env;
    D.extra_env[3] = NULL;
    D.pg_private = true; /* test_log_names_caller_not_token scans the cluster's files */
    if (!daemon_start(&D) || !store_scan_prepare(&D))
        return -1;
    ready_at = mono_s();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = D.pid > 0 ? daemon_stop(&D, SIGTERM) : 0; /* the last test stops it itself */
    daemon_cleanup(&D);
    receiver_stop(idp);
    idp = NULL;
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(stranger);
    unlink(rsa_pem);
    rmdir(kdir);
    for (size_t i = 0; i < ntokens; i++)
        free(tokens[i]);
    return rc == 0 ? 0 : -1;
}

/* ---- the first minute: fetches counted ---- */

static void test_es256_token_stores_batch(void **state)
{
    (void)state;
    assert_int_equal(hits(idp), 1); /* the prefetch at start */
    assert_string_equal(hit_buf[0].path, "/jwks.json");
    const char *t = idp_token("\"scope\":\"cardAdapter/write\"");
    char *b = card_batch(3);
    struct http_resp r;
    assert_int_equal(call(&D, "POST", ROUTE, t, NULL, "jwt-batch-1", b, &r), 200);
    assert_int_equal(r.len, 0);
    http_resp_free(&r);
    free(b);
    assert_int_equal(rows(&D), 3);
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM records WHERE source='apiture.card_activity'"), 3);
    /* the caller is the token's client: jwt:<issuer name>/<client_id> */
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM idempotency_keys WHERE scope = '" ROUTE " jwt:IDP/" CLIENT
                                   "' AND key = 'jwt-batch-1'"),
                     1);
    /* the same token again: the held key, no fetch */
    assert_int_equal(post_cards(&D, t, NULL, 2, NULL), 200);
    assert_int_equal(rows(&D), 5);
    assert_int_equal(hits(idp), 1);
}

/* A key the JWKS does not hold: 401. The refetch an unknown kid asks for does not
 * happen within a minute of the prefetch (which counts as the last attempt), so the
 * server sees the prefetch only. */
static void test_unknown_key_401_without_refetch(void **state)
{
    (void)state;
    assert_in_first_minute();
    char c[1024];
    snprintf(c, sizeof(c), "%s", claims(IDP_ISS, AUD, 600, ",\"client_id\":\"x\",\"scope\":\"cardAdapter/write\""));
    refused(token(stranger, "e9", c), "unknown signing key");
    refused(token(stranger, "e9", c), "unknown signing key");
    /* a held kid, or none (every held key is tried), with another key's signature */
    refused(token(stranger, "e1", c), "bad signature");
    refused(token(stranger, NULL, c), "bad signature");
    assert_int_equal(hits(idp), 1); /* within "the prefetch plus at most one refetch": exactly the prefetch */
}

/* The JWKS server goes away after the daemon has fetched the set: held keys keep
 * working; a new kid is 401 (unknown key), not 503: no fetch is even attempted
 * within the minute, and a set is held. */
static void test_jwks_down_after_fetch(void **state)
{
    (void)state;
    assert_in_first_minute();
    receiver_stop(idp);
    idp = NULL;
    long long before = rows(&D);
    assert_int_equal(post_cards(&D, idp_token("\"scope\":\"cardAdapter/write\""), NULL, 1, NULL), 200);
    assert_int_equal(rows(&D), before + 1);
    char c[1024];
    snprintf(c, sizeof(c), "%s", claims(IDP_ISS, AUD, 600, ",\"client_id\":\"x\",\"scope\":\"cardAdapter/write\""));
    refused(token(stranger, "e2", c), "unknown signing key");
    assert_int_equal((long long)auth_failures(&D, "keys_unavailable"), -1); /* never counted */
    assert_int_equal(count_in(D.log, "\"msg\":\"cannot fetch the JWKS\""), 0);
}

/* ---- tokens and their claims ---- */

static void test_rs256_key_file_issuer(void **state)
{
    (void)state;
    const char *t = token(rsa_key, "r1", claims_of(RSA_ISS, AUD, RSA_SUB, 600, ",\"scope\":\"cardAdapter/write\""));
    long long before = rows(&D);
    char *b = card_batch(2);
    assert_int_equal(call(&D, "POST", ROUTE, t, NULL, "jwt-batch-rsa", b, NULL), 200);
    free(b);
    assert_int_equal(rows(&D), before + 2);
    /* no client_id: the caller is the subject */
    assert_int_equal(db_scalar(&D, "SELECT count(*) FROM idempotency_keys WHERE scope = '" ROUTE " jwt:RSA/" RSA_SUB
                                   "' AND key = 'jwt-batch-rsa'"),
                     1);
    /* the token's iss picks the issuer, and the issuer's alg is the only one it takes */
    const char *scope = ",\"scope\":\"cardAdapter/write\"";
    refused(token(rsa_key, "r1", claims(IDP_ISS, AUD, 600, scope)), "algorithm refused"); /* RS256 to the ES256 IDP */
    refused(token(ec_key, "e1", claims(RSA_ISS, AUD, 600, scope)), "algorithm refused");  /* ES256 to RSA */
    /* a key-file issuer has no kid to look up: another RSA key is a bad signature */
    EVP_PKEY *other = jk_rsa_key();
    assert_non_null(other);
    refused(token(other, "r1", claims(RSA_ISS, AUD, 600, scope)), "bad signature");
    EVP_PKEY_free(other);
}

static void test_scp_array(void **state)
{
    (void)state;
    long long before = rows(&D);
    assert_int_equal(post_cards(&D, idp_token("\"scp\":[\"openid\",\"cardAdapter/write\"]"), NULL, 2, NULL), 200);
    assert_int_equal(rows(&D), before + 2);
    /* scp as one string works too */
    assert_int_equal(post_cards(&D, idp_token("\"scp\":\"cardAdapter/write\""), NULL, 1, NULL), 200);
    assert_int_equal(rows(&D), before + 3);
}

static void test_without_scope_403(void **state)
{
    (void)state;
    long long before = rows(&D);
    long long scope_refusals = (long long)auth_failures(&D, "scope");
    const char *t = idp_token("\"scope\":\"ledger:read cardAdapter/writes\"");
    struct http_resp r;
    assert_int_equal(post_cards(&D, t, NULL, 1, &r), 403);
    assert_non_null(strstr(r.content_type, "application/problem+json"));
    assert_non_null(strstr(r.body, "scope"));
    /* RFC 6750 3.1: a token without the scope gets insufficient_scope */
    assert_string_equal(r.www_authenticate, "Bearer realm=\"issuerhook\", error=\"insufficient_scope\"");
    http_resp_free(&r);
    assert_int_equal(rows(&D), before);
    assert_int_equal((long long)auth_failures(&D, "scope"), (scope_refusals < 0 ? 0 : scope_refusals) + 1);
    /* what it has, it may do */
    assert_int_equal(call(&D, "GET", "/bookings?status=pending", t, NULL, NULL, NULL, NULL), 200);
    /* no scope at all */
    assert_int_equal(post_cards(&D, token(ec_key, "e1", claims(IDP_ISS, AUD, 600, "")), NULL, 1, NULL), 403);
    assert_int_equal(rows(&D), before);
}

static void test_expired_401(void **state)
{
    (void)state;
    const char *scope = ",\"scope\":\"cardAdapter/write\"";
    refused(token(ec_key, "e1", claims(IDP_ISS, AUD, -3600, scope)), "token expired");
    /* within the leeway (ISSUERHOOK_JWT_LEEWAY, 60 s by default) it is still taken */
    long long before = rows(&D);
    assert_int_equal(post_cards(&D, token(ec_key, "e1", claims(IDP_ISS, AUD, -20, scope)), NULL, 1, NULL), 200);
    assert_int_equal(rows(&D), before + 1);
    /* not yet valid (past the leeway) */
    char nbf[128];
    snprintf(nbf, sizeof(nbf), "%s,\"nbf\":%lld", scope, (long long)time(NULL) + 3600);
    refused(token(ec_key, "e1", claims(IDP_ISS, AUD, 7200, nbf)), "token not yet valid");
    /* valid "for ever", or for longer than ISSUERHOOK_JWT_MAX_LIFETIME (a day by default) */
    char forever[512];
    snprintf(forever, sizeof(forever), "{\"iss\":\"" IDP_ISS "\",\"aud\":\"" AUD "\",\"exp\":1e300%s}", scope);
    refused(token(ec_key, "e1", forever), "token lifetime too long");
    refused(token(ec_key, "e1", claims(IDP_ISS, AUD, 86401, scope)), "token lifetime too long");
    before = rows(&D);
    assert_int_equal(post_cards(&D, token(ec_key, "e1", claims(IDP_ISS, AUD, 86400, scope)), NULL, 1, NULL), 200);
    assert_int_equal(rows(&D), before + 1);
}

static void test_alg_none_401(void **state)
{
    (void)state;
    const char *c = claims(IDP_ISS, AUD, 600, ",\"client_id\":\"" CLIENT "\",\"scope\":\"cardAdapter/write\"");
    const char *headers[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"None\",\"kid\":\"e1\"}"};
    for (size_t i = 0; i < 2; i++) {
        char h[128], p[1400], t[1600];
        jk_b64url(headers[i], strlen(headers[i]), h);
        jk_b64url(c, strlen(c), p);
        snprintf(t, sizeof(t), "%s.%s.", h, p); /* the unsecured form */
        refused(remember(strdup(t)), "algorithm refused");
        /* and with the signature of a real token */
        const char *real = idp_token("\"scope\":\"cardAdapter/write\"");
        snprintf(t, sizeof(t), "%s.%s%s", h, p, strrchr(real, '.'));
        refused(remember(strdup(t)), "algorithm refused");
    }
    /* an HS256 token keyed with the IDP's public key bytes */
    size_t n = 0;
    char *pem = jk_pubkey_pem(ec_key, &n);
    assert_non_null(pem);
    refused(remember(jk_token(NULL, pem, n, "{\"alg\":\"HS256\",\"kid\":\"e1\"}", c)), "algorithm refused");
    free(pem);
    refused("not-a-token", "malformed token");
}

static void test_wrong_audience_or_issuer_401(void **state)
{
    (void)state;
    const char *scope = ",\"scope\":\"cardAdapter/write\"";
    refused(token(ec_key, "e1", claims(IDP_ISS, "someone-else", 600, scope)), "wrong audience");
    refused(token(rsa_key, "r1", claims(RSA_ISS, "ISSUERHOOK", 600, scope)), "wrong audience");
    /* an iss no issuer has (every issuer has iss=): nobody to ask */
    refused(token(ec_key, "e1", claims("https://evil.test", AUD, 600, scope)), "wrong issuer");
}

/* ---- API keys beside tokens ---- */

static void test_api_key_beside_tokens(void **state)
{
    (void)state;
    long long before = rows(&D);
    assert_int_equal(post_cards(&D, NULL, CARD_SECRET, 2, NULL), 200);
    assert_int_equal(rows(&D), before + 2);
    assert_int_equal(call(&D, "GET", "/bookings?status=pending", NULL, KEY_READ, NULL, NULL, NULL), 200);
    /* the API key header, when present, is the credential: a bad token beside it is not looked at */
    assert_int_equal(post_cards(&D, "not-a-token", CARD_SECRET, 1, NULL), 200);
    assert_int_equal(rows(&D), before + 3);
    /* ... and a good token does not rescue a bad key */
    struct http_resp r;
    assert_int_equal(post_cards(&D, idp_token("\"scope\":\"cardAdapter/write\""), "not-a-key", 1, &r), 401);
    /* (the detail of this 401 is the token's "malformed token", though the token was not
     * checked: see the report on authorize()) */
    http_resp_free(&r);
    assert_int_equal(rows(&D), before + 3);
    /* no credential: both challenges are offered; the Bearer one carries no error */
    assert_int_equal(post_cards(&D, NULL, NULL, 1, &r), 401);
    assert_string_equal(r.www_authenticate, "Bearer realm=\"issuerhook\"");
    assert_non_null(strstr(r.body, "a credential is required"));
    http_resp_free(&r);
    /* a token's scopes are its own: cardAdapter/write does not read bookings */
    assert_int_equal(call(&D, "GET", "/bookings?status=pending", idp_token("\"scope\":\"cardAdapter/write\""), NULL,
                          NULL, NULL, NULL),
                     403);
}

/* ---- last: the log ---- */

static void test_log_names_caller_not_token(void **state)
{
    (void)state;
    assert_true(daemon_log_has(&D, "\"principal\":\"jwt:IDP/" CLIENT "\"", 5000));
    assert_true(daemon_log_has(&D, "\"principal\":\"jwt:RSA/" RSA_SUB "\"", 5000));
    assert_true(daemon_log_has(&D, "\"principal\":\"CARD\"", 5000));
    /* everything written: stop the daemon, then look at its log and the store's files
     * (SQLite's database and WAL, or the PostgreSQL cluster's files and log) */
    assert_int_equal(daemon_stop(&D, SIGTERM), 0);
    assert_true(ntokens > 20);
    /* each token, its payload and its signature, and any Bearer header */
    size_t n = 0;
    const char **needles = calloc(3 * ntokens + 1, sizeof(*needles));
    char **parts = calloc(2 * ntokens, sizeof(*parts));
    assert_non_null(needles);
    assert_non_null(parts);
    needles[n++] = "Bearer ey";
    for (size_t i = 0, k = 0; i < ntokens; i++) {
        const char *t = tokens[i], *d1 = strchr(t, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        needles[n++] = t;
        if (d1 && d2 && d2 - d1 > 8)
            needles[n++] = parts[k++] = strndup(d1 + 1, (size_t)(d2 - d1 - 1));
        if (d2 && strlen(d2 + 1) > 8)
            needles[n++] = parts[k++] = strdup(d2 + 1);
    }
    struct scan_image *img[2] = {scan_image_new(), store_image_read(&D)};
    const char *where[] = {"the daemon's log", "the store's files"};
    assert_non_null(img[0]);
    assert_non_null(img[1]);
    assert_true(scan_image_add(img[0], D.log));
    /* positive control: the caller's name is in both (a log line, the Idempotency-Key's scope) */
    assert_true(scan_image_has(img[0], "jwt:IDP/" CLIENT, strlen("jwt:IDP/" CLIENT)));
    assert_true(scan_image_has(img[1], "jwt:IDP/" CLIENT, strlen("jwt:IDP/" CLIENT)));
    for (size_t f = 0; f < 2; f++) {
        long hit = scan_image_find_any(img[f], needles, n);
        if (hit >= 0)
            fail_msg("a token (or a part of it: %.20s...) found in %s", needles[hit], where[f]);
        scan_image_free(img[f]);
    }
    for (size_t k = 0; k < 2 * ntokens; k++)
        free(parts[k]);
    free(parts);
    free(needles);
}

/* ---- a daemon that has never fetched the keys ---- */

/* The JWKS server is down from the start: a token is 503 with Retry-After (the
 * issuer's keys cannot be had: not the caller's fault), answered at once; the daemon
 * retries in the background (about 1 s after the failure, then 2 s later, ...); when
 * the server comes up, tokens are accepted within a couple of seconds, after one
 * fetch. API keys work all along. */
static void test_keys_unavailable_until_first_fetch(void **state)
{
    (void)state;
    /* a loopback port where nothing listens (for now) */
    struct receiver *rv = receiver_start(NULL, 0, RECV_OK, 0);
    assert_non_null(rv);
    int port = receiver_port(rv);
    receiver_stop(rv);
    char env[256];
    snprintf(env, sizeof(env), "ISSUERHOOK_JWT_IDP=alg=ES256 jwks=http://127.0.0.1:%d/jwks.json iss=" IDP_ISS " aud=" AUD,
             port);
    struct daemon b = {.extra_env = {env, card_env, "ISSUERHOOK_RETRY_AFTER=7", NULL}};
    assert_true(daemon_start(&b));
    double started = mono_s();
    assert_true(daemon_log_has(&b, "\"msg\":\"cannot fetch the JWKS of a JWT issuer yet\"", 5000));
    const char *t = idp_token("\"scope\":\"cardAdapter/write\"");
    struct http_resp r;

    double asked = mono_s();
    assert_int_equal(post_cards(&b, t, NULL, 1, &r), 503);
    double answered_in = mono_s() - asked;
    assert_string_equal(r.retry_after, "7");
    assert_string_equal(r.www_authenticate, "");
    assert_non_null(strstr(r.content_type, "application/problem+json"));
    assert_non_null(strstr(r.body, "keys cannot be fetched"));
    http_resp_free(&r);
    assert_true(answered_in < 1.0); /* no request waits for a fetch */
    assert_int_equal(rows(&b), 0);
    assert_int_equal((long long)auth_failures(&b, "keys_unavailable"), 1);
    assert_int_equal((long long)auth_failures(&b, "invalid"), -1);
    /* API keys do not depend on it */
    assert_int_equal(post_cards(&b, NULL, CARD_SECRET, 1, NULL), 200);
    assert_int_equal(rows(&b), 1);

    /* no more tokens for a while: the background retries, at about 1 s and 3 s */
    sleep_until(started + 3.6);
    size_t tries = count_in(b.log, "\"msg\":\"cannot fetch the JWKS\"");
    print_message("%zu fetch attempts in the first %.1f s with the issuer down\n", tries, mono_s() - started);
    assert_true(tries >= 3 && tries <= 5); /* the start, ~1 s, ~3 s (one more if a token hurried one) */

    /* the server comes up on that port; tokens keep coming: accepted within a couple
     * of seconds, after one fetch */
    rv = receiver_start_on(port, NULL, 0, RECV_OK, 0);
    if (!rv)
        fail_msg("cannot listen on 127.0.0.1:%d again", port);
    assert_true(serve_jwks(rv));
    double up = mono_s();
    long st = 0;
    while ((st = post_cards(&b, t, NULL, 1, NULL)) == 503 && mono_s() - up < 10)
        sleep_until(mono_s() + 0.2);
    double took = mono_s() - up;
    print_message("the first token accepted %.2f s after the issuer came up\n", took);
    assert_int_equal(st, 200);
    assert_true(took < 3.0);
    assert_int_equal(hits(rv), 1);
    assert_true(daemon_log_has(&b, "\"msg\":\"fetched the JWKS after failed attempts\"", 5000));
    assert_int_equal(post_cards(&b, t, NULL, 1, NULL), 200);
    assert_int_equal(hits(rv), 1);
    assert_true(daemon_log_has(&b, "\"principal\":\"jwt:IDP/" CLIENT "\"", 5000));
    long long keys_unavailable = (long long)auth_failures(&b, "keys_unavailable");
    tries = count_in(b.log, "\"msg\":\"cannot fetch the JWKS\"");

    /* now that it holds a set, the server going away again makes a new kid a 401:
     * the refetch it asks for is not due for a minute, so none is attempted */
    receiver_stop(rv);
    char c[1024];
    snprintf(c, sizeof(c), "%s", claims(IDP_ISS, AUD, 600, ",\"scope\":\"cardAdapter/write\""));
    assert_int_equal(post_cards(&b, token(stranger, "e7", c), NULL, 1, &r), 401);
    assert_string_equal(r.www_authenticate,
                        "Bearer realm=\"issuerhook\", error=\"invalid_token\", error_description=\"unknown signing key\"");
    http_resp_free(&r);
    assert_int_equal(post_cards(&b, t, NULL, 1, NULL), 200);
    assert_int_equal((long long)auth_failures(&b, "keys_unavailable"), keys_unavailable);
    assert_int_equal(count_in(b.log, "\"msg\":\"cannot fetch the JWKS\""), tries);

    assert_int_equal(daemon_stop(&b, SIGTERM), 0);
    daemon_cleanup(&b);
}

int main(void)
{
    const struct ih_test tests[] = {
        /* these three inside the daemon's first minute, first */
        IH_TEST(cmocka_unit_test(test_es256_token_stores_batch)),
        IH_TEST(cmocka_unit_test(test_unknown_key_401_without_refetch)),
        IH_TEST(cmocka_unit_test(test_jwks_down_after_fetch)),
        IH_TEST(cmocka_unit_test(test_rs256_key_file_issuer)),
        IH_TEST(cmocka_unit_test(test_scp_array)),
        IH_TEST(cmocka_unit_test(test_without_scope_403)),
        IH_TEST(cmocka_unit_test(test_expired_401)),
        IH_TEST(cmocka_unit_test(test_alg_none_401)),
        IH_TEST(cmocka_unit_test(test_wrong_audience_or_issuer_401)),
        IH_TEST(cmocka_unit_test(test_api_key_beside_tokens)),
        IH_TEST(cmocka_unit_test(test_keys_unavailable_until_first_fetch)),
        /* last: stops the daemon */
        IH_TEST(cmocka_unit_test(test_log_names_caller_not_token)),
    };
    return IH_RUN_TESTS(tests, setup, teardown);
}
