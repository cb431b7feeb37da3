/* JWKS: one issuer's key set, fetched with libcurl, parsed into EVP_PKEYs, cached.
 *
 * Fetch rules: lazily on first use (or jwks_prefetch); again when a token names a kid
 * the set lacks, or when the held set is older than JWKS_MAX_AGE_S; never more than
 * once per JWKS_REFETCH_S while a set is held. While none is held and a fetch has
 * failed (the issuer was not up yet), a background thread retries after
 * JWKS_RETRY_FIRST_MS, doubling up to JWKS_RETRY_MAX_MS, until one succeeds; a token
 * meanwhile answers JWT_KEYS_UNAVAILABLE at once (no request waits for those fetches)
 * and brings the next attempt forward to a second after the last one. One fetch at a
 * time per issuer: other threads needing it wait for its outcome instead of fetching
 * too. The lock is released during the HTTP exchange. A failed refresh keeps the held
 * set. Keys handed out are up-ref'd, so a set can be replaced while verifications
 * still use its keys. */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "issuerhook/log.h"
#include "jwt_internal.h"

#define JWKS_URL_MAX 2048
#define JWKS_MAX_ENTRIES 256 /* entries of "keys" looked at */

struct jwks {
    char issuer[JWT_ISSUER_NAME_MAX];
    char *url;
    bool plain_http;
    enum jwt_alg alg;
    int64_t (*clock_s)(void);
    pthread_mutex_t lock;
    pthread_cond_t done;  /* a fetch finished */
    pthread_cond_t wake;  /* for the retrier (CLOCK_MONOTONIC): stop, or try sooner */
    atomic_bool stopping; /* jwks_free: the retrier ends, a fetch in flight is cut */
    /* guarded by lock: */
    struct jwks_keyset *set; /* NULL until a fetch succeeds */
    bool fetching, attempted;
    int64_t last_attempt, fetched_at;
    unsigned failures;       /* fetches failed in a row while no set is held */
    int64_t last_attempt_ms, retry_at_ms; /* monotonic ms, for the retrier */
    bool retrier_started;    /* pthread_create succeeded: jwks_free joins it */
    bool retrier_done;       /* it has ended (a set is held, or stopping) */
    pthread_t retrier;
};

/* ---- parsing ---- */

static bool str_is(json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s) && strcmp(json_string_value(v), s) == 0;
}

void jwks_keyset_free(struct jwks_keyset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        EVP_PKEY_free(s->keys[i]);
    free(s);
}

/* Decodes a base64url member of jwk into a new BIGNUM of at most cap bytes. */
static BIGNUM *member_bn(json_t *jwk, const char *name, size_t cap, size_t exact)
{
    unsigned char buf[JWT_RSA_MAX_BITS / 8 + 1];
    size_t n = 0;
    json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v) || cap > sizeof(buf) ||
        !jwt_b64url_decode(json_string_value(v), json_string_length(v), buf, cap, &n) || n == 0 ||
        (exact && n != exact))
        return NULL;
    return BN_bin2bn(buf, (int)n, NULL);
}

static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = bld ? OSSL_PARAM_BLD_to_param(bld) : NULL;
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pk = NULL;
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto done;
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (!check || EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
done:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    ERR_clear_error();
    return pk;
}

static EVP_PKEY *rsa_from_jwk(json_t *jwk)
{
    BIGNUM *n = member_bn(jwk, "n", JWT_RSA_MAX_BITS / 8 + 1, 0); /* one leading zero tolerated */
    BIGNUM *e = member_bn(jwk, "e", 8, 0);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pk = NULL;
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
        pk = key_from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pk;
}

static EVP_PKEY *ec_from_jwk(json_t *jwk)
{
    unsigned char point[65];
    size_t xn = 0, yn = 0;
    json_t *x = json_object_get(jwk, "x"), *y = json_object_get(jwk, "y");
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pk = NULL;
    if (!str_is(json_object_get(jwk, "crv"), "P-256") || !json_is_string(x) || !json_is_string(y))
        return NULL;
    point[0] = 0x04; /* uncompressed: 04 || x || y */
    if (!jwt_b64url_decode(json_string_value(x), json_string_length(x), point + 1, 32, &xn) || xn != 32 ||
        !jwt_b64url_decode(json_string_value(y), json_string_length(y), point + 33, 32, &yn) || yn != 32)
        return NULL;
    bld = OSSL_PARAM_BLD_new();
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) == 1)
        pk = key_from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pk;
}

/* kty, use, alg and key_ops allow this key for alg. */
static bool jwk_usable(json_t *jwk, enum jwt_alg alg)
{
    json_t *use = json_object_get(jwk, "use"), *a = json_object_get(jwk, "alg");
    json_t *ops = json_object_get(jwk, "key_ops"), *op;
    bool verify = false;
    size_t i;
    if (!json_is_object(jwk) ||
        !str_is(json_object_get(jwk, "kty"), alg == JWT_RS256 ? "RSA" : "EC"))
        return false;
    if ((use && !str_is(use, "sig")) || (a && !str_is(a, jwt_alg_name(alg))))
        return false;
    if (!ops)
        return true;
    json_array_foreach(ops, i, op) {
        if (str_is(op, "verify"))
            verify = true;
    }
    return verify;
}

ih_status jwks_parse(const char *json, size_t len, enum jwt_alg alg, struct jwks_keyset **out)
{
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *keys = json_object_get(root, "keys"), *k;
    struct jwks_keyset *s = NULL;
    ih_status rc = IH_EINVAL;
    size_t i;
    *out = NULL;
    if (!json_is_object(root) || !json_is_array(keys) || alg == JWT_HS256)
        goto done;
    s = calloc(1, sizeof(*s));
    if (!s) {
        rc = IH_ENOMEM;
        goto done;
    }
    json_array_foreach(keys, i, k) {
        if (i >= JWKS_MAX_ENTRIES || s->n == JWKS_MAX_KEYS)
            break;
        json_t *kid = json_object_get(k, "kid");
        if (!jwk_usable(k, alg) || (kid && (!json_is_string(kid) || json_string_length(kid) > JWT_KID_MAX)))
            continue;
        EVP_PKEY *pk = alg == JWT_RS256 ? rsa_from_jwk(k) : ec_from_jwk(k);
        if (!jwt_key_fits(pk, alg)) {
            EVP_PKEY_free(pk);
            continue;
        }
        s->keys[s->n] = pk;
        s->has_kid[s->n] = kid != NULL;
        if (kid)
            memcpy(s->kids[s->n], json_string_value(kid), json_string_length(kid) + 1);
        s->n++;
    }
    *out = s;
    s = NULL;
    rc = IH_OK;
done:
    jwks_keyset_free(s);
    json_decref(root);
    return rc;
}

/* ---- fetching ---- */

struct body {
    char *buf;
    size_t len, cap;
    bool toobig;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t n = size * nmemb;
    if (n > JWKS_MAX_BYTES - b->len) {
        b->toobig = true;
        return 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n)
            cap *= 2;
        if (cap > JWKS_MAX_BYTES)
            cap = JWKS_MAX_BYTES;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return 0;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return n;
}

/* libcurl's progress callback: a non-zero answer ends the transfer (jwks_free). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(&((const struct jwks *)ud)->stopping) ? 1 : 0;
}

/* One HTTP GET of the set and its parsing; no lock held. Logs why it failed. */
static ih_status fetch(const struct jwks *j, struct jwks_keyset **out)
{
    struct body b = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/jwk-set+json, application/json");
    CURL *e = curl_easy_init();
    ih_status rc = IH_EIO;
    long status = 0;
    *out = NULL;
    if (!e || !hdrs) {
        log_msg(LOG_WARN, "cannot fetch the JWKS", "issuer", j->issuer, "reason", "out of memory", NULL);
        goto done;
    }
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "issuerhookd");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)JWKS_MAX_BYTES);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, JWKS_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, JWKS_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, j->plain_http ? "http" : "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)j);
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        log_msg(LOG_WARN, "cannot fetch the JWKS", "issuer", j->issuer, "reason",
                b.toobig || cc == CURLE_FILESIZE_EXCEEDED ? "response too large" : curl_easy_strerror(cc),
                "detail", errbuf, NULL);
        goto done;
    }
    if (status != 200) {
        char st[16];
        snprintf(st, sizeof(st), "%ld", status);
        log_msg(LOG_WARN, "the JWKS endpoint did not answer 200", "issuer", j->issuer, "status", st, NULL);
        goto done;
    }
    rc = jwks_parse(b.buf ? b.buf : "", b.len, j->alg, out);
    if (rc == IH_EINVAL)
        log_msg(LOG_WARN, "the JWKS endpoint did not answer a JWK Set", "issuer", j->issuer, NULL);
    if (rc != IH_OK)
        rc = IH_EIO;
    else if ((*out)->n == 0)
        log_msg(LOG_WARN, "the JWKS holds no key usable for the issuer's alg", "issuer", j->issuer, NULL);
done:
    if (e)
        curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    free(b.buf);
    return rc;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jwks_retry_delay_ms(unsigned failures)
{
    int64_t d = JWKS_RETRY_FIRST_MS;
    for (unsigned i = 1; i < failures && d < JWKS_RETRY_MAX_MS; i++)
        d *= 2;
    return d < JWKS_RETRY_MAX_MS ? d : JWKS_RETRY_MAX_MS;
}

static void start_retrier_locked(struct jwks *j);

/* Called and returns with j->lock held; releases it during the fetch. */
static ih_status refresh_locked(struct jwks *j, int64_t now)
{
    struct jwks_keyset *fresh = NULL, *old = NULL;
    j->fetching = true;
    j->attempted = true;
    j->last_attempt = now;
    j->last_attempt_ms = monotonic_ms();
    pthread_mutex_unlock(&j->lock);
    ih_status rc = fetch(j, &fresh);
    pthread_mutex_lock(&j->lock);
    if (rc == IH_OK) {
        old = j->set;
        j->set = fresh;
        j->fetched_at = now;
        if (j->failures > 0) {
            char n[16];
            snprintf(n, sizeof(n), "%u", j->failures);
            log_msg(LOG_INFO, "fetched the JWKS after failed attempts", "issuer", j->issuer, "failed", n, NULL);
        }
        j->failures = 0;
    } else if (!j->set) { /* nothing to verify with: retried in the background */
        j->failures++;
        j->retry_at_ms = j->last_attempt_ms + jwks_retry_delay_ms(j->failures);
        start_retrier_locked(j);
    }
    j->fetching = false;
    pthread_cond_broadcast(&j->done);
    jwks_keyset_free(old); /* holders of its keys keep their own references */
    return rc;
}

/* The background retries while no set is held. */
static void *retrier_main(void *arg)
{
    struct jwks *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->set && !atomic_load(&j->stopping)) {
        int64_t now = monotonic_ms();
        if (j->fetching) {
            pthread_cond_wait(&j->done, &j->lock);
        } else if (now < j->retry_at_ms) {
            struct timespec at = {(time_t)(j->retry_at_ms / 1000), (long)(j->retry_at_ms % 1000) * 1000000};
            pthread_cond_timedwait(&j->wake, &j->lock, &at);
        } else {
            (void)refresh_locked(j, j->clock_s()); /* logged; schedules the next attempt */
        }
    }
    j->retrier_done = true;
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static void start_retrier_locked(struct jwks *j)
{
    if (j->retrier_started || atomic_load(&j->stopping))
        return;
    if (pthread_create(&j->retrier, NULL, retrier_main, j) != 0) {
        log_msg(LOG_WARN, "cannot start the JWKS retry thread; tokens retry the fetch themselves", "issuer",
                j->issuer, NULL);
        return;
    }
    j->retrier_started = true;
}

/* No set held, a fetch failed: the retrier's next attempt comes at most a second after
 * the last one now that a token waits (or, without a retrier, this call may fetch). */
static bool nudge_locked(struct jwks *j)
{
    int64_t soon = j->last_attempt_ms + JWKS_RETRY_FIRST_MS;
    if (j->retry_at_ms > soon)
        j->retry_at_ms = soon;
    pthread_cond_signal(&j->wake);
    return (!j->retrier_started || j->retrier_done) && monotonic_ms() >= j->retry_at_ms;
}

static bool may_fetch(struct jwks *j, int64_t now)
{
    if (!j->attempted)
        return true;
    if (!j->set) /* the retrier's work; a token only hurries it */
        return nudge_locked(j);
    return now - j->last_attempt >= JWKS_REFETCH_S;
}

/* Up-refs the keys matching kid into keys[]. A key without a kid matches any. */
static size_t collect(const struct jwks_keyset *s, const char *kid, EVP_PKEY **keys, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->n && n < cap; i++) {
        if (kid && s->has_kid[i] && strcmp(s->kids[i], kid) != 0)
            continue;
        if (EVP_PKEY_up_ref(s->keys[i]) == 1)
            keys[n++] = s->keys[i];
    }
    return n;
}

static void release(EVP_PKEY **keys, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        EVP_PKEY_free(keys[i]);
    *n = 0;
}

enum jwt_result jwks_lookup(struct jwks *j, const char *kid, EVP_PKEY **keys, size_t cap, size_t *n)
{
    enum jwt_result r = JWT_OK;
    bool tried = false, failed = false;
    *n = 0;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        int64_t now = j->clock_s();
        *n = collect(j->set, kid, keys, cap);
        bool stale = j->set && now - j->fetched_at >= JWKS_MAX_AGE_S;
        if (*n > 0 && (!stale || tried))
            break;
        if (tried) {
            r = failed ? JWT_KEYS_UNAVAILABLE : JWT_UNKNOWN_KEY;
            break;
        }
        if (j->fetching && !j->set && j->failures > 0) { /* a retry: no request waits for it */
            r = JWT_KEYS_UNAVAILABLE;
            break;
        }
        if (j->fetching) { /* someone else is fetching: wait for the outcome */
            release(keys, n);
            pthread_cond_wait(&j->done, &j->lock);
            continue;
        }
        if (!may_fetch(j, now)) {
            if (*n == 0)
                r = j->set ? JWT_UNKNOWN_KEY : JWT_KEYS_UNAVAILABLE;
            break;
        }
        release(keys, n);
        failed = refresh_locked(j, now) != IH_OK;
        tried = true;
    }
    pthread_mutex_unlock(&j->lock);
    return r;
}

ih_status jwks_prefetch(struct jwks *j)
{
    pthread_mutex_lock(&j->lock);
    while (j->fetching)
        pthread_cond_wait(&j->done, &j->lock);
    ih_status rc = refresh_locked(j, j->clock_s());
    pthread_mutex_unlock(&j->lock);
    return rc;
}

/* ---- life cycle ---- */

static int64_t monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* https://..., or http:// to a loopback host; no user:password@. */
static bool url_ok(const char *url, bool *plain_http, char *err, size_t errlen)
{
    size_t len = strlen(url), skip;
    if (len >= JWKS_URL_MAX) {
        snprintf(err, errlen, "jwks= is longer than %d bytes", JWKS_URL_MAX - 1);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
            snprintf(err, errlen, "jwks= holds a control character");
            return false;
        }
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        skip = 8;
        *plain_http = false;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        skip = 7;
        *plain_http = true;
    } else {
        snprintf(err, errlen, "jwks= must be an https:// URL");
        return false;
    }
    const char *host = url + skip;
    size_t alen = strcspn(host, "/?#");
    if (alen == 0 || memchr(host, '@', alen)) {
        snprintf(err, errlen, "jwks= must name a host, without user:password@");
        return false;
    }
    if (*plain_http) {
        static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]"};
        bool ok = false;
        for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
            size_t hl = strlen(loopback[i]);
            if (alen >= hl && strncasecmp(host, loopback[i], hl) == 0 && (alen == hl || host[hl] == ':'))
                ok = true;
        }
        if (!ok) {
            snprintf(err, errlen, "jwks= must be https:// (plain http only to a loopback host)");
            return false;
        }
    }
    return true;
}

struct jwks *jwks_new(const char *issuer_name, const char *url, enum jwt_alg alg, char *err, size_t errlen)
{
    bool plain = false;
    struct jwks *j;
    if (alg == JWT_HS256) {
        snprintf(err, errlen, "jwks= is for RS256 and ES256");
        return NULL;
    }
    if (!url_ok(url, &plain, err, errlen))
        return NULL;
    j = calloc(1, sizeof(*j));
    if (!j || !(j->url = strdup(url)) || pthread_mutex_init(&j->lock, NULL) != 0) {
        if (j)
            free(j->url);
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_condattr_t ca;
    bool ca_ok = pthread_condattr_init(&ca) == 0;
    bool wake_ok = ca_ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                   pthread_cond_init(&j->wake, &ca) == 0;
    if (ca_ok)
        pthread_condattr_destroy(&ca);
    if (!wake_ok || pthread_cond_init(&j->done, NULL) != 0) {
        if (wake_ok)
            pthread_cond_destroy(&j->wake);
        pthread_mutex_destroy(&j->lock);
        free(j->url);
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&j->stopping, false);
    snprintf(j->issuer, sizeof(j->issuer), "%s", issuer_name);
    j->plain_http = plain;
    j->alg = alg;
    j->clock_s = monotonic_s;
    return j;
}

void jwks_free(struct jwks *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    atomic_store(&j->stopping, true); /* also cuts a fetch in flight */
    pthread_cond_broadcast(&j->wake);
    bool join = j->retrier_started;
    pthread_mutex_unlock(&j->lock);
    if (join)
        pthread_join(j->retrier, NULL);
    jwks_keyset_free(j->set);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->done);
    pthread_mutex_destroy(&j->lock);
    free(j->url);
    free(j);
}

void jwks_set_clock(struct jwks *j, int64_t (*clock_s)(void))
{
    j->clock_s = clock_s;
}
