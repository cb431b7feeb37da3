/* Unit tests of JWT verification (include/issuerhook/jwt.h): the RFC 7515 and
 * RFC 7520 vectors in tests/fixtures/jwt/, then tokens signed here with keys generated
 * for the run (RSA 2048, P-256, a random HMAC secret) with tests/kit/jwtkit.h.
 * JWKS issuers: test_jwks.c. */
#include "testutil.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <unistd.h>

#include "jwtkit.h"
#include "issuerhook/jwt.h"
#include "issuerhook/scope.h"
#include "../../src/auth/jwt_internal.h"

#define NOW 1700000000LL
#define ISS "https://idp.example"
#define AUD "issuerhook"
#define LIFETIME 86400 /* ISSUERHOOK_JWT_MAX_LIFETIME's default */

/* ---- keys and files for the run ---- */

static char dir[64];
static EVP_PKEY *rsa_key, *ec_key;
static unsigned char hs_secret[48];
static char rsa_pem_path[128], ec_pem_path[128], hs_path[128];
static char err[256];

/* Files and PEM keys are written by tests/kit; a failure fails the test. */
static void write_file(const char *path, const void *data, size_t len)
{
    assert_true(jk_write_file(path, data, len));
}

/* The PEM SubjectPublicKeyInfo of pk; caller frees. */
static char *pubkey_pem(EVP_PKEY *pk, size_t *len)
{
    char *pem = jk_pubkey_pem(pk, len);
    assert_non_null(pem);
    return pem;
}

static void write_pem(EVP_PKEY *pk, const char *path)
{
    assert_true(jk_write_pubkey_pem(pk, path));
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_jwt.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    rsa_key = jk_rsa_key();
    ec_key = jk_ec_key();
    if (!rsa_key || !ec_key || RAND_bytes(hs_secret, sizeof(hs_secret)) != 1)
        return -1;
    snprintf(rsa_pem_path, sizeof(rsa_pem_path), "%s/rsa.pem", dir);
    snprintf(ec_pem_path, sizeof(ec_pem_path), "%s/ec.pem", dir);
    snprintf(hs_path, sizeof(hs_path), "%s/hs.key", dir);
    write_pem(rsa_key, rsa_pem_path);
    write_pem(ec_key, ec_pem_path);
    write_file(hs_path, hs_secret, sizeof(hs_secret));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const files[] = {"rsa.pem", "ec.pem", "hs.key", "short.key", "weak.pem", "p384.pem"};
    char path[128];
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ec_key);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    return rmdir(dir) == 0 ? 0 : -1;
}

/* ---- issuers ---- */

static struct jwt_issuer *issuer(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static struct jwt_issuer *issuer(const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    struct jwt_issuer *iss = NULL;
    ih_status rc = jwt_issuer_parse(name, value, &iss, err, sizeof(err));
    if (rc != IH_OK) {
        print_error("jwt_issuer_parse(%s): %s\n", value, err);
        fail();
    }
    assert_string_equal(jwt_issuer_name(iss), name);
    return iss;
}

static struct jwt_issuer *rs_issuer(void)
{
    return issuer("rs", "alg=RS256 key=%s iss=" ISS " aud=" AUD, rsa_pem_path);
}
static struct jwt_issuer *es_issuer(void)
{
    return issuer("es", "alg=ES256 key=%s iss=" ISS " aud=" AUD, ec_pem_path);
}
static struct jwt_issuer *hs_issuer(void)
{
    return issuer("hs", "alg=HS256 secret_file=%s iss=" ISS " aud=" AUD, hs_path);
}

/* ---- making tokens ---- */

/* base64url(header).base64url(claims).base64url(signature), made by tests/kit
 * (jk_token: RS256 or ES256 by the type of pk; pk NULL: HS256 with secret); caller frees. */
static char *make_token(EVP_PKEY *pk, const void *secret, size_t slen, const char *header, const char *claims)
{
    char *t = jk_token(pk, secret, slen, header, claims);
    assert_non_null(t);
    return t;
}

static char *rs_token(const char *claims)
{
    return make_token(rsa_key, NULL, 0, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims);
}
static char *es_token(const char *claims)
{
    return make_token(ec_key, NULL, 0, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", claims);
}
static char *hs_token(const char *claims)
{
    return make_token(NULL, hs_secret, sizeof(hs_secret), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims);
}

/* Standard claims valid at NOW, with extra members appended (",\"k\":v" or ""). */
static const char *claims(const char *extra)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"svc-1\",\"iat\":%lld,\"exp\":%lld%s}", NOW - 10,
             NOW + 300, extra);
    return buf;
}

static enum jwt_result verify1(struct jwt_issuer *iss, const char *token, int64_t now, unsigned leeway,
                               struct jwt_principal *p)
{
    struct jwt_issuer *list[] = {iss};
    return jwt_verify(list, 1, token, strlen(token), now, leeway, LIFETIME, p);
}

#define assert_result(got, want) tu_assert_result((got), (want), __FILE__, __LINE__)
static void tu_assert_result(enum jwt_result got, enum jwt_result want, const char *file, int line)
{
    if (got != want) {
        print_error("expected \"%s\", got \"%s\"\n", jwt_result_str(want), jwt_result_str(got));
        _fail(file, line);
    }
}

static char *fixture_text(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/jwt/%s", FIXTURES_DIR, name);
    return tu_read_file(path, len);
}

/* ---- RFC vectors ---- */

static void test_rfc7515_a1_hs256(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *iss = issuer("a1", "alg=HS256 secret_file=%s/jwt/rfc7515_a1_hs256.key iss=joe", FIXTURES_DIR);
    char *tok = fixture_text("rfc7515_a1_hs256.jwt", NULL);
    /* exp 1300819380 is long past: verify as of just before it */
    assert_result(verify1(iss, tok, 1300819000, 0, &p), JWT_OK);
    assert_ptr_equal(p.issuer, iss);
    assert_string_equal(p.subject, "");
    assert_int_equal(p.scopes, 0);
    assert_result(verify1(iss, tok, 1300819379, 0, &p), JWT_OK);
    assert_result(verify1(iss, tok, 1300819380, 0, &p), JWT_EXPIRED);
    assert_result(verify1(iss, tok, 1300819389, 10, &p), JWT_OK);
    assert_result(verify1(iss, tok, 1300819390, 10, &p), JWT_EXPIRED);
    assert_result(verify1(iss, tok, NOW, 0, &p), JWT_EXPIRED);
    assert_ptr_equal(p.issuer, NULL); /* zeroed on failure */
    free(tok);
    jwt_issuer_free(iss);
}

static void test_rfc7515_a2_rs256(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *iss = issuer("a2", "alg=RS256 key=%s/jwt/rfc7515_a2_rs256.pem", FIXTURES_DIR);
    char *tok = fixture_text("rfc7515_a2_rs256.jwt", NULL);
    assert_result(verify1(iss, tok, 1300819000, 0, &p), JWT_OK);
    assert_result(verify1(iss, tok, 1300819380, 0, &p), JWT_EXPIRED);
    /* the same token against the A.3 (ES256) key: refused before any crypto */
    struct jwt_issuer *es = issuer("a3", "alg=ES256 key=%s/jwt/rfc7515_a3_es256.pem", FIXTURES_DIR);
    assert_result(verify1(es, tok, 1300819000, 0, &p), JWT_ALG_REFUSED);
    jwt_issuer_free(es);
    free(tok);
    jwt_issuer_free(iss);
}

static void test_rfc7515_a3_es256(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *iss = issuer("a3", "alg=ES256 key=%s/jwt/rfc7515_a3_es256.pem iss=joe", FIXTURES_DIR);
    char *tok = fixture_text("rfc7515_a3_es256.jwt", NULL);
    assert_result(verify1(iss, tok, 1300819000, 0, &p), JWT_OK);
    /* one flipped bit of S */
    size_t len = strlen(tok);
    tok[len - 3] = tok[len - 3] == 'A' ? 'B' : 'A';
    assert_result(verify1(iss, tok, 1300819000, 0, &p), JWT_BAD_SIGNATURE);
    free(tok);
    jwt_issuer_free(iss);
}

/* RFC 7520 4.4: its payload is text, not a claims set, so the token as a whole is
 * malformed for us; its signature is checked with the primitive. */
static void test_rfc7520_4_4_hs256(void **state)
{
    (void)state;
    struct jwt_principal p;
    size_t klen = 0, tlen = 0, slen = 0;
    char *key = fixture_text("rfc7520_4_4_hs256.key", &klen);
    char *tok = fixture_text("rfc7520_4_4_hs256.jwt", &tlen);
    assert_int_equal(klen, 32);
    struct jwt_issuer *iss = issuer("r", "alg=HS256 secret_file=%s/jwt/rfc7520_4_4_hs256.key", FIXTURES_DIR);
    assert_result(verify1(iss, tok, NOW, 0, &p), JWT_MALFORMED);
    const char *d2 = strrchr(tok, '.');
    unsigned char sig[64];
    assert_true(jwt_b64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig), &slen));
    assert_int_equal(slen, 32);
    assert_true(jwt_sig_check(JWT_HS256, (unsigned char *)key, klen, NULL, tok, (size_t)(d2 - tok), sig, slen));
    sig[0] ^= 1;
    assert_false(jwt_sig_check(JWT_HS256, (unsigned char *)key, klen, NULL, tok, (size_t)(d2 - tok), sig, slen));
    sig[0] ^= 1;
    assert_false(jwt_sig_check(JWT_HS256, (unsigned char *)key, klen, NULL, tok, (size_t)(d2 - tok) - 1, sig, slen));
    free(key);
    free(tok);
    jwt_issuer_free(iss);
}

/* ---- generated tokens: the three algorithms ---- */

static void test_valid_tokens(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *rs = rs_issuer(), *es = es_issuer(), *hs = hs_issuer();
    char *t1 = rs_token(claims(",\"client_id\":\"c-9\",\"scope\":\"amiko:events\""));
    char *t2 = es_token(claims(""));
    char *t3 = hs_token(claims(",\"azp\":\"az-1\""));
    assert_result(verify1(rs, t1, NOW, 0, &p), JWT_OK);
    assert_string_equal(p.subject, "svc-1");
    assert_string_equal(p.client_id, "c-9");
    assert_int_equal(p.scopes, SCOPE_AMIKO_EVENTS);
    assert_ptr_equal(p.issuer, rs);
    assert_result(verify1(es, t2, NOW, 0, &p), JWT_OK);
    assert_string_equal(p.client_id, "");
    assert_result(verify1(hs, t3, NOW, 0, &p), JWT_OK);
    assert_string_equal(p.client_id, "az-1");
    /* each against the others: the alg decides */
    assert_result(verify1(es, t1, NOW, 0, &p), JWT_ALG_REFUSED); /* RS256 token, ES256 issuer */
    assert_result(verify1(hs, t1, NOW, 0, &p), JWT_ALG_REFUSED);
    assert_result(verify1(rs, t2, NOW, 0, &p), JWT_ALG_REFUSED);
    assert_result(verify1(rs, t3, NOW, 0, &p), JWT_ALG_REFUSED);
    free(t1);
    free(t2);
    free(t3);
    jwt_issuer_free(rs);
    jwt_issuer_free(es);
    jwt_issuer_free(hs);
}

static void test_time_claims(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *iss = rs_issuer();
    char c[256];
    snprintf(c, sizeof(c), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"nbf\":%lld,\"exp\":%lld}", NOW, NOW + 60);
    char *t = rs_token(c);
    assert_result(verify1(iss, t, NOW, 0, &p), JWT_OK);
    assert_result(verify1(iss, t, NOW + 59, 0, &p), JWT_OK);
    assert_result(verify1(iss, t, NOW + 60, 0, &p), JWT_EXPIRED);
    assert_result(verify1(iss, t, NOW + 89, 30, &p), JWT_OK); /* within leeway */
    assert_result(verify1(iss, t, NOW + 90, 30, &p), JWT_EXPIRED);
    assert_result(verify1(iss, t, NOW - 1, 0, &p), JWT_NOT_YET_VALID);
    assert_result(verify1(iss, t, NOW - 30, 30, &p), JWT_OK); /* within leeway */
    assert_result(verify1(iss, t, NOW - 31, 30, &p), JWT_NOT_YET_VALID);
    free(t);
    /* exp is required, and must be a number */
    t = rs_token("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}");
    assert_result(verify1(iss, t, NOW, 0, &p), JWT_MALFORMED);
    free(t);
    t = rs_token("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"1800000000\"}");
    assert_result(verify1(iss, t, NOW, 0, &p), JWT_MALFORMED);
    free(t);
    /* fractional NumericDates round towards refusal; huge ones do not overflow */
    snprintf(c, sizeof(c), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld.5}", NOW);
    t = rs_token(c);
    assert_result(verify1(iss, t, NOW, 0, &p), JWT_EXPIRED);
    assert_result(verify1(iss, t, NOW - 1, 0, &p), JWT_OK);
    free(t);
    t = rs_token("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1e300,\"nbf\":-1e300}");
    assert_result(verify1(iss, t, NOW, UINT32_MAX, &p), JWT_LIFETIME_TOO_LONG); /* it was accepted */
    assert_result(verify1(iss, t, INT64_MAX, UINT32_MAX, &p), JWT_OK);         /* exp - now is 0 */
    free(t);
    t = rs_token("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":-9223372036854775808}");
    assert_result(verify1(iss, t, INT64_MIN, UINT32_MAX, &p), JWT_EXPIRED);
    free(t);
    /* the checks come after the signature: a forged expired token is a bad signature */
    snprintf(c, sizeof(c), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld}", NOW - 100);
    t = make_token(NULL, hs_secret, sizeof(hs_secret), "{\"alg\":\"HS256\"}", c);
    struct jwt_issuer *hs = hs_issuer();
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_EXPIRED);
    t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_BAD_SIGNATURE);
    free(t);
    jwt_issuer_free(hs);
    jwt_issuer_free(iss);
}

/* The lifetime cap (ISSUERHOOK_JWT_MAX_LIFETIME): exp - iat, or exp - now (+ leeway)
 * without iat. */
static enum jwt_result verify_capped(struct jwt_issuer *iss, const char *iat, const char *exp, unsigned leeway,
                                     unsigned cap)
{
    char c[256];
    struct jwt_principal p;
    snprintf(c, sizeof(c), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"%s%s,\"exp\":%s}", iat ? ",\"iat\":" : "",
             iat ? iat : "", exp);
    char *t = rs_token(c);
    struct jwt_issuer *list[] = {iss};
    enum jwt_result r = jwt_verify(list, 1, t, strlen(t), NOW, leeway, cap, &p);
    free(t);
    return r;
}

static void test_lifetime_cap(void **state)
{
    (void)state;
    struct jwt_issuer *iss = rs_issuer();
    static const struct {
        const char *iat, *exp; /* claims; iat NULL: absent */
        unsigned leeway, cap;
        enum jwt_result want;
    } cases[] = {
        {"1700000000", "1700086400", 0, 86400, JWT_OK},                 /* exactly a day */
        {"1700000000", "1700086401", 0, 86400, JWT_LIFETIME_TOO_LONG},  /* a second more */
        {"1699913700", "1700000100", 0, 86400, JWT_OK},                 /* a day old, a day long: fine */
        {"1700000000", "1e300", 60, 86400, JWT_LIFETIME_TOO_LONG},      /* "valid for ever" */
        {NULL, "1e300", 60, 86400, JWT_LIFETIME_TOO_LONG},
        {NULL, "1700086460", 60, 86400, JWT_OK},                        /* no iat: exp - now, with leeway */
        {NULL, "1700086461", 60, 86400, JWT_LIFETIME_TOO_LONG},
        {"1700000060", "1700000600", 60, 86400, JWT_OK},                /* iat ahead, within the leeway */
        {"1700000061", "1700000600", 60, 86400, JWT_NOT_YET_VALID},     /* issued in the future */
        {"-1e300", "1700000600", 60, 86400, JWT_LIFETIME_TOO_LONG},     /* no overflow */
        {"-9223372036854775808", "9223372036854775807", 60, 86400, JWT_LIFETIME_TOO_LONG},
        {"\"1700000000\"", "1700000600", 60, 86400, JWT_MALFORMED},     /* iat must be a number */
        {"1700000000", "1700003601", 0, 3600, JWT_LIFETIME_TOO_LONG},   /* configured: an hour */
        {"1700000000", "1702592000", 0, 2592000, JWT_OK},               /* configured: 30 days */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum jwt_result r = verify_capped(iss, cases[i].iat, cases[i].exp, cases[i].leeway, cases[i].cap);
        if (r != cases[i].want)
            print_error("iat %s exp %s leeway %u cap %u\n", cases[i].iat ? cases[i].iat : "-", cases[i].exp,
                        cases[i].leeway, cases[i].cap);
        assert_result(r, cases[i].want);
    }
    assert_string_equal(jwt_result_str(JWT_LIFETIME_TOO_LONG), "token lifetime too long");
    jwt_issuer_free(iss);
}

static void test_issuer_and_audience(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *iss = es_issuer();
    char c[256];
    const char *cases[][2] = {
        {"\"iss\":\"https://other.example\",\"aud\":\"" AUD "\"", "wrong issuer"},
        {"\"aud\":\"" AUD "\"", "wrong issuer"}, /* iss missing */
        {"\"iss\":\"" ISS "\",\"aud\":\"someone-else\"", "wrong audience"},
        {"\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"]", "wrong audience"},
        {"\"iss\":\"" ISS "\",\"aud\":[]", "wrong audience"},
        {"\"iss\":\"" ISS "\",\"aud\":[1,{\"x\":\"" AUD "\"}]", "wrong audience"},
        {"\"iss\":\"" ISS "\"", "wrong audience"}, /* aud missing */
        {"\"iss\":\"" ISS "\",\"aud\":\"ISSUERHOOK\"", "wrong audience"},
        {"\"iss\":\"" ISS "\",\"aud\":[\"a\",\"" AUD "\"]", "ok"},
        {"\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"", "ok"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(c, sizeof(c), "{%s,\"exp\":%lld}", cases[i][0], NOW + 60);
        char *t = es_token(c);
        const char *got = jwt_result_str(verify1(iss, t, NOW, 0, &p));
        if (strcmp(got, cases[i][1]) != 0) {
            print_error("%s: expected %s, got %s\n", c, cases[i][1], got);
            fail();
        }
        free(t);
    }
    /* not configured: not checked */
    struct jwt_issuer *open_iss = issuer("open", "alg=ES256 key=%s", ec_pem_path);
    char *t = es_token("{\"iss\":\"anyone\",\"aud\":\"anything\",\"exp\":1700003600}");
    assert_result(verify1(open_iss, t, NOW, 0, &p), JWT_OK);
    free(t);
    /* a non-string iss is malformed */
    t = es_token("{\"iss\":42,\"exp\":1700003600}");
    assert_result(verify1(open_iss, t, NOW, 0, &p), JWT_MALFORMED);
    free(t);
    jwt_issuer_free(open_iss);
    jwt_issuer_free(iss);
}

static void test_alg_none_refused(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *rs = rs_issuer(), *hs = hs_issuer();
    struct jwt_issuer *both[] = {rs, hs};
    const char *headers[] = {"{\"alg\":\"none\"}", "{\"alg\":\"NONE\"}", "{\"alg\":\"nOnE\",\"typ\":\"JWT\"}"};
    char h[64], c[512];
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        jk_b64url((const unsigned char *)headers[i], strlen(headers[i]), h);
        jk_b64url((const unsigned char *)claims(""), strlen(claims("")), c);
        char t[1024];
        snprintf(t, sizeof(t), "%s.%s.", h, c); /* the unsecured form: empty signature */
        assert_result(jwt_verify(both, 2, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_ALG_REFUSED);
        snprintf(t, sizeof(t), "%s.%s.c2lnbmF0dXJl", h, c); /* with some signature */
        assert_result(jwt_verify(both, 2, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_ALG_REFUSED);
    }
    /* alg names are case-sensitive; unknown ones are refused */
    char *t = make_token(NULL, hs_secret, sizeof(hs_secret), "{\"alg\":\"hs256\"}", claims(""));
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_ALG_REFUSED);
    free(t);
    t = make_token(NULL, hs_secret, sizeof(hs_secret), "{\"alg\":\"HS512\"}", claims(""));
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_ALG_REFUSED);
    free(t);
    jwt_issuer_free(rs);
    jwt_issuer_free(hs);
}

/* Algorithm confusion: an HS256 token whose HMAC key is the RS256 issuer's public key
 * (the PEM bytes an attacker can fetch) must not pass the RS256 issuer. */
static void test_alg_confusion_refused(void **state)
{
    (void)state;
    struct jwt_principal p;
    size_t n;
    char *pem = pubkey_pem(rsa_key, &n);
    struct jwt_issuer *rs = rs_issuer();
    char *t = make_token(NULL, pem, n, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims(""));
    assert_result(verify1(rs, t, NOW, 0, &p), JWT_ALG_REFUSED);
    free(t);
    /* also with the DER of the key */
    unsigned char *der = NULL;
    int dn = i2d_PUBKEY(rsa_key, &der);
    assert_true(dn > 0);
    t = make_token(NULL, der, (size_t)dn, "{\"alg\":\"HS256\"}", claims(""));
    assert_result(verify1(rs, t, NOW, 0, &p), JWT_ALG_REFUSED);
    free(t);
    OPENSSL_free(der);
    /* and an ES256 issuer refuses RS256 and HS256 made with its own public key */
    struct jwt_issuer *es = es_issuer();
    free(pem);
    pem = pubkey_pem(ec_key, &n);
    t = make_token(NULL, pem, n, "{\"alg\":\"HS256\"}", claims(""));
    assert_result(verify1(es, t, NOW, 0, &p), JWT_ALG_REFUSED);
    free(t);
    free(pem);
    jwt_issuer_free(rs);
    jwt_issuer_free(es);
}

/* Flips one byte of the decoded signature (or, part 1, of the payload). */
static void flip(char *token, int part)
{
    char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    char *p = part == 2 ? d2 + 1 : d1 + 1;
    size_t plen = part == 2 ? strlen(p) : (size_t)(d2 - p);
    unsigned char raw[2048];
    size_t n = 0;
    char enc[4096];
    assert_true(jwt_b64url_decode(p, plen, raw, sizeof(raw), &n));
    raw[n / 2] ^= 0x01;
    jk_b64url(raw, n, enc);
    assert_int_equal(strlen(enc), plen);
    memcpy(p, enc, plen);
}

static void test_bad_signature(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *rs = rs_issuer(), *es = es_issuer(), *hs = hs_issuer();
    struct {
        struct jwt_issuer *iss;
        char *(*make)(const char *);
    } cases[] = {{rs, rs_token}, {es, es_token}, {hs, hs_token}};
    for (size_t i = 0; i < 3; i++) {
        for (int part = 1; part <= 2; part++) {
            char *t = cases[i].make(claims(""));
            assert_result(verify1(cases[i].iss, t, NOW, 0, &p), JWT_OK);
            flip(t, part);
            enum jwt_result r = verify1(cases[i].iss, t, NOW, 0, &p);
            /* a flipped payload byte may also break the JSON */
            if (!(r == JWT_BAD_SIGNATURE || (part == 1 && r == JWT_MALFORMED)))
                assert_result(r, JWT_BAD_SIGNATURE);
            free(t);
        }
    }
    /* a signature of the wrong length */
    char *t = hs_token(claims(""));
    t[strlen(t) - 3] = '\0'; /* 40 characters: 30 bytes, canonical */
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_BAD_SIGNATURE);
    free(t);
    t = es_token(claims(""));
    t = realloc(t, strlen(t) + 5);
    assert_non_null(t);
    memcpy(t + strlen(t), "AAAA", 5);
    assert_result(verify1(es, t, NOW, 0, &p), JWT_BAD_SIGNATURE);
    free(t);
    /* signed by another key of the same kind */
    EVP_PKEY *other = EVP_EC_gen("P-256");
    assert_non_null(other);
    t = make_token(other, NULL, 0, "{\"alg\":\"ES256\"}", claims(""));
    assert_result(verify1(es, t, NOW, 0, &p), JWT_BAD_SIGNATURE);
    free(t);
    EVP_PKEY_free(other);
    jwt_issuer_free(rs);
    jwt_issuer_free(es);
    jwt_issuer_free(hs);
}

static void test_malformed(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *hs = hs_issuer();
    char *good = hs_token(claims(""));
    char t[JWT_MAX_TOKEN + 64], h[256], c[512];
    const char *d2 = strrchr(good, '.');
    assert_result(verify1(hs, good, NOW, 0, &p), JWT_OK);

    assert_result(jwt_verify(&hs, 1, "", 0, NOW, 0, LIFETIME, &p), JWT_MALFORMED);
    assert_result(jwt_verify(&hs, 1, NULL, 0, NOW, 0, LIFETIME, &p), JWT_MALFORMED);
    /* two parts, four parts */
    snprintf(t, sizeof(t), "%.*s", (int)(d2 - good), good);
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_MALFORMED);
    snprintf(t, sizeof(t), "%s.AAAA", good);
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_MALFORMED);
    /* padding, the standard alphabet, whitespace, another character */
    snprintf(t, sizeof(t), "%s=", good);
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_MALFORMED);
    const char *bad_chars[] = {"+", "/", " ", "*", "\n"};
    for (size_t i = 0; i < sizeof(bad_chars) / sizeof(bad_chars[0]); i++) {
        snprintf(t, sizeof(t), "%s", good);
        t[3] = bad_chars[i][0];
        assert_result(verify1(hs, t, NOW, 0, &p), JWT_MALFORMED);
    }
    /* the length counts: a NUL inside is a bad character */
    snprintf(t, sizeof(t), "%s", good);
    t[5] = '\0';
    assert_result(jwt_verify(&hs, 1, t, strlen(good), NOW, 0, LIFETIME, &p), JWT_MALFORMED);
    /* header not JSON, not an object, without alg, alg not a string, with crit */
    const char *headers[] = {"not json", "[\"alg\",\"HS256\"]", "{\"typ\":\"JWT\"}", "{\"alg\":256}",
                             "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
                             "{\"alg\":\"HS256\",\"kid\":7}"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *x = make_token(NULL, hs_secret, sizeof(hs_secret), headers[i], claims(""));
        assert_result(verify1(hs, x, NOW, 0, &p), JWT_MALFORMED);
        free(x);
    }
    /* claims not JSON, not an object, with a duplicate name */
    const char *bodies[] = {"exp=1800000000", "[1800000000]", "\"text\"",
                            "{\"exp\":1700003600,\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"iss\":\"" ISS "\"}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char *x = make_token(NULL, hs_secret, sizeof(hs_secret), "{\"alg\":\"HS256\"}", bodies[i]);
        assert_result(verify1(hs, x, NOW, 0, &p), JWT_MALFORMED);
        free(x);
    }
    /* empty header, empty payload */
    jk_b64url((const unsigned char *)"{\"alg\":\"HS256\"}", 15, h);
    jk_b64url((const unsigned char *)claims(""), strlen(claims("")), c);
    snprintf(t, sizeof(t), ".%s.%s", c, d2 + 1);
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_MALFORMED);
    snprintf(t, sizeof(t), "%s..%s", h, d2 + 1);
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_MALFORMED);
    /* a huge token, signed correctly, is refused on its length alone */
    char big[7000];
    snprintf(big, sizeof(big), ",\"pad\":\"%0*d\"", 6200, 0);
    char *x = hs_token(claims(big));
    assert_true(strlen(x) > JWT_MAX_TOKEN);
    assert_result(verify1(hs, x, NOW, 0, &p), JWT_MALFORMED);
    free(x);
    memset(t, 'A', sizeof(t) - 1);
    t[sizeof(t) - 1] = '\0';
    t[100] = t[200] = '.';
    assert_result(verify1(hs, t, NOW, 0, &p), JWT_MALFORMED);
    /* just under the limit is fine */
    snprintf(big, sizeof(big), ",\"pad\":\"%0*d\"", 5800, 0);
    x = hs_token(claims(big));
    assert_true(strlen(x) <= JWT_MAX_TOKEN);
    assert_result(verify1(hs, x, NOW, 0, &p), JWT_OK);
    free(x);
    /* sub or client_id that does not fit */
    snprintf(big, sizeof(big), ",\"client_id\":\"%0*d\"", 128, 0);
    x = hs_token(claims(big));
    assert_result(verify1(hs, x, NOW, 0, &p), JWT_MALFORMED);
    free(x);
    snprintf(big, sizeof(big), ",\"client_id\":\"%0*d\"", 127, 0);
    x = hs_token(claims(big));
    assert_result(verify1(hs, x, NOW, 0, &p), JWT_OK);
    assert_int_equal(strlen(p.client_id), 127);
    free(x);
    free(good);
    jwt_issuer_free(hs);
}

static void test_b64url_strict(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 0;
    assert_true(jwt_b64url_decode("QQ", 2, out, sizeof(out), &n));
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'A');
    assert_false(jwt_b64url_decode("QR", 2, out, sizeof(out), &n)); /* non-zero unused bits */
    assert_false(jwt_b64url_decode("QQ==", 4, out, sizeof(out), &n));
    assert_false(jwt_b64url_decode("Q", 1, out, sizeof(out), &n));
    assert_false(jwt_b64url_decode("QUJD+", 5, out, sizeof(out), &n));
    assert_true(jwt_b64url_decode("-_-_", 4, out, sizeof(out), &n));
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0xbf);
    assert_false(jwt_b64url_decode("QUJDRA", 6, out, 3, &n)); /* does not fit */
    assert_true(jwt_b64url_decode("", 0, out, 0, &n));
    assert_int_equal(n, 0);
}

static void test_scopes(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *es = es_issuer();
    const struct {
        const char *extra;
        unsigned want;
    } cases[] = {
        {"", 0},
        {",\"scope\":\"amiko:events amiko:bookings\"", SCOPE_AMIKO_EVENTS | SCOPE_AMIKO_BOOKINGS},
        {",\"scope\":\"openid  ledger:read profile\"", SCOPE_LEDGER_READ},
        {",\"scope\":\"\"", 0},
        {",\"scope\":\"amiko:events,amiko:bookings\"", 0}, /* space-separated only */
        {",\"scp\":[\"cardAdapter/write\",\"bankingAdmin/read\"]", SCOPE_CARD_ADAPTER_WRITE | SCOPE_BANKING_ADMIN_READ},
        {",\"scp\":[\"unknown\",42,null,\"riverty:events\"]", SCOPE_RIVERTY_EVENTS},
        {",\"scp\":\"ledger:write\"", SCOPE_LEDGER_WRITE},
        {",\"scope\":\"ledger:read\",\"scp\":[\"ledger:write\"]", SCOPE_LEDGER_READ | SCOPE_LEDGER_WRITE},
        {",\"scope\":\"AMIKO:EVENTS\"", 0},
        {",\"scope\":42", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = es_token(claims(cases[i].extra));
        assert_result(verify1(es, t, NOW, 0, &p), JWT_OK);
        if (p.scopes != cases[i].want) {
            print_error("%s: scopes %#x, expected %#x\n", cases[i].extra, p.scopes, cases[i].want);
            fail();
        }
        free(t);
    }
    jwt_issuer_free(es);
}

static void test_several_issuers(void **state)
{
    (void)state;
    struct jwt_principal p;
    struct jwt_issuer *a = issuer("a", "alg=HS256 secret_file=%s iss=https://a.example", hs_path);
    struct jwt_issuer *b = issuer("b", "alg=RS256 key=%s iss=https://b.example", rsa_pem_path);
    struct jwt_issuer *c = issuer("c", "alg=ES256 key=%s", ec_pem_path);     /* no iss= */
    struct jwt_issuer *d = issuer("d", "alg=RS256 key=%s aud=x", rsa_pem_path); /* no iss= */
    struct jwt_issuer *all[] = {a, b, c, d};
    char *t;
    t = make_token(rsa_key, NULL, 0, "{\"alg\":\"RS256\"}", "{\"iss\":\"https://b.example\",\"exp\":1700003600}");
    assert_result(jwt_verify(all, 4, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_OK);
    assert_ptr_equal(p.issuer, b);
    free(t);
    /* iss names a; a refuses RS256 and the issuers without iss= are not tried */
    t = make_token(rsa_key, NULL, 0, "{\"alg\":\"RS256\"}", "{\"iss\":\"https://a.example\",\"aud\":\"x\",\"exp\":1700003600}");
    assert_result(jwt_verify(all, 4, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_ALG_REFUSED);
    free(t);
    /* an unknown iss goes to c and d; d gets furthest (wrong audience) */
    t = make_token(rsa_key, NULL, 0, "{\"alg\":\"RS256\"}", "{\"iss\":\"https://z.example\",\"exp\":1700003600}");
    assert_result(jwt_verify(all, 4, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_WRONG_AUDIENCE);
    free(t);
    t = make_token(rsa_key, NULL, 0, "{\"alg\":\"RS256\"}", "{\"aud\":\"x\",\"exp\":1700003600}");
    assert_result(jwt_verify(all, 4, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_OK);
    assert_ptr_equal(p.issuer, d);
    free(t);
    t = make_token(ec_key, NULL, 0, "{\"alg\":\"ES256\"}", "{\"exp\":1700003600}");
    assert_result(jwt_verify(all, 4, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_OK);
    assert_ptr_equal(p.issuer, c);
    /* only issuers with iss=: a token naming none of them */
    assert_result(jwt_verify(all, 2, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_WRONG_ISSUER);
    assert_result(jwt_verify(all, 0, t, strlen(t), NOW, 0, LIFETIME, &p), JWT_WRONG_ISSUER);
    free(t);
    for (size_t i = 0; i < 4; i++)
        jwt_issuer_free(all[i]);
}

/* ---- configuration ---- */

/* value is refused; err is set and holds none of the forbidden text. */
static void refused(const char *value, const char *forbidden)
{
    struct jwt_issuer *iss = (struct jwt_issuer *)1;
    err[0] = '\0';
    ih_status rc = jwt_issuer_parse("x", value, &iss, err, sizeof(err));
    if (rc == IH_OK || err[0] == '\0' || iss != NULL) {
        print_error("expected a refusal with a message for \"%s\", got %d \"%s\"\n", value, (int)rc, err);
        jwt_issuer_free(rc == IH_OK ? iss : NULL);
        fail();
    }
    if (forbidden)
        assert_not_contains(err, forbidden);
}

static void test_parse_errors(void **state)
{
    (void)state;
    char v[512], path[256];
    refused("", NULL);
    assert_contains(err, "alg");
    refused("alg=none key=/x.pem", NULL);
    refused("alg=hs256 secret_file=/x", NULL);
    refused("alg=RS256", NULL);
    assert_contains(err, "one of");
    snprintf(v, sizeof(v), "alg=RS256 key=%s jwks=https://idp.example/jwks", rsa_pem_path);
    refused(v, NULL);
    snprintf(v, sizeof(v), "alg=HS256 key=%s", rsa_pem_path);
    refused(v, NULL);
    assert_contains(err, "secret_file");
    snprintf(v, sizeof(v), "alg=RS256 secret_file=%s", hs_path);
    refused(v, NULL);
    snprintf(v, sizeof(v), "alg=RS256 key=%s key=%s", rsa_pem_path, rsa_pem_path);
    refused(v, NULL);
    assert_contains(err, "twice");
    refused("alg=RS256 kee=/x.pem", NULL);
    assert_contains(err, "unknown setting");
    refused("alg=RS256 iss= key=/x.pem", NULL);
    assert_contains(err, "iss= is empty");
    /* a stray word (perhaps a pasted secret) is not echoed */
    refused("alg=HS256 s3cr3t-value-here secret_file=/x", "s3cr3t");
    /* secret files */
    refused("alg=HS256 secret_file=/nonexistent/jwt.key", NULL);
    assert_contains(err, "/nonexistent/jwt.key");
    snprintf(path, sizeof(path), "%s/short.key", dir);
    write_file(path, "0123456789abcdef0123456789abcde", 31); /* 31 bytes */
    snprintf(v, sizeof(v), "alg=HS256 secret_file=%s", path);
    refused(v, "0123456789");
    assert_contains(err, "at least 32");
    snprintf(v, sizeof(v), "alg=HS256 secret_file=%s", dir);
    refused(v, NULL); /* a directory */
    /* key files */
    snprintf(v, sizeof(v), "alg=RS256 key=%s", hs_path);
    refused(v, NULL);
    assert_contains(err, "PEM public key");
    snprintf(v, sizeof(v), "alg=RS256 key=%s", ec_pem_path);
    refused(v, NULL);
    assert_contains(err, "RSA");
    snprintf(v, sizeof(v), "alg=ES256 key=%s", rsa_pem_path);
    refused(v, NULL);
    assert_contains(err, "P-256");
    EVP_PKEY *weak = EVP_RSA_gen(1024), *p384 = EVP_EC_gen("P-384");
    assert_non_null(weak);
    assert_non_null(p384);
    snprintf(path, sizeof(path), "%s/weak.pem", dir);
    write_pem(weak, path);
    snprintf(v, sizeof(v), "alg=RS256 key=%s", path);
    refused(v, NULL);
    snprintf(path, sizeof(path), "%s/p384.pem", dir);
    write_pem(p384, path);
    snprintf(v, sizeof(v), "alg=ES256 key=%s", path);
    refused(v, NULL);
    EVP_PKEY_free(weak);
    EVP_PKEY_free(p384);
    /* JWKS URLs */
    refused("alg=RS256 jwks=http://idp.example/jwks.json", NULL);
    assert_contains(err, "https");
    refused("alg=RS256 jwks=https://user:pw@idp.example/jwks.json", "pw@");
    refused("alg=RS256 jwks=ftp://idp.example/jwks.json", NULL);
    refused("alg=RS256 jwks=http://127.0.0.1.evil.example/jwks.json", NULL);
    refused("alg=HS256 jwks=https://idp.example/jwks.json", NULL);
    /* names */
    struct jwt_issuer *iss = NULL;
    assert_int_equal(jwt_issuer_parse("", "alg=RS256 jwks=https://idp.example/j", &iss, err, sizeof(err)), IH_EINVAL);
    assert_null(iss);
}

static void test_parse_valid(void **state)
{
    (void)state;
    const char *values[] = {
        "alg=RS256 jwks=https://idp.example/jwks.json iss=https://idp.example aud=issuerhook",
        "  alg=ES256\tjwks=https://idp.example:8443/keys  ",
        "alg=RS256 jwks=http://127.0.0.1:8080/jwks",
        "alg=RS256 jwks=http://localhost/jwks",
        "alg=RS256 jwks=http://[::1]:9/jwks",
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct jwt_issuer *iss = NULL;
        if (jwt_issuer_parse("ok", values[i], &iss, err, sizeof(err)) != IH_OK) {
            print_error("%s: %s\n", values[i], err);
            fail();
        }
        jwt_issuer_free(iss);
    }
    struct jwt_issuer *hs = hs_issuer();
    assert_int_equal(jwt_issuer_prefetch(hs), IH_OK); /* nothing to fetch */
    jwt_issuer_free(hs);
    jwt_issuer_free(NULL);
}

static void test_result_strings(void **state)
{
    (void)state;
    for (int r = JWT_OK; r <= JWT_KEYS_UNAVAILABLE; r++) {
        const char *s = jwt_result_str((enum jwt_result)r);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int q = JWT_OK; q < r; q++)
            assert_string_not_equal(s, jwt_result_str((enum jwt_result)q));
    }
}

/* ---- threads ---- */

struct race {
    struct jwt_issuer *const *issuers;
    const char *const *tokens;
    int bad;
};

static void *race_run(void *arg)
{
    struct race *r = arg;
    struct jwt_principal p;
    for (int i = 0; i < 50; i++) {
        for (int k = 0; k < 3; k++) {
            if (jwt_verify(r->issuers, 3, r->tokens[k], strlen(r->tokens[k]), NOW, 0, LIFETIME, &p) != JWT_OK ||
                p.issuer != r->issuers[k])
                r->bad++;
        }
    }
    return NULL;
}

static void test_concurrent_verification(void **state)
{
    (void)state;
    struct jwt_issuer *a = issuer("a", "alg=RS256 key=%s iss=a", rsa_pem_path);
    struct jwt_issuer *b = issuer("b", "alg=ES256 key=%s iss=b", ec_pem_path);
    struct jwt_issuer *c = issuer("c", "alg=HS256 secret_file=%s iss=c", hs_path);
    struct jwt_issuer *all[] = {a, b, c};
    char *t[] = {rs_token("{\"iss\":\"a\",\"exp\":1700003600}"), es_token("{\"iss\":\"b\",\"exp\":1700003600}"),
                 hs_token("{\"iss\":\"c\",\"exp\":1700003600}")};
    const char *const tokens[] = {t[0], t[1], t[2]};
    pthread_t th[4];
    struct race r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct race){all, tokens, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_run, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].bad, 0);
    }
    for (int i = 0; i < 3; i++) {
        free(t[i]);
        jwt_issuer_free(all[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a1_hs256),
        cmocka_unit_test(test_rfc7515_a2_rs256),
        cmocka_unit_test(test_rfc7515_a3_es256),
        cmocka_unit_test(test_rfc7520_4_4_hs256),
        cmocka_unit_test(test_valid_tokens),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_lifetime_cap),
        cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_alg_none_refused),
        cmocka_unit_test(test_alg_confusion_refused),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_b64url_strict),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_several_issuers),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_result_strings),
        cmocka_unit_test(test_concurrent_verification),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
