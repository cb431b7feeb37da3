/* JWT bearer tokens: issuer configuration and verification of compact JWS.
 * The rules (what is accepted, in which order) are written in include/issuerhook/jwt.h. */
#include "issuerhook/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/log.h"
#include "issuerhook/scope.h"
#include "jwt_internal.h"

#define PEM_MAX_BYTES (64 * 1024)
#define PATH_MAX_BYTES 1024
#define HS256_LEN 32

/* ---- primitives ---- */

const char *jwt_alg_name(enum jwt_alg alg)
{
    switch (alg) {
    case JWT_HS256:
        return "HS256";
    case JWT_RS256:
        return "RS256";
    case JWT_ES256:
        return "ES256";
    }
    return "?";
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool jwt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
        return false;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* unused trailing bits must be zero: one encoding per value */
        return false;
    *outlen = o;
    return true;
}

bool jwt_key_fits(EVP_PKEY *pkey, enum jwt_alg alg)
{
    char group[64];
    size_t glen = 0;
    if (!pkey)
        return false;
    if (alg == JWT_RS256) {
        int bits = EVP_PKEY_get_bits(pkey);
        return EVP_PKEY_is_a(pkey, "RSA") && bits >= JWT_RSA_MIN_BITS && bits <= JWT_RSA_MAX_BITS;
    }
    if (alg == JWT_ES256) {
        if (!EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1) {
            ERR_clear_error();
            return false;
        }
        return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
    }
    return false;
}

static bool digest_verify(EVP_PKEY *pkey, bool rsa, const char *input, size_t input_len,
                          const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = false;
    if (!md || EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, pkey, NULL) != 1)
        goto done;
    if (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
        goto done;
    ok = EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input, input_len) == 1;
done:
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}

/* ES256: the JOSE signature is R||S, 32 bytes each; OpenSSL verifies DER. */
static bool es256_verify(EVP_PKEY *pkey, const char *input, size_t input_len, const unsigned char *sig)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    bool ok = false;
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1)
        goto done;
    r = s = NULL; /* es owns them */
    int dlen = i2d_ECDSA_SIG(es, &der);
    if (dlen <= 0)
        goto done;
    ok = digest_verify(pkey, false, input, input_len, der, (size_t)dlen);
done:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    ERR_clear_error();
    return ok;
}

bool jwt_sig_check(enum jwt_alg alg, const unsigned char *secret, size_t secret_len, EVP_PKEY *pkey,
                   const char *input, size_t input_len, const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    bool ok;
    switch (alg) {
    case JWT_HS256:
        if (!secret || sig_len != HS256_LEN)
            return false;
        if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input, input_len, mac, &mlen)) {
            ERR_clear_error();
            return false;
        }
        ok = mlen == HS256_LEN && CRYPTO_memcmp(mac, sig, HS256_LEN) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
        return ok;
    case JWT_RS256:
        if (!pkey || EVP_PKEY_get_size(pkey) <= 0 || sig_len != (size_t)EVP_PKEY_get_size(pkey))
            return false;
        return digest_verify(pkey, true, input, input_len, sig, sig_len);
    case JWT_ES256:
        if (!pkey || sig_len != 64)
            return false;
        return es256_verify(pkey, input, input_len, sig);
    }
    return false;
}

/* ---- issuer configuration ---- */

enum setting { S_ALG, S_SECRET_FILE, S_KEY, S_JWKS, S_ISS, S_AUD, S_COUNT };
static const char *const setting_names[S_COUNT] = {"alg", "secret_file", "key", "jwks", "iss", "aud"};

struct slice {
    const char *p;
    size_t len;
};

/* Reads a whole regular file of at most max bytes into a malloc'ed buffer. */
static ih_status read_small_file(const char *what, const char *path, size_t max, unsigned char **buf,
                                 size_t *len, mode_t *mode, char *err, size_t errlen)
{
    struct stat st;
    unsigned char *b = NULL;
    size_t n = 0;
    ih_status rc = IH_EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %s '%.200s': %s", what, path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0 || (size_t)st.st_size > max) {
        snprintf(err, errlen, "%s '%.200s' is not a regular file of at most %zu bytes", what, path, max);
        rc = IH_EINVAL;
        goto done;
    }
    b = malloc(max + 1);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        rc = IH_ENOMEM;
        goto done;
    }
    for (;;) {
        ssize_t got = read(fd, b + n, max + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "cannot read %s '%.200s': %s", what, path, strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > max) {
            snprintf(err, errlen, "%s '%.200s' is longer than %zu bytes", what, path, max);
            rc = IH_EINVAL;
            goto done;
        }
    }
    *buf = b;
    *len = n;
    *mode = st.st_mode;
    b = NULL;
    rc = IH_OK;
done:
    if (b) {
        OPENSSL_cleanse(b, max + 1);
        free(b);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

static ih_status load_secret(struct jwt_issuer *iss, const char *path, char *err, size_t errlen)
{
    unsigned char *b = NULL;
    size_t n = 0;
    mode_t mode = 0;
    ih_status rc = read_small_file("secret_file", path, JWT_SECRET_MAX, &b, &n, &mode, err, errlen);
    if (rc != IH_OK)
        return rc;
    if (n < JWT_SECRET_MIN) {
        snprintf(err, errlen, "secret_file '%.200s' holds %zu bytes; HS256 needs at least %d", path, n,
                 JWT_SECRET_MIN);
        OPENSSL_cleanse(b, JWT_SECRET_MAX + 1);
        free(b);
        return IH_EINVAL;
    }
    iss->secret = malloc(n);
    if (iss->secret) {
        memcpy(iss->secret, b, n);
        iss->secret_len = n;
    }
    OPENSSL_cleanse(b, JWT_SECRET_MAX + 1);
    free(b);
    if (!iss->secret) {
        snprintf(err, errlen, "out of memory");
        return IH_ENOMEM;
    }
    if (mode & (S_IRWXG | S_IRWXO))
        log_msg(LOG_WARN, "the JWT secret file can be read by other users", "issuer", iss->name, NULL);
    return IH_OK;
}

static ih_status load_key(struct jwt_issuer *iss, const char *path, char *err, size_t errlen)
{
    unsigned char *b = NULL;
    size_t n = 0;
    mode_t mode = 0;
    ih_status rc = read_small_file("key file", path, PEM_MAX_BYTES, &b, &n, &mode, err, errlen);
    if (rc != IH_OK)
        return rc;
    BIO *bio = BIO_new_mem_buf(b, (int)n);
    iss->key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    free(b);
    if (!iss->key) {
        snprintf(err, errlen, "key file '%.200s' holds no PEM public key (-----BEGIN PUBLIC KEY-----)", path);
        return IH_EINVAL;
    }
    if (!jwt_key_fits(iss->key, iss->alg)) {
        snprintf(err, errlen, "key file '%.200s': %s", path,
                 iss->alg == JWT_RS256 ? "RS256 needs an RSA public key of 2048 to 8192 bits"
                                       : "ES256 needs an EC public key on P-256");
        return IH_EINVAL;
    }
    return IH_OK;
}

static bool slice_is(struct slice s, const char *text)
{
    return s.p && s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

/* Splits value into the settings; names what is wrong, never a value. */
static ih_status split_settings(const char *value, struct slice set[S_COUNT], char *err, size_t errlen)
{
    const char *p = value;
    for (unsigned idx = 1;; idx++) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return IH_OK;
        size_t tl = strcspn(p, " \t");
        const char *eq = memchr(p, '=', tl);
        if (!eq) {
            snprintf(err, errlen, "word %u is not name=value", idx);
            return IH_EINVAL;
        }
        size_t nl = (size_t)(eq - p);
        int k = -1;
        for (int i = 0; i < S_COUNT; i++)
            if (strlen(setting_names[i]) == nl && memcmp(setting_names[i], p, nl) == 0)
                k = i;
        if (k < 0) {
            snprintf(err, errlen, "word %u: unknown setting (expected alg, secret_file, key, jwks, iss, aud)", idx);
            return IH_EINVAL;
        }
        if (set[k].p) {
            snprintf(err, errlen, "%s= is given twice", setting_names[k]);
            return IH_EINVAL;
        }
        if (tl == nl + 1) {
            snprintf(err, errlen, "%s= is empty", setting_names[k]);
            return IH_EINVAL;
        }
        set[k].p = eq + 1;
        set[k].len = tl - nl - 1;
        p += tl;
    }
}

/* A NUL-terminated copy of s into buf (cap bytes); false when it does not fit. */
static bool slice_copy(struct slice s, char *buf, size_t cap)
{
    if (s.len >= cap)
        return false;
    memcpy(buf, s.p, s.len);
    buf[s.len] = '\0';
    return true;
}

static ih_status issuer_fill(struct jwt_issuer *iss, const struct slice set[S_COUNT], char *err, size_t errlen)
{
    char buf[PATH_MAX_BYTES];
    int sources = !!set[S_SECRET_FILE].p + !!set[S_KEY].p + !!set[S_JWKS].p;
    if (!set[S_ALG].p) {
        snprintf(err, errlen, "alg= is required (HS256, RS256 or ES256)");
        return IH_EINVAL;
    }
    if (slice_is(set[S_ALG], "HS256"))
        iss->alg = JWT_HS256;
    else if (slice_is(set[S_ALG], "RS256"))
        iss->alg = JWT_RS256;
    else if (slice_is(set[S_ALG], "ES256"))
        iss->alg = JWT_ES256;
    else {
        snprintf(err, errlen, "alg= must be HS256, RS256 or ES256");
        return IH_EINVAL;
    }
    if (sources != 1) {
        snprintf(err, errlen, "exactly one of secret_file=, key=, jwks= is required");
        return IH_EINVAL;
    }
    if ((iss->alg == JWT_HS256) != (set[S_SECRET_FILE].p != NULL)) {
        snprintf(err, errlen, iss->alg == JWT_HS256 ? "HS256 takes secret_file=" : "%s takes key= or jwks=",
                 jwt_alg_name(iss->alg));
        return IH_EINVAL;
    }
    for (int k = S_ISS; k <= S_AUD; k++) {
        if (!set[k].p)
            continue;
        char *v = strndup(set[k].p, set[k].len);
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return IH_ENOMEM;
        }
        *(k == S_ISS ? &iss->iss : &iss->aud) = v;
    }
    int src = set[S_SECRET_FILE].p ? S_SECRET_FILE : set[S_KEY].p ? S_KEY : S_JWKS;
    if (!slice_copy(set[src], buf, sizeof(buf))) {
        snprintf(err, errlen, "%s= is longer than %d bytes", setting_names[src], PATH_MAX_BYTES - 1);
        return IH_EINVAL;
    }
    if (src == S_SECRET_FILE)
        return load_secret(iss, buf, err, errlen);
    if (src == S_KEY)
        return load_key(iss, buf, err, errlen);
    iss->jwks = jwks_new(iss->name, buf, iss->alg, err, errlen);
    return iss->jwks ? IH_OK : IH_EINVAL;
}

ih_status jwt_issuer_parse(const char *name, const char *value, struct jwt_issuer **out, char *err, size_t errlen)
{
    struct slice set[S_COUNT] = {{0}};
    struct jwt_issuer *iss = NULL;
    ih_status rc;
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    size_t nl = strlen(name);
    if (nl == 0 || nl >= JWT_ISSUER_NAME_MAX) {
        snprintf(err, errlen, "the issuer name must have 1 to %d characters", JWT_ISSUER_NAME_MAX - 1);
        return IH_EINVAL;
    }
    rc = split_settings(value, set, err, errlen);
    if (rc != IH_OK)
        return rc;
    iss = calloc(1, sizeof(*iss));
    if (!iss) {
        snprintf(err, errlen, "out of memory");
        return IH_ENOMEM;
    }
    memcpy(iss->name, name, nl + 1);
    rc = issuer_fill(iss, set, err, errlen);
    if (rc != IH_OK) {
        jwt_issuer_free(iss);
        return rc;
    }
    *out = iss;
    return IH_OK;
}

void jwt_issuer_free(struct jwt_issuer *iss)
{
    if (!iss)
        return;
    if (iss->secret) {
        OPENSSL_cleanse(iss->secret, iss->secret_len);
        free(iss->secret);
    }
    EVP_PKEY_free(iss->key);
    jwks_free(iss->jwks);
    free(iss->iss);
    free(iss->aud);
    OPENSSL_cleanse(iss, sizeof(*iss));
    free(iss);
}

const char *jwt_issuer_name(const struct jwt_issuer *iss)
{
    return iss->name;
}

ih_status jwt_issuer_prefetch(struct jwt_issuer *iss)
{
    return iss->jwks ? jwks_prefetch(iss->jwks) : IH_OK;
}

const char *jwt_result_str(enum jwt_result r)
{
    switch (r) {
    case JWT_OK:
        return "ok";
    case JWT_MALFORMED:
        return "malformed token";
    case JWT_ALG_REFUSED:
        return "algorithm refused";
    case JWT_BAD_SIGNATURE:
        return "bad signature";
    case JWT_EXPIRED:
        return "token expired";
    case JWT_NOT_YET_VALID:
        return "token not yet valid";
    case JWT_LIFETIME_TOO_LONG:
        return "token lifetime too long";
    case JWT_WRONG_ISSUER:
        return "wrong issuer";
    case JWT_WRONG_AUDIENCE:
        return "wrong audience";
    case JWT_UNKNOWN_KEY:
        return "unknown signing key";
    case JWT_KEYS_UNAVAILABLE:
        return "signing keys unavailable";
    }
    return "unknown";
}

/* ---- verification ---- */

struct token {
    json_t *header, *claims;
    const char *alg, *kid; /* in header; kid may be NULL */
    const char *input;     /* "header.payload" of the token */
    size_t input_len;
    unsigned char sig[JWT_MAX_SIG];
    size_t sig_len;
};

/* Decodes one base64url part as a JSON object. */
static json_t *decode_object(const char *p, size_t len)
{
    unsigned char buf[JWT_MAX_TOKEN / 4 * 3];
    size_t n = 0;
    if (len == 0 || !jwt_b64url_decode(p, len, buf, sizeof(buf), &n))
        return NULL;
    json_t *v = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* Splits and decodes; JWT_OK, JWT_MALFORMED, or JWT_ALG_REFUSED for "none". */
static enum jwt_result token_parse(const char *token, size_t len, struct token *t)
{
    const char *d1, *d2;
    json_t *v;
    if (!token || len == 0 || len > JWT_MAX_TOKEN)
        return JWT_MALFORMED;
    d1 = memchr(token, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return JWT_MALFORMED;
    t->header = decode_object(token, (size_t)(d1 - token));
    t->claims = t->header ? decode_object(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
    if (!t->claims)
        return JWT_MALFORMED;
    v = json_object_get(t->header, "alg");
    if (!json_is_string(v) || json_object_get(t->header, "crit"))
        return JWT_MALFORMED;
    t->alg = json_string_value(v);
    if (strcasecmp(t->alg, "none") == 0)
        return JWT_ALG_REFUSED;
    v = json_object_get(t->header, "kid");
    if (v && (!json_is_string(v) || json_string_length(v) > JWT_KID_MAX))
        return JWT_MALFORMED;
    t->kid = v ? json_string_value(v) : NULL;
    v = json_object_get(t->claims, "iss");
    if (v && !json_is_string(v))
        return JWT_MALFORMED;
    t->input = token;
    t->input_len = (size_t)(d2 - token);
    if (!jwt_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), t->sig, sizeof(t->sig), &t->sig_len))
        return JWT_MALFORMED;
    return JWT_OK;
}

static enum jwt_result check_signature(struct jwt_issuer *iss, const struct token *t)
{
    EVP_PKEY *keys[JWKS_MAX_KEYS];
    size_t n = 0;
    bool ok = false;
    if (iss->secret)
        return jwt_sig_check(JWT_HS256, iss->secret, iss->secret_len, NULL, t->input, t->input_len, t->sig,
                             t->sig_len)
                   ? JWT_OK
                   : JWT_BAD_SIGNATURE;
    if (iss->key)
        return jwt_sig_check(iss->alg, NULL, 0, iss->key, t->input, t->input_len, t->sig, t->sig_len)
                   ? JWT_OK
                   : JWT_BAD_SIGNATURE;
    enum jwt_result r = jwks_lookup(iss->jwks, t->kid, keys, JWKS_MAX_KEYS, &n);
    if (r != JWT_OK)
        return r;
    for (size_t i = 0; i < n; i++) {
        if (!ok)
            ok = jwt_sig_check(iss->alg, NULL, 0, keys[i], t->input, t->input_len, t->sig, t->sig_len);
        EVP_PKEY_free(keys[i]);
    }
    return ok ? JWT_OK : JWT_BAD_SIGNATURE;
}

/* A NumericDate claim; rounded towards rejection (exp down, nbf up). */
static bool numeric_date(json_t *v, bool round_up, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    if (d != d)
        return false;
    if (d >= 9.2e18)
        *out = INT64_MAX;
    else if (d <= -9.2e18)
        *out = INT64_MIN;
    else {
        int64_t i = (int64_t)d;
        if (round_up && (double)i < d)
            i++;
        else if (!round_up && (double)i > d)
            i--;
        *out = i;
    }
    return true;
}

static bool json_string_equals(json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s) && memcmp(json_string_value(v), s, strlen(s)) == 0;
}

/* exp - iat (iat no later than now + leeway), or exp - now without iat, at most max_life
 * (+ leeway without iat): a token valid for ever is not taken. */
static enum jwt_result check_lifetime(json_t *claims, int64_t exp, int64_t now, int64_t late, unsigned leeway,
                                      unsigned max_life)
{
    json_t *v = json_object_get(claims, "iat");
    int64_t iat, life;
    if (v && !numeric_date(v, false, &iat))
        return JWT_MALFORMED;
    if (v && iat > late)
        return JWT_NOT_YET_VALID; /* issued in the future */
    if (__builtin_sub_overflow(exp, v ? iat : now, &life))
        return JWT_LIFETIME_TOO_LONG;
    return life > (int64_t)max_life + (v ? 0 : (int64_t)leeway) ? JWT_LIFETIME_TOO_LONG : JWT_OK;
}

static enum jwt_result check_claims(const struct jwt_issuer *iss, json_t *claims, int64_t now, unsigned leeway,
                                    unsigned max_life)
{
    int64_t exp, nbf;
    json_t *v;
    /* now - leeway < exp, and now + leeway >= nbf, without overflow */
    int64_t early = now < INT64_MIN + (int64_t)leeway ? INT64_MIN : now - (int64_t)leeway;
    int64_t late = now > INT64_MAX - (int64_t)leeway ? INT64_MAX : now + (int64_t)leeway;
    if (!numeric_date(json_object_get(claims, "exp"), false, &exp))
        return JWT_MALFORMED; /* exp is required */
    if (early >= exp)
        return JWT_EXPIRED;
    v = json_object_get(claims, "nbf");
    if (v && !numeric_date(v, true, &nbf))
        return JWT_MALFORMED;
    if (v && late < nbf)
        return JWT_NOT_YET_VALID;
    enum jwt_result r = check_lifetime(claims, exp, now, late, leeway, max_life);
    if (r != JWT_OK)
        return r;
    if (iss->iss && !json_string_equals(json_object_get(claims, "iss"), iss->iss))
        return JWT_WRONG_ISSUER;
    if (iss->aud) {
        bool found = false;
        size_t i;
        v = json_object_get(claims, "aud");
        if (json_is_array(v)) {
            json_t *e;
            json_array_foreach(v, i, e) {
                if (json_string_equals(e, iss->aud))
                    found = true;
            }
        } else {
            found = json_string_equals(v, iss->aud);
        }
        if (!found)
            return JWT_WRONG_AUDIENCE;
    }
    return JWT_OK;
}

static unsigned scopes_of(json_t *v)
{
    unsigned mask = 0, bits = 0;
    char bad[80];
    size_t i;
    json_t *e;
    if (json_is_string(v) && scope_parse_list(json_string_value(v), " ", true, &bits, bad, sizeof(bad)))
        mask |= bits;
    json_array_foreach(v, i, e) {
        if (json_is_string(e))
            mask |= scope_parse(json_string_value(e), json_string_length(e));
    }
    return mask;
}

/* Copies a string claim; absent is "", anything else that does not fit is refused. */
static bool claim_copy(json_t *v, char *out, size_t cap)
{
    if (!v)
        return true;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static enum jwt_result principal_fill(const struct jwt_issuer *iss, json_t *claims, struct jwt_principal *out)
{
    json_t *cid = json_object_get(claims, "client_id");
    if (!claim_copy(json_object_get(claims, "sub"), out->subject, sizeof(out->subject)) ||
        !claim_copy(cid ? cid : json_object_get(claims, "azp"), out->client_id, sizeof(out->client_id)))
        return JWT_MALFORMED;
    out->scopes = scopes_of(json_object_get(claims, "scope")) | scopes_of(json_object_get(claims, "scp"));
    out->issuer = iss;
    return JWT_OK;
}

static enum jwt_result verify_with(struct jwt_issuer *iss, const struct token *t, int64_t now, unsigned leeway,
                                   unsigned max_life, struct jwt_principal *out)
{
    if (strcmp(t->alg, jwt_alg_name(iss->alg)) != 0)
        return JWT_ALG_REFUSED;
    enum jwt_result r = check_signature(iss, t);
    if (r == JWT_OK)
        r = check_claims(iss, t->claims, now, leeway, max_life);
    if (r == JWT_OK)
        r = principal_fill(iss, t->claims, out);
    return r;
}

/* How far a failed verification got; the furthest is reported. */
static int result_rank(enum jwt_result r)
{
    switch (r) {
    case JWT_ALG_REFUSED:
        return 1;
    case JWT_BAD_SIGNATURE:
        return 2;
    case JWT_UNKNOWN_KEY:
        return 3;
    case JWT_KEYS_UNAVAILABLE:
        return 4;
    default:
        return 5; /* claims */
    }
}

enum jwt_result jwt_verify(struct jwt_issuer *const *issuers, size_t n, const char *token, size_t len,
                           int64_t now_s, unsigned leeway_s, unsigned max_lifetime_s, struct jwt_principal *out)
{
    struct token t;
    enum jwt_result best = JWT_WRONG_ISSUER, r;
    int best_rank = 0;
    bool by_iss = false;
    memset(out, 0, sizeof(*out));
    memset(&t, 0, sizeof(t));
    r = token_parse(token, len, &t);
    if (r != JWT_OK) {
        best = r;
        goto done;
    }
    const char *tiss = json_string_value(json_object_get(t.claims, "iss"));
    for (size_t i = 0; i < n && tiss; i++)
        by_iss = by_iss || (issuers[i]->iss && strcmp(issuers[i]->iss, tiss) == 0);
    for (size_t i = 0; i < n; i++) {
        struct jwt_issuer *iss = issuers[i];
        if (by_iss ? !(iss->iss && strcmp(iss->iss, tiss) == 0) : iss->iss != NULL)
            continue;
        r = verify_with(iss, &t, now_s, leeway_s, max_lifetime_s, out);
        if (r == JWT_OK) {
            best = JWT_OK;
            goto done;
        }
        memset(out, 0, sizeof(*out));
        if (result_rank(r) > best_rank) {
            best = r;
            best_rank = result_rank(r);
        }
    }
done:
    json_decref(t.header);
    json_decref(t.claims);
    return best;
}
