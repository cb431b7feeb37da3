/* Unit tests of JWKS issuers (src/auth/jwks.c through include/issuerhook/jwt.h): a
 * small libmicrohttpd server on loopback serves a JWK Set built (tests/kit/jwtkit.h)
 * from keys generated for the run, and counts its hits; a fake clock drives the
 * refetch rate limit. */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "jwtkit.h"
#include "issuerhook/jwt.h"
#include "issuerhook/scope.h"
#include "../../src/auth/jwt_internal.h"

#define NOW 1700000000LL
#define CLAIMS "{\"iss\":\"https://idp.example\",\"sub\":\"svc\",\"scope\":\"ledger:read\",\"exp\":1700003600}"

/* ---- keys ---- */

/* Appends s to buf (cap bytes, NUL-terminated); the test fails when it does not fit. */
static void append(char *buf, size_t cap, const char *s)
{
    size_t have = strlen(buf), n = strlen(s);
    assert_true(have + n < cap);
    memcpy(buf + have, s, n + 1);
}

static EVP_PKEY *rsa1, *rsa2, *rsa3, *ec1;

/* The public JWK of pk (tests/kit jk_jwk), with kid (NULL: none) and extra members
 * (",\"use\":\"sig\""), into out (cap bytes). */
static void jwk_of(EVP_PKEY *pk, const char *kid, const char *extra, char *out, size_t cap)
{
    char *jwk = jk_jwk(pk, kid, extra);
    assert_non_null(jwk);
    assert_true(strlen(jwk) < cap);
    memcpy(out, jwk, strlen(jwk) + 1);
    free(jwk);
}

/* A token signed with pk (RS256 or ES256 by its type), with kid (NULL: none):
 * tests/kit jk_token_kid. Caller frees. */
static char *make_token(EVP_PKEY *pk, const char *kid, const char *claims)
{
    char *t = jk_token_kid(pk, kid, claims);
    assert_non_null(t);
    return t;
}

/* ---- the JWKS server ---- */

static struct server {
    struct MHD_Daemon *d;
    unsigned short port;
    pthread_mutex_t lock;
    char *body;      /* what GET answers */
    unsigned status; /* HTTP status to answer */
    atomic_int hits;
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
    (void)cls, (void)url, (void)version, (void)upload, (void)upload_len, (void)con_cls;
    if (strcmp(method, "GET") != 0)
        return MHD_NO;
    atomic_fetch_add(&srv.hits, 1);
    pthread_mutex_lock(&srv.lock);
    const char *b = srv.body ? srv.body : "";
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
    unsigned status = srv.status;
    pthread_mutex_unlock(&srv.lock);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static void serve(unsigned status, const char *body)
{
    pthread_mutex_lock(&srv.lock);
    free(srv.body);
    srv.body = strdup(body);
    srv.status = status;
    pthread_mutex_unlock(&srv.lock);
}

/* Serves {"keys":[jwk of each key, with its kid]}; kids[i] NULL for none. */
static void serve_keys(size_t n, EVP_PKEY *const *keys, const char *const *kids)
{
    char *doc = jk_jwks(n, keys, kids, ",\"use\":\"sig\"");
    assert_non_null(doc);
    serve(200, doc);
    free(doc);
}

/* Listens on 127.0.0.1:port (0: any free port). */
static void server_start(unsigned short port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&sa, MHD_OPTION_END);
    assert_non_null(srv.d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    srv.port = info->port;
    assert_true(srv.port != 0);
}

static void server_stop(void)
{
    if (srv.d)
        MHD_stop_daemon(srv.d);
    srv.d = NULL;
}

/* ---- fake clock ---- */

static _Atomic int64_t fake_now = 1000;
static int64_t fake_clock(void)
{
    return atomic_load(&fake_now);
}

/* ---- real time ---- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double d)
{
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- set-up ---- */

static char err[256];

static struct jwt_issuer *jwks_issuer(const char *alg, const char *path)
{
    char value[256];
    struct jwt_issuer *iss = NULL;
    snprintf(value, sizeof(value), "alg=%s jwks=http://127.0.0.1:%u%s iss=https://idp.example", alg, srv.port, path);
    if (jwt_issuer_parse("idp", value, &iss, err, sizeof(err)) != IH_OK) {
        print_error("%s: %s\n", value, err);
        fail();
    }
    jwks_set_clock(iss->jwks, fake_clock);
    return iss;
}

static enum jwt_result verify1(struct jwt_issuer *iss, const char *token, struct jwt_principal *p)
{
    struct jwt_issuer *list[] = {iss};
    return jwt_verify(list, 1, token, strlen(token), NOW, 0, 86400, p);
}

#define assert_result(got, want) tu_assert_result((got), (want), __FILE__, __LINE__)
static void tu_assert_result(enum jwt_result got, enum jwt_result want, const char *file, int line)
{
    if (got != want) {
        print_error("expected \"%s\", got \"%s\"\n", jwt_result_str(want), jwt_result_str(got));
        _fail(file, line);
    }
}

/* Verifies token every 100 ms until it is accepted: the seconds that took, or -1
 * after timeout_ms. */
static double wait_ok(struct jwt_issuer *iss, const char *token, int timeout_ms)
{
    struct jwt_principal p;
    double t0 = mono_s();
    while (mono_s() - t0 < timeout_ms / 1000.0) {
        if (verify1(iss, token, &p) == JWT_OK)
            return mono_s() - t0;
        sleep_s(0.1);
    }
    return -1;
}

static int setup(void **state)
{
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    rsa1 = jk_rsa_key();
    rsa2 = jk_rsa_key();
    rsa3 = jk_rsa_key();
    ec1 = jk_ec_key();
    if (!rsa1 || !rsa2 || !rsa3 || !ec1)
        return -1;
    server_start(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    server_stop();
    free(srv.body);
    EVP_PKEY_free(rsa1);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(rsa3);
    EVP_PKEY_free(ec1);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ---- */

static void test_fetch_once_then_refetch_on_new_kid(void **state)
{
    (void)state;
    struct jwt_principal p;
    EVP_PKEY *one[] = {rsa1}, *two[] = {rsa1, rsa2};
    const char *kids1[] = {"k1"}, *kids2[] = {"k1", "k2"};
    serve_keys(1, one, kids1);
    atomic_store(&srv.hits, 0);
    atomic_store(&fake_now, 1000);
    struct jwt_issuer *iss = jwks_issuer("RS256", "/jwks.json");
    assert_int_equal(atomic_load(&srv.hits), 0); /* lazy */

    char *t1 = make_token(rsa1, "k1", CLAIMS);
    assert_result(verify1(iss, t1, &p), JWT_OK);
    assert_int_equal(atomic_load(&srv.hits), 1);
    assert_string_equal(p.subject, "svc");
    assert_int_equal(p.scopes, SCOPE_LEDGER_READ);
    assert_result(verify1(iss, t1, &p), JWT_OK);
    assert_int_equal(atomic_load(&srv.hits), 1); /* cached */

    /* the IdP rotates in k2; a minute later a token signed with it arrives */
    serve_keys(2, two, kids2);
    atomic_store(&fake_now, 1000 + JWKS_REFETCH_S);
    char *t2 = make_token(rsa2, "k2", CLAIMS);
    assert_result(verify1(iss, t2, &p), JWT_OK);
    assert_int_equal(atomic_load(&srv.hits), 2); /* refetched once */
    assert_result(verify1(iss, t2, &p), JWT_OK);
    assert_result(verify1(iss, t1, &p), JWT_OK);
    assert_int_equal(atomic_load(&srv.hits), 2);

    /* another unknown kid right after: no refetch (rate limit) */
    char *t3 = make_token(rsa3, "k3", CLAIMS);
    atomic_store(&fake_now, 1000 + JWKS_REFETCH_S + 1);
    assert_result(verify1(iss, t3, &p), JWT_UNKNOWN_KEY);
    assert_result(verify1(iss, t3, &p), JWT_UNKNOWN_KEY);
    assert_int_equal(atomic_load(&srv.hits), 2);
    /* a minute later it may refetch again; k3 is still not served */
    atomic_store(&fake_now, 1000 + 2 * JWKS_REFETCH_S);
    assert_result(verify1(iss, t3, &p), JWT_UNKNOWN_KEY);
    assert_int_equal(atomic_load(&srv.hits), 3);

    /* a known kid with the wrong key's signature is a bad signature, not a fetch */
    char *forged = make_token(rsa3, "k1", CLAIMS);
    assert_result(verify1(iss, forged, &p), JWT_BAD_SIGNATURE);
    assert_int_equal(atomic_load(&srv.hits), 3);
    /* no kid: every held key is tried */
    char *nokid = make_token(rsa2, NULL, CLAIMS);
    assert_result(verify1(iss, nokid, &p), JWT_OK);
    assert_int_equal(atomic_load(&srv.hits), 3);

    free(t1);
    free(t2);
    free(t3);
    free(forged);
    free(nokid);
    jwt_issuer_free(iss);
}

static void test_es256_and_prefetch(void **state)
{
    (void)state;
    struct jwt_principal p;
    EVP_PKEY *keys[] = {rsa1, ec1};
    const char *kids[] = {"r1", "e1"};
    serve_keys(2, keys, kids);
    atomic_store(&srv.hits, 0);
    atomic_store(&fake_now, 5000);
    struct jwt_issuer *iss = jwks_issuer("ES256", "/keys");
    assert_int_equal(jwt_issuer_prefetch(iss), IH_OK);
    assert_int_equal(atomic_load(&srv.hits), 1);
    char *t = make_token(ec1, "e1", CLAIMS);
    assert_result(verify1(iss, t, &p), JWT_OK);
    assert_int_equal(atomic_load(&srv.hits), 1);
    free(t);
    /* the RSA key of the set is not kept by an ES256 issuer; an RS256 token is refused */
    t = make_token(rsa1, "r1", CLAIMS);
    assert_result(verify1(iss, t, &p), JWT_ALG_REFUSED);
    free(t);
    jwt_issuer_free(iss);
}

static void test_server_down(void **state)
{
    (void)state;
    struct jwt_principal p;
    EVP_PKEY *one[] = {rsa1};
    const char *kids[] = {"k1"};
    serve_keys(1, one, kids);
    atomic_store(&srv.hits, 0);
    atomic_store(&fake_now, 9000);
    struct jwt_issuer *held = jwks_issuer("RS256", "/jwks.json");
    char *t1 = make_token(rsa1, "k1", CLAIMS), *t2 = make_token(rsa2, "k2", CLAIMS);
    assert_result(verify1(held, t1, &p), JWT_OK);
    assert_int_equal(atomic_load(&srv.hits), 1);

    server_stop();
    /* never fetched: keys unavailable (the first use tries, then the background does) */
    struct jwt_issuer *fresh = jwks_issuer("RS256", "/jwks.json");
    assert_result(verify1(fresh, t1, &p), JWT_KEYS_UNAVAILABLE);
    assert_int_equal(jwt_issuer_prefetch(fresh), IH_EIO);
    /* held set: known kids keep working; an unknown kid cannot be checked */
    atomic_store(&fake_now, 9000 + JWKS_REFETCH_S);
    assert_result(verify1(held, t1, &p), JWT_OK);
    assert_result(verify1(held, t2, &p), JWT_KEYS_UNAVAILABLE);
    atomic_store(&fake_now, 9000 + JWKS_REFETCH_S + 1);
    assert_result(verify1(held, t2, &p), JWT_UNKNOWN_KEY); /* rate-limited: no attempt */
    /* a held set past its age is still used when the refresh fails */
    atomic_store(&fake_now, 9000 + JWKS_MAX_AGE_S + 10);
    assert_result(verify1(held, t1, &p), JWT_OK);

    /* the server comes back: the held set is refreshed on use a minute after its last
     * attempt, the fresh issuer gets its set from its background retries */
    int64_t t0 = atomic_load(&fake_now);
    server_start(srv.port);
    serve_keys(1, one, kids);
    atomic_store(&srv.hits, 0);
    atomic_store(&fake_now, t0 + JWKS_REFETCH_S);
    assert_result(verify1(held, t1, &p), JWT_OK);
    assert_int_equal(atomic_load(&srv.hits), 1);
    assert_true(wait_ok(fresh, t1, 3000) >= 0);
    free(t1);
    free(t2);
    jwt_issuer_free(held);
    jwt_issuer_free(fresh);
}

/* The backoff of the background retries: 1 s, doubling, at most a minute. */
static void test_retry_schedule(void **state)
{
    (void)state;
    static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(jwks_retry_delay_ms(i + 1), want[i]);
    assert_int_equal(jwks_retry_delay_ms(1000), JWKS_RETRY_MAX_MS);
    assert_int_equal(jwks_retry_delay_ms(0), JWKS_RETRY_FIRST_MS);
}

/* The issuer is not up when the daemon starts (its JWKS answers 500): tokens answer
 * "keys unavailable" at once, without waiting for a fetch; the set is fetched again in
 * the background, a second after the failure, then 2 s later, ...; once the issuer
 * answers, a token is accepted within about a second, and the retries stop. */
static void test_first_fetch_retried_in_background(void **state)
{
    (void)state;
    struct jwt_principal p;
    EVP_PKEY *one[] = {rsa1};
    const char *kids[] = {"k1"};
    serve(500, "{\"error\":\"starting\"}");
    atomic_store(&srv.hits, 0);
    atomic_store(&fake_now, 30000);
    struct jwt_issuer *iss = jwks_issuer("RS256", "/jwks.json");
    char *t = make_token(rsa1, "k1", CLAIMS);
    double t0 = mono_s();
    assert_int_equal(jwt_issuer_prefetch(iss), IH_EIO); /* at start */
    assert_int_equal(atomic_load(&srv.hits), 1);
    /* nothing in the request path waits or fetches in the first second */
    for (int i = 0; i < 5; i++)
        assert_result(verify1(iss, t, &p), JWT_KEYS_UNAVAILABLE);
    if (mono_s() - t0 < 0.9)
        assert_int_equal(atomic_load(&srv.hits), 1);
    /* no token: the background tries at about 1 s and 3 s after the start */
    sleep_s(3.5 - (mono_s() - t0));
    int tries = atomic_load(&srv.hits);
    print_message("%d fetches in the first %.1f s with the issuer down\n", tries, mono_s() - t0);
    assert_true(tries >= 2 && tries <= 4);
    /* the issuer comes up; tokens keep coming: accepted within about a second */
    serve_keys(1, one, kids);
    double up = mono_s();
    double took = wait_ok(iss, t, 5000);
    print_message("the first token accepted %.2f s after the issuer came up\n", took);
    assert_true(took >= 0 && took < 2.5);
    (void)up;
    /* the background retries are over: no more fetches */
    int after = atomic_load(&srv.hits);
    sleep_s(1.5);
    assert_int_equal(atomic_load(&srv.hits), after);
    assert_result(verify1(iss, t, &p), JWT_OK);
    free(t);
    jwt_issuer_free(iss);
}

/* An issuer freed while its retries wait (or a fetch hangs) stops at once. */
static void test_free_stops_retries(void **state)
{
    (void)state;
    struct jwt_principal p;
    serve(500, "{}");
    struct jwt_issuer *iss = jwks_issuer("RS256", "/jwks.json");
    char *t = make_token(rsa1, "k1", CLAIMS);
    assert_result(verify1(iss, t, &p), JWT_KEYS_UNAVAILABLE); /* the retrier starts */
    double t0 = mono_s();
    jwt_issuer_free(iss);
    assert_true(mono_s() - t0 < 0.5);
    free(t);
}

static void test_bad_answers(void **state)
{
    (void)state;
    struct jwt_principal p;
    char *t = make_token(rsa1, "k1", CLAIMS);
    const struct {
        unsigned status;
        const char *body;
    } cases[] = {
        {500, "{\"keys\":[]}"},
        {404, "not found"},
        {200, "not json"},
        {200, "{\"keys\":{}}"},
        {200, "[]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        serve(cases[i].status, cases[i].body);
        struct jwt_issuer *iss = jwks_issuer("RS256", "/x");
        assert_result(verify1(iss, t, &p), JWT_KEYS_UNAVAILABLE);
        jwt_issuer_free(iss);
    }
    /* an empty set is a set: the kid is unknown */
    serve(200, "{\"keys\":[]}");
    struct jwt_issuer *iss = jwks_issuer("RS256", "/x");
    assert_result(verify1(iss, t, &p), JWT_UNKNOWN_KEY);
    jwt_issuer_free(iss);
    /* too large: refused whole */
    size_t big = JWKS_MAX_BYTES + 100;
    char *doc = malloc(big + 1);
    assert_non_null(doc);
    memset(doc, ' ', big);
    memcpy(doc, "{\"keys\":[]}", 11);
    doc[big] = '\0';
    serve(200, doc);
    free(doc);
    iss = jwks_issuer("RS256", "/x");
    assert_result(verify1(iss, t, &p), JWT_KEYS_UNAVAILABLE);
    jwt_issuer_free(iss);
    free(t);
}

static void test_parse_filters_keys(void **state)
{
    (void)state;
    char doc[16384], jwk[2048];
    struct jwks_keyset *s = NULL;
    EVP_PKEY *weak = EVP_RSA_gen(1024), *p384 = EVP_EC_gen("P-384");
    assert_non_null(weak);
    assert_non_null(p384);
    doc[0] = '\0';
    append(doc, sizeof(doc), "{\"keys\":[");
    jwk_of(rsa1, "enc", ",\"use\":\"enc\"", jwk, sizeof(jwk)); /* not for signatures */
    append(doc, sizeof(doc), jwk);
    jwk_of(rsa1, "ps", ",\"alg\":\"PS256\"", jwk, sizeof(jwk)); /* another alg */
    append(doc, sizeof(doc), ",");
    append(doc, sizeof(doc), jwk);
    jwk_of(rsa1, "ops", ",\"key_ops\":[\"encrypt\"]", jwk, sizeof(jwk));
    append(doc, sizeof(doc), ",");
    append(doc, sizeof(doc), jwk);
    jwk_of(weak, "weak", "", jwk, sizeof(jwk)); /* 1024 bits */
    append(doc, sizeof(doc), ",");
    append(doc, sizeof(doc), jwk);
    append(doc, sizeof(doc), ",{\"kty\":\"oct\",\"kid\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T\"}");
    append(doc, sizeof(doc), ",{\"kty\":\"RSA\",\"kid\":\"pad\",\"n\":\"AQAB==\",\"e\":\"AQAB\"}");
    append(doc, sizeof(doc), ",\"not an object\"");
    jwk_of(rsa2, "good", ",\"alg\":\"RS256\",\"key_ops\":[\"verify\"]", jwk, sizeof(jwk));
    append(doc, sizeof(doc), ",");
    append(doc, sizeof(doc), jwk);
    jwk_of(rsa3, NULL, "", jwk, sizeof(jwk)); /* no kid: kept */
    append(doc, sizeof(doc), ",");
    append(doc, sizeof(doc), jwk);
    jwk_of(ec1, "ec", "", jwk, sizeof(jwk));
    append(doc, sizeof(doc), ",");
    append(doc, sizeof(doc), jwk);
    jwk_of(p384, "p384", "", jwk, sizeof(jwk));
    append(doc, sizeof(doc), ",");
    append(doc, sizeof(doc), jwk);
    append(doc, sizeof(doc), ",{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"off-curve\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
                "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}");
    append(doc, sizeof(doc), "]}");

    assert_int_equal(jwks_parse(doc, strlen(doc), JWT_RS256, &s), IH_OK);
    assert_int_equal(s->n, 2);
    assert_string_equal(s->kids[0], "good");
    assert_true(s->has_kid[0]);
    assert_false(s->has_kid[1]);
    jwks_keyset_free(s);
    assert_int_equal(jwks_parse(doc, strlen(doc), JWT_ES256, &s), IH_OK);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->kids[0], "ec");
    jwks_keyset_free(s);

    const char *not_sets[] = {"", "[]", "{}", "{\"keys\":\"x\"}", "{\"keys\":[],\"keys\":[]}"};
    for (size_t i = 0; i < sizeof(not_sets) / sizeof(not_sets[0]); i++) {
        s = (struct jwks_keyset *)1;
        assert_int_equal(jwks_parse(not_sets[i], strlen(not_sets[i]), JWT_RS256, &s), IH_EINVAL);
        assert_null(s);
    }
    EVP_PKEY_free(weak);
    EVP_PKEY_free(p384);
}

/* Many threads meeting an empty cache: one fetch serves them all. */
struct race {
    struct jwt_issuer *iss;
    const char *token;
    int bad;
};

static void *race_run(void *arg)
{
    struct race *r = arg;
    struct jwt_principal p;
    for (int i = 0; i < 20; i++)
        if (verify1(r->iss, r->token, &p) != JWT_OK)
            r->bad++;
    return NULL;
}

static void test_concurrent_first_use(void **state)
{
    (void)state;
    EVP_PKEY *one[] = {rsa1};
    const char *kids[] = {"k1"};
    serve_keys(1, one, kids);
    atomic_store(&srv.hits, 0);
    atomic_store(&fake_now, 20000);
    struct jwt_issuer *iss = jwks_issuer("RS256", "/jwks.json");
    char *t = make_token(rsa1, "k1", CLAIMS);
    pthread_t th[6];
    struct race r[6];
    for (int i = 0; i < 6; i++) {
        r[i] = (struct race){iss, t, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_run, &r[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].bad, 0);
    }
    assert_int_equal(atomic_load(&srv.hits), 1);
    free(t);
    jwt_issuer_free(iss);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_once_then_refetch_on_new_kid),
        cmocka_unit_test(test_es256_and_prefetch),
        cmocka_unit_test(test_server_down),
        cmocka_unit_test(test_retry_schedule),
        cmocka_unit_test(test_first_fetch_retried_in_background),
        cmocka_unit_test(test_free_stops_retries),
        cmocka_unit_test(test_bad_answers),
        cmocka_unit_test(test_parse_filters_keys),
        cmocka_unit_test(test_concurrent_first_use),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
