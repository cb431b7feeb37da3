/* jwtkit: see jwtkit.h. */
#include "jwtkit.h"

#include <fcntl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- keys ---- */

EVP_PKEY *jk_rsa_key(void)
{
    return EVP_RSA_gen(2048);
}

EVP_PKEY *jk_ec_key(void)
{
    return EVP_EC_gen("P-256");
}

const char *jk_alg_of(EVP_PKEY *pk)
{
    if (!pk)
        return NULL;
    if (EVP_PKEY_is_a(pk, "RSA"))
        return "RS256";
    if (EVP_PKEY_is_a(pk, "EC"))
        return "ES256";
    return NULL;
}

/* ---- base64url ---- */

size_t jk_b64url(const void *data, size_t len, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *in = data;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[v >> 12 & 63];
        out[o++] = a[v >> 6 & 63];
        out[o++] = a[v & 63];
    }
    if (len - i == 1) {
        out[o++] = a[in[i] >> 2];
        out[o++] = a[(in[i] & 3) << 4];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
        out[o++] = a[v >> 10];
        out[o++] = a[v >> 4 & 63];
        out[o++] = a[(v & 15) << 2];
    }
    out[o] = '\0';
    return o;
}

/* A new string: base64url of len bytes. */
static char *b64url_new(const void *in, size_t len)
{
    char *s = malloc(JK_B64URL_LEN(len) + 1);
    if (s)
        jk_b64url(in, len, s);
    return s;
}

/* ---- signing ---- */

/* A DER ECDSA signature as JOSE R||S, each padded to c bytes, into out (2c bytes). */
static bool der_to_jose(const unsigned char *der, size_t len, size_t c, unsigned char *out)
{
    const unsigned char *p = der;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    bool ok = false;
    if (es) {
        ECDSA_SIG_get0(es, &r, &s);
        ok = BN_bn2binpad(r, out, (int)c) == (int)c && BN_bn2binpad(s, out + c, (int)c) == (int)c;
    }
    ECDSA_SIG_free(es);
    return ok;
}

/* The signature of input (see jk_token) into a new buffer; *n its length. */
static unsigned char *sign(EVP_PKEY *pk, const void *secret, size_t slen, const char *input, size_t *n)
{
    size_t ilen = strlen(input);
    unsigned char *sig = NULL, *der = NULL;
    EVP_MD_CTX *md = NULL;
    size_t dlen = 0;
    if (!pk) {
        sig = malloc(EVP_MAX_MD_SIZE);
        if (sig && !EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, slen, (const unsigned char *)input, ilen,
                              sig, EVP_MAX_MD_SIZE, n)) {
            free(sig);
            sig = NULL;
        }
        goto done;
    }
    const char *alg = jk_alg_of(pk);
    md = EVP_MD_CTX_new();
    if (!alg || !md || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pk, NULL) != 1 ||
        EVP_DigestSign(md, NULL, &dlen, (const unsigned char *)input, ilen) != 1 || !(der = malloc(dlen)) ||
        EVP_DigestSign(md, der, &dlen, (const unsigned char *)input, ilen) != 1)
        goto done;
    if (strcmp(alg, "RS256") == 0) {
        sig = der;
        der = NULL;
        *n = dlen;
        goto done;
    }
    size_t c = ((size_t)EVP_PKEY_get_bits(pk) + 7) / 8; /* 32 on P-256 */
    sig = malloc(2 * c);
    if (sig && !der_to_jose(der, dlen, c, sig)) {
        free(sig);
        sig = NULL;
    }
    *n = 2 * c;
done:
    free(der);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return sig;
}

char *jk_token(EVP_PKEY *pk, const void *secret, size_t slen, const char *header, const char *claims)
{
    size_t hl = strlen(header), cl = strlen(claims), n = 0;
    /* the longest signature is an RSA one: at most 16384 bits here */
    char *t = malloc(JK_B64URL_LEN(hl) + JK_B64URL_LEN(cl) + JK_B64URL_LEN((size_t)2048) + 3);
    if (!t)
        return NULL;
    size_t at = jk_b64url(header, hl, t);
    t[at++] = '.';
    at += jk_b64url(claims, cl, t + at);
    unsigned char *sig = sign(pk, secret, slen, t, &n);
    if (!sig || n > 2048) {
        free(sig);
        free(t);
        return NULL;
    }
    t[at++] = '.';
    jk_b64url(sig, n, t + at);
    free(sig);
    return t;
}

char *jk_token_kid(EVP_PKEY *pk, const char *kid, const char *claims)
{
    const char *alg = jk_alg_of(pk);
    json_t *h = alg ? json_pack("{s:s}", "alg", alg) : NULL;
    char *header = NULL, *t = NULL;
    if (h && (!kid || json_object_set_new(h, "kid", json_string(kid)) == 0))
        header = json_dumps(h, JSON_COMPACT);
    if (header)
        t = jk_token(pk, NULL, 0, header, claims);
    free(header);
    json_decref(h);
    return t;
}

/* ---- JWK, JWK Set, PEM ---- */

/* base64url of the big-endian bytes of a BIGNUM parameter of pk, as a JSON string. */
static json_t *bn_member(EVP_PKEY *pk, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char *buf = NULL;
    char *s = NULL;
    json_t *v = NULL;
    if (EVP_PKEY_get_bn_param(pk, param, &bn) != 1)
        goto done;
    int n = BN_num_bytes(bn);
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || BN_bn2bin(bn, buf) != n || !(s = b64url_new(buf, (size_t)n)))
        goto done;
    v = json_string(s);
done:
    free(s);
    free(buf);
    BN_free(bn);
    return v;
}

/* kty, crv, x, y of an EC key into o. */
static bool ec_members(EVP_PKEY *pk, json_t *o)
{
    unsigned char pt[1 + 2 * 66];
    char group[64], x[JK_B64URL_LEN((size_t)66) + 1], y[sizeof(x)];
    size_t len = 0;
    const char *crv;
    if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &len) != 1 ||
        EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) != 1 || len < 3 || pt[0] != 0x04 || len % 2 == 0)
        return false; /* not an uncompressed point */
    if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
        crv = "P-256";
    else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
        crv = "P-384";
    else if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
        crv = "P-521";
    else
        return false;
    size_t c = (len - 1) / 2;
    jk_b64url(pt + 1, c, x);
    jk_b64url(pt + 1 + c, c, y);
    return json_object_set_new(o, "kty", json_string("EC")) == 0 &&
           json_object_set_new(o, "crv", json_string(crv)) == 0 && json_object_set_new(o, "x", json_string(x)) == 0 &&
           json_object_set_new(o, "y", json_string(y)) == 0;
}

char *jk_jwk(EVP_PKEY *pk, const char *kid, const char *extra)
{
    json_t *o = json_object();
    char *base = NULL, *out = NULL;
    bool ok = false;
    if (!o || !pk)
        goto done;
    if (EVP_PKEY_is_a(pk, "RSA"))
        ok = json_object_set_new(o, "kty", json_string("RSA")) == 0 &&
             json_object_set_new(o, "n", bn_member(pk, OSSL_PKEY_PARAM_RSA_N)) == 0 &&
             json_object_set_new(o, "e", bn_member(pk, OSSL_PKEY_PARAM_RSA_E)) == 0;
    else if (EVP_PKEY_is_a(pk, "EC"))
        ok = ec_members(pk, o);
    if (!ok || (kid && json_object_set_new(o, "kid", json_string(kid)) != 0) ||
        !(base = json_dumps(o, JSON_COMPACT)))
        goto done;
    /* base ends in '}': the extra members go just before it */
    size_t bl = strlen(base), el = extra ? strlen(extra) : 0;
    out = malloc(bl + el + 1);
    if (out) {
        memcpy(out, base, bl - 1);
        if (el)
            memcpy(out + bl - 1, extra, el);
        memcpy(out + bl - 1 + el, "}", 2);
    }
done:
    free(base);
    json_decref(o);
    ERR_clear_error();
    return out;
}

char *jk_jwks(size_t n, EVP_PKEY *const *keys, const char *const *kids, const char *extra)
{
    static const char open_doc[] = "{\"keys\":[";
    size_t len = sizeof(open_doc) - 1, cap = 256;
    char *doc = malloc(cap);
    if (!doc)
        return NULL;
    memcpy(doc, open_doc, len);
    for (size_t i = 0; i < n; i++) {
        char *jwk = jk_jwk(keys[i], kids ? kids[i] : NULL, extra);
        size_t jl = jwk ? strlen(jwk) : 0;
        if (jwk && len + jl + 4 > cap) {
            while (len + jl + 4 > cap)
                cap *= 2;
            char *nd = realloc(doc, cap);
            if (!nd) {
                free(jwk);
                jwk = NULL;
            } else {
                doc = nd;
            }
        }
        if (!jwk) {
            free(doc);
            return NULL;
        }
        if (i)
            doc[len++] = ',';
        memcpy(doc + len, jwk, jl);
        len += jl;
        free(jwk);
    }
    if (len + 3 > cap) {
        char *nd = realloc(doc, len + 3);
        if (!nd) {
            free(doc);
            return NULL;
        }
        doc = nd;
    }
    memcpy(doc + len, "]}", 3);
    return doc;
}

char *jk_pubkey_pem(EVP_PKEY *pk, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *copy = NULL;
    if (b && pk && PEM_write_bio_PUBKEY(b, pk) == 1) {
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && (copy = malloc((size_t)n + 1))) {
            memcpy(copy, data, (size_t)n);
            copy[n] = '\0';
            if (len)
                *len = (size_t)n;
        }
    }
    BIO_free(b);
    ERR_clear_error();
    return copy;
}

bool jk_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *p = data;
    size_t left = len;
    if (fd < 0)
        return false;
    bool ok = fchmod(fd, 0600) == 0; /* also when the file was there before */
    while (ok && left) {
        ssize_t w = write(fd, p, left);
        if (w <= 0) {
            ok = false;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    return close(fd) == 0 && ok;
}

bool jk_write_pubkey_pem(EVP_PKEY *pk, const char *path)
{
    size_t n = 0;
    char *pem = jk_pubkey_pem(pk, &n);
    bool ok = pem && jk_write_file(path, pem, n);
    free(pem);
    return ok;
}
