/* One libFuzzer entry for the daemon's hostile-input surface, without the network.
 *
 * The first byte picks what the rest of the input feeds:
 *   0x01  text: the feed's query parameters (watermark, cursor, occurredAt interval,
 *         name lists), the RFC 3339 parsers, the string formats of the checkers, scope
 *         lists and the router's path matching. The text ends at the first NUL, as a
 *         query parameter or a path from libmicrohttpd does.
 *   0x02  a bearer token as received, through jwt_verify against four issuers (HS256
 *         and RS256/ES256 with the RFC 7515 appendix keys, all with iss=joe, and an
 *         HS256 one without iss=).
 *   0x03  "header.payload" of a token (base64url as sent): the harness signs it with
 *         HS256 and the RFC 7515 A.1 key, so the claims checks are reached too.
 *   0x04  a configuration file through envfile_parse (systemd's EnvironmentFile= syntax);
 *         an accepted one, written out again with every value double-quoted, reads back
 *         to the same assignments.
 *   else  the whole input is a request body: the strict JSON parse of every POST
 *         (jsonutil_parse_strict, as api_parse_body calls it) followed by every
 *         payload checker, the canonical hash, and jwks_parse (a JWKS endpoint's answer).
 * A JSON text never starts with 0x01..0x04, so the fixtures are seeds as they are.
 *
 * Beyond "no crash, no leak, no undefined behaviour", a few properties are asserted
 * (abort() on failure): the canonical form is a fixed point, keeps every number as it
 * was written, and is jansson's own form when the numbers' text is not given; masking
 * card numbers leaves none to find; tokens re-encode to the
 * text they were decoded from, a parsed UTC time formats back to the same instant,
 * violations stay within their bounds, and card-activity pointers carry no run of nine
 * digits in a segment (the masking that keeps PANs out of error answers).
 * Built with -DFUZZ_TRACE, it prints each token's verdict and the keys taken from a
 * JWK Set (to check that the seeds reach what they are for). */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/auth/jwt_internal.h"
#include "fuzz_input.h"
#include "issuerhook/api.h"
#include "issuerhook/check.h"
#include "issuerhook/check_amiko.h"
#include "issuerhook/check_booking.h"
#include "issuerhook/check_card_activity.h"
#include "issuerhook/check_riverty.h"
#include "issuerhook/envfile.h"
#include "issuerhook/feedparams.h"
#include "issuerhook/jsonutil.h"
#include "issuerhook/jwt.h"
#include "issuerhook/log.h"
#include "issuerhook/panscan.h"
#include "issuerhook/router.h"
#include "issuerhook/scope.h"
#include "issuerhook/timefmt.h"

#define FUZZ_NOW_S 1300819000 /* before the RFC 7515 tokens' exp (1300819380) */
#define FUZZ_LEEWAY_S 60

#define REQUIRE(cond)                                                                          \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* ---- issuers ---- */

/* RFC 7515 A.1's HMAC key (tests/fixtures/jwt/rfc7515_a1_hs256.key): public test vector. */
static const unsigned char hs_key[64] = {
    0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77, 0x7b, 0xa6, 0x8f,
    0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf,
    0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22,
    0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3};

/* tests/fixtures/jwt/rfc7515_a2_rs256.pem and rfc7515_a3_es256.pem */
static const char rs_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAofgWCuLjybRlzo0tZWJj\n"
                             "NiuSfb4p4fAkd/wWJcyQoTbji9k0l8W26mPddxHmfHQp+Vaw+4qPCJrcS2mJPMEz\n"
                             "P1Pt0Bm4d4QlL+yRT+SFd2lZS+pCgNMsD1W/YpRPEwOWvG6b32690r2jZ47soMZo\n"
                             "9wGzjb/7OMg0LOL+bSf63kpaSHSXndS5z5rexMdbBYUsLA9e+KXBdQOS+UTo7WTB\n"
                             "EMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6/I5IhlJH7aGhyxX\n"
                             "FvUK+DWNmoudF8NAco9/h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXp\n"
                             "oQIDAQAB\n"
                             "-----END PUBLIC KEY-----\n";
static const char es_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV7\n"
                             "6e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==\n"
                             "-----END PUBLIC KEY-----\n";

#define N_ISSUERS 4
static struct jwt_issuer *issuers[N_ISSUERS];
static bool ready;

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(buf, 1, len, f) == len);
    REQUIRE(fclose(f) == 0);
}

/* value: the settings before the key file's path, which is appended. */
static void make_issuer(size_t i, const char *name, const char *settings, const char *path)
{
    char value[1024], err[256];
    snprintf(value, sizeof(value), "%s%s", settings, path);
    if (jwt_issuer_parse(name, value, &issuers[i], err, sizeof(err)) != IH_OK) {
        fprintf(stderr, "fuzz setup: issuer %s: %s\n", name, err);
        abort();
    }
}

static void teardown(void)
{
    for (size_t i = 0; i < N_ISSUERS; i++) {
        jwt_issuer_free(issuers[i]);
        issuers[i] = NULL;
    }
}

/* The issuers read their key files when parsed; the files live only that long. */
static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], hs[600], rs[600], es[600];
    snprintf(dir, sizeof(dir), "%s/ihfuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(hs, sizeof(hs), "%s/hs.key", dir);
    snprintf(rs, sizeof(rs), "%s/rs.pem", dir);
    snprintf(es, sizeof(es), "%s/es.pem", dir);
    write_file(hs, hs_key, sizeof(hs_key));
    write_file(rs, rs_pem, strlen(rs_pem));
    write_file(es, es_pem, strlen(es_pem));
    log_configure(LOG_ERROR, true); /* keep a fuzzing run's output to its findings */
    make_issuer(0, "hs", "alg=HS256 iss=joe secret_file=", hs);
    make_issuer(1, "rs", "alg=RS256 iss=joe key=", rs);
    make_issuer(2, "es", "alg=ES256 iss=joe key=", es);
    make_issuer(3, "anon", "alg=HS256 aud=fuzz secret_file=", hs);
    REQUIRE(unlink(hs) == 0 && unlink(rs) == 0 && unlink(es) == 0 && rmdir(dir) == 0);
    atexit(teardown);
    ready = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!ready)
        setup();
    return 0;
}

/* ---- request bodies ---- */

static void check_violations(const struct check_result *r, bool card)
{
    REQUIRE(r->n <= CHECK_MAX_VIOLATIONS);
    REQUIRE(r->n == 0 || r->v != NULL);
    for (size_t i = 0; i < r->n; i++) {
        const struct violation *v = &r->v[i];
        REQUIRE(memchr(v->pointer, '\0', sizeof(v->pointer)) != NULL);
        REQUIRE(memchr(v->message, '\0', sizeof(v->message)) != NULL);
        REQUIRE(v->rule != NULL && v->message[0] != '\0');
        REQUIRE(v->pointer[0] == '\0' || v->pointer[0] == '/');
        if (!card)
            continue;
        size_t digits = 0;
        for (const char *p = v->pointer; *p; p++) {
            if (*p == '/')
                digits = 0;
            else if (*p >= '0' && *p <= '9')
                REQUIRE(++digits < 9);
        }
    }
}

typedef void (*checker_fn)(const json_t *root, struct check_result *res);

static void run_checker(checker_fn fn, const json_t *root, bool card)
{
    struct check_result res = {0};
    fn(root, &res);
    check_violations(&res, card);
    check_result_clear(&res);
}

/* The number tokens of a valid JSON text, sorted (a multiset: key order moves them). */
static size_t number_tokens(const char *s, size_t len, char ***out)
{
    char **v = NULL;
    size_t n = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        if (in_str) {
            if (esc)
                esc = false;
            else if (s[i] == '\\')
                esc = true;
            else if (s[i] == '"')
                in_str = false;
            continue;
        }
        if (s[i] == '"') {
            in_str = true;
            esc = false;
        } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
            size_t j = i;
            while (j < len && strchr("+-.eE0123456789", s[j]) && s[j])
                j++;
            v = realloc(v, (n + 1) * sizeof(*v));
            REQUIRE(v != NULL);
            v[n] = strndup(s + i, j - i);
            REQUIRE(v[n] != NULL);
            n++;
            i = j - 1;
        }
    }
    for (size_t a = 1; a < n; a++) /* insertion sort: fuzz inputs are small */
        for (size_t b = a; b > 0 && strcmp(v[b - 1], v[b]) > 0; b--) {
            char *t = v[b];
            v[b] = v[b - 1];
            v[b - 1] = t;
        }
    *out = v;
    return n;
}

static void free_tokens(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The canonical form: a fixed point, every number exactly as sent, and without the
 * numbers' text the very form jansson writes (what records stored before held). */
static void check_canonical(const char *buf, size_t len, const json_t *root, const struct jsonutil_numbers *nums)
{
    struct jsonutil_error err;
    unsigned char hash[CRYPTO_SHA256_LEN], hash2[CRYPTO_SHA256_LEN];
    char *text = NULL, *text2 = NULL, **in_nums, **out_nums;
    size_t text_len = 0, text2_len = 0;
    json_t *again = NULL;
    struct jsonutil_numbers *nums2 = NULL;
    REQUIRE(jsonutil_canonical_hash(root, nums, len, hash, &text, &text_len) == IH_OK);
    REQUIRE(strlen(text) == text_len);
    REQUIRE(jsonutil_parse_strict(text, text_len, &again, &nums2, &err) == IH_OK);
    REQUIRE(jsonutil_canonical_hash(again, nums2, 0, hash2, &text2, &text2_len) == IH_OK);
    REQUIRE(text_len == text2_len && memcmp(text, text2, text_len) == 0);
    REQUIRE(memcmp(hash, hash2, sizeof(hash)) == 0);
    size_t n_in = number_tokens(buf, len, &in_nums), n_out = number_tokens(text, text_len, &out_nums);
    REQUIRE(n_in == n_out);
    for (size_t i = 0; i < n_in; i++)
        REQUIRE(strcmp(in_nums[i], out_nums[i]) == 0);
    free_tokens(in_nums, n_in);
    free_tokens(out_nums, n_out);
    free(text2);
    REQUIRE(jsonutil_canonical(root, NULL, 0, &text2, &text2_len) == IH_OK);
    size_t flags = JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15);
    char *old = json_dumps(root, flags);
    REQUIRE(old != NULL && strcmp(old, text2) == 0);
    free(old);
    free(text);
    free(text2);
    json_decref(again);
    jsonutil_numbers_free(nums2);
}

/* Masking card numbers: a second pass finds none, in the tree and in any text. */
static void check_panscan(json_t *root, const char *buf, size_t len)
{
    size_t masked = 0, again = 0;
    if (panscan_json(root, NULL, &masked) == IH_OK) {
        REQUIRE(panscan_json(root, NULL, &again) == IH_OK && again == 0);
    }
    char *copy = malloc(len + 1);
    REQUIRE(copy != NULL);
    memcpy(copy, buf, len);
    panscan_mask(copy, len);
    REQUIRE(!panscan_has(copy, len));
    free(copy);
}

static void fuzz_body(const char *buf, size_t len)
{
    static const checker_fn checkers[] = {check_amiko_event, check_amiko_domain_event, check_booking,
                                          check_booking_result, check_riverty_event};
    struct jsonutil_error err;
    struct jsonutil_numbers *nums = NULL;
    json_t *root = NULL;
    if (jsonutil_parse_strict(buf, len, &root, &nums, &err) != IH_OK) {
        REQUIRE(root == NULL && nums == NULL);
        REQUIRE(memchr(err.message, '\0', sizeof(err.message)) != NULL && err.message[0] != '\0');
    } else {
        for (size_t i = 0; i < sizeof(checkers) / sizeof(checkers[0]); i++)
            run_checker(checkers[i], root, false);
        run_checker(check_card_activity, root, true);
        check_canonical(buf, len, root, nums);
        check_panscan(root, buf, len);
        json_decref(root);
        jsonutil_numbers_free(nums);
    }

    /* The same bytes as a JWKS endpoint's answer, for both key types. OpenSSL's public
     * check of an RSA key (a compositeness test of n) takes milliseconds: RS256 sets are
     * parsed only up to 1 KiB (two keys at most), or the fuzzer would spend its time there. */
    for (int alg = JWT_RS256; alg <= JWT_ES256; alg++) {
        struct jwks_keyset *set = NULL;
        if (alg == JWT_RS256 && len > 1024)
            continue;
        ih_status rc = jwks_parse(buf, len, (enum jwt_alg)alg, &set);
        REQUIRE((rc == IH_OK) == (set != NULL));
        if (set) {
#ifdef FUZZ_TRACE
            fprintf(stderr, "  jwks %s: %zu keys\n", jwt_alg_name((enum jwt_alg)alg), set->n);
#endif
            REQUIRE(set->n <= JWKS_MAX_KEYS);
            for (size_t i = 0; i < set->n; i++)
                REQUIRE(set->keys[i] != NULL && strlen(set->kids[i]) <= JWT_KID_MAX);
        }
        jwks_keyset_free(set);
    }
}

/* ---- query parameters, paths, string formats ---- */

static void fuzz_text(const char *s)
{
    size_t len = strlen(s);
    char tok[FEED_TOKEN_MAX];
    int64_t seq, seq2, ms, ms2;
    struct feed_pos pos, pos2;

    /* Watermarks and cursors: what decodes re-encodes to the same text. */
    if (feedparams_watermark_decode(s, &pos)) {
        REQUIRE(pos.a >= 0 && pos.b >= 0);
        feedparams_watermark_encode(pos, tok);
        REQUIRE(len == 0 || strcmp(tok, s) == 0);
        REQUIRE(feedparams_watermark_decode(tok, &pos2) && pos2.a == pos.a && pos2.b == pos.b);
    }
    if (feedparams_cursor_decode(s, &ms, &seq)) {
        REQUIRE(ms >= 0 && seq >= 0);
        feedparams_cursor_encode(ms, seq, tok);
        REQUIRE(strcmp(tok, s) == 0);
        REQUIRE(feedparams_cursor_decode(tok, &ms2, &seq2) && ms2 == ms && seq2 == seq);
    }

    struct feed_interval iv;
    if (feedparams_interval_parse(s, &iv))
        REQUIRE(!(iv.has_from && iv.has_to) || iv.from_ms < iv.to_ms);

    /* The two lists of GET /banking/eventHistory (src/api/feed.c). */
    static const size_t list_shapes[][3] = {{32, 4, 48}, {16, 4, 40}, {FEED_NAMES_MAX, 1, FEED_NAME_LEN}};
    for (size_t k = 0; k < sizeof(list_shapes) / sizeof(list_shapes[0]); k++) {
        struct feed_names names;
        if (feedparams_names_parse(s, list_shapes[k][0], list_shapes[k][1], list_shapes[k][2], &names)) {
            REQUIRE(names.n >= 1 && names.n <= list_shapes[k][0]);
            for (size_t i = 0; i < names.n; i++) {
                size_t nl = strlen(names.v[i]);
                REQUIRE(nl >= list_shapes[k][1] && nl <= list_shapes[k][2]);
                REQUIRE(feedparams_names_has(&names, names.v[i]));
            }
        }
    }

    /* RFC 3339: a UTC time formats back to the same millisecond. */
    if (timefmt_parse_rfc3339_utc(s, len, &ms)) {
        char out[TIMEFMT_LEN];
        timefmt_rfc3339_ms(ms, out);
        REQUIRE(timefmt_parse_rfc3339_utc(out, strlen(out), &ms2) && ms2 == ms);
        REQUIRE(timefmt_parse_rfc3339(s, len, &ms2) && ms2 == ms);
    }
    (void)timefmt_parse_rfc3339(s, len, &ms);

    /* The checkers' string formats, fed directly. */
    unsigned fraction = 0;
    const char *instead = NULL;
    (void)check_is_uuid(s, len);
    (void)check_is_datetime_utc(s, len);
    (void)check_card_pan(s, len);
    if (check_booking_amount(s, len, &fraction))
        REQUIRE(fraction < len);
    (void)check_riverty_account(s, len);
    if (check_riverty_obsolete_language(s, &instead))
        REQUIRE(instead != NULL);
    (void)check_amiko_event_type_known(s);
    (void)check_amiko_domain_event_known(s);

    unsigned mask = 0;
    char bad[64];
    (void)scope_parse(s, len);
    if (!scope_parse_list(s, ", ", false, &mask, bad, sizeof(bad)))
        REQUIRE(memchr(bad, '\0', sizeof(bad)) != NULL);
    (void)scope_parse_list(s, " ", true, &mask, bad, sizeof(bad));

    /* Escaping for the JSON the daemon writes (log lines, answers): the full form reads
     * back as the text; a short buffer holds the whole escapes that fit, none cut. */
    char one[1];
    size_t need = jsonutil_escape(s, one, 1);
    REQUIRE(one[0] == '\0');
    char *full = malloc(need + 3);
    REQUIRE(full != NULL);
    full[0] = '"';
    REQUIRE(jsonutil_escape(s, full + 1, need + 1) == need && strlen(full + 1) == need);
    for (const char *p = full + 1; *p; p++)
        REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7f);
    memcpy(full + 1 + need, "\"", 2);
    json_t *plain = json_stringn(s, len); /* NULL unless valid UTF-8 */
    json_t *back = json_loadb(full, need + 2, JSON_DECODE_ANY, NULL);
    REQUIRE((plain != NULL) == (back != NULL));
    REQUIRE(!back || (json_string_length(back) == len && memcmp(json_string_value(back), s, len) == 0));
    json_decref(plain);
    json_decref(back);
    for (size_t cap = 2; cap <= 8; cap++) {
        char cut[8];
        size_t fits = 0;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
            size_t rl = strchr("\"\\\n\r\t", *p) ? 2 : *p < 0x20 || *p == 0x7f ? 6 : 1;
            if (fits + rl >= cap)
                break;
            fits += rl;
        }
        REQUIRE(jsonutil_escape(s, cut, cap) == need);
        REQUIRE(strlen(cut) == fits && memcmp(cut, full + 1, fits) == 0);
    }
    free(full);

    /* The route table against the path. */
    static const char *const methods[] = {"GET", "POST", "PUT", "HEAD"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        struct route_match m;
        char allow[128];
        memset(&m, 0, sizeof(m));
        enum router_result rr = router_match(api_routes, api_routes_count, methods[i], s, &m, allow, sizeof(allow));
        REQUIRE(memchr(allow, '\0', sizeof(allow)) != NULL);
        if (rr == ROUTER_FOUND) {
            REQUIRE(m.route != NULL && m.nparams <= ROUTER_MAX_PARAMS);
            for (size_t p = 0; p < m.nparams; p++)
                REQUIRE(strlen(m.params[p]) >= 1 && strlen(m.params[p]) <= ROUTER_PARAM_MAX);
        }
    }
}

/* ---- bearer tokens ---- */

static void verify_token(const char *token, size_t len)
{
    struct jwt_principal p;
    enum jwt_result r = jwt_verify(issuers, N_ISSUERS, token, len, FUZZ_NOW_S, FUZZ_LEEWAY_S, 86400, &p);
    REQUIRE(jwt_result_str(r) != NULL);
#ifdef FUZZ_TRACE
    fprintf(stderr, "  jwt: %s\n", jwt_result_str(r));
#endif
    if (r == JWT_OK) {
        REQUIRE(p.issuer != NULL);
        REQUIRE(memchr(p.subject, '\0', sizeof(p.subject)) != NULL);
        REQUIRE(memchr(p.client_id, '\0', sizeof(p.client_id)) != NULL);
    } else {
        REQUIRE(p.issuer == NULL && p.subject[0] == '\0' && p.scopes == 0);
    }
}

static size_t b64url(const unsigned char *in, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = abc[v >> 6 & 63];
        if (i + 2 < len)
            out[o++] = abc[v & 63];
    }
    return o;
}

/* Signs "header.payload" with the HS256 key and verifies the result. */
static void fuzz_signed(const char *input, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    char sig[64];
    if (len > JWT_MAX_TOKEN)
        return; /* refused before any parsing; 0x02 covers it */
    REQUIRE(HMAC(EVP_sha256(), hs_key, sizeof(hs_key), (const unsigned char *)input, len, mac, &mac_len) != NULL);
    size_t sl = b64url(mac, mac_len, sig);
    char *token = malloc(len + 1 + sl);
    REQUIRE(token != NULL);
    memcpy(token, input, len);
    token[len] = '.';
    memcpy(token + len + 1, sig, sl);
    verify_token(token, len + 1 + sl);
    free(token);
}

/* ---- configuration files ---- */

struct env_out {
    char *buf; /* "KEY\0VALUE\0" for each assignment */
    size_t len, cap;
};

static ih_status env_collect(void *arg, const char *key, const char *value, unsigned line, char *err, size_t errlen)
{
    (void)line, (void)err, (void)errlen;
    struct env_out *o = arg;
    size_t kl = strlen(key) + 1, vl = strlen(value) + 1;
    for (const char *v = value; *v; v++)
        REQUIRE(*v == '\t' || ((unsigned char)*v >= 0x20 && *v != 0x7f)); /* no control character */
    if (o->len + kl + vl > o->cap) {
        size_t cap = (o->cap + kl + vl) * 2;
        char *nb = realloc(o->buf, cap);
        REQUIRE(nb != NULL);
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, key, kl);
    memcpy(o->buf + o->len + kl, value, vl);
    o->len += kl + vl;
    return IH_OK;
}

static void fuzz_envfile(const char *text, size_t len)
{
    struct env_out first = {0}, again = {0};
    char err[512];
    if (envfile_parse(text, len, "fuzz", env_collect, &first, err, sizeof(err)) == IH_OK) {
        /* KEY="value" with \ " ` $ escaped: the same assignments */
        size_t cap = 4 * first.len + 1; /* KEY="..."\n: at most 2 bytes per byte, 3 per pair */
        char *out = malloc(cap), *w = out;
        REQUIRE(out != NULL);
        for (size_t i = 0; i < first.len;) {
            const char *k = first.buf + i, *v = k + strlen(k) + 1;
            w += snprintf(w, cap - (size_t)(w - out), "%s=\"", k);
            for (; *v; v++) {
                if (strchr("\"\\`$", *v))
                    *w++ = '\\';
                *w++ = *v;
            }
            *w++ = '"';
            *w++ = '\n';
            i = (size_t)(v + 1 - first.buf);
        }
        REQUIRE(envfile_parse(out, (size_t)(w - out), "again", env_collect, &again, err, sizeof(err)) == IH_OK);
        REQUIRE(again.len == first.len && (first.len == 0 || memcmp(again.buf, first.buf, first.len) == 0));
        free(out);
    }
    free(first.buf);
    free(again.buf);
}

/* ---- entry ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    if (size >= 1 && data[0] >= FUZZ_MODE_TEXT && data[0] <= FUZZ_MODE_ENVFILE) {
        /* Exactly sized copies (a NUL added only for the text): ASan sees any overread. */
        size_t n = size - 1;
        bool text = data[0] == FUZZ_MODE_TEXT;
        char *copy = malloc(n + text > 0 ? n + text : 1);
        REQUIRE(copy != NULL);
        memcpy(copy, data + 1, n);
        if (text)
            copy[n] = '\0';
        switch (data[0]) {
        case FUZZ_MODE_TEXT: fuzz_text(copy); break;
        case FUZZ_MODE_TOKEN: verify_token(copy, n); break;
        case FUZZ_MODE_ENVFILE: fuzz_envfile(copy, n); break;
        default: fuzz_signed(copy, n); break;
        }
        free(copy);
        return 0;
    }
    /* A body is never NUL-terminated by the server: an exact copy keeps ASan honest. */
    char *body = malloc(size ? size : 1);
    REQUIRE(body != NULL);
    if (size)
        memcpy(body, data, size);
    fuzz_body(body, size);
    free(body);
    return 0;
}
