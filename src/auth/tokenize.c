#include "issuerhook/tokenize.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/crypto.h"
#include "keyfile.h"

#define FINGERPRINT_LABEL "issuerhook pan key fingerprint v1"

struct pan_key {
    unsigned char key[TOKENIZE_KEY_MAX];
    size_t len;
    char id[TOKENIZE_KEY_ID_LEN + 1];
    char fingerprint[TOKENIZE_TOKEN_LEN + 1];
    char path[KEYFILE_PATH_MAX];
    /* HMAC-SHA256 keyed once (RFC 2104): SHA-256 having absorbed the key xor ipad, and
     * having absorbed the key xor opad; each token copies them (never used themselves). */
    EVP_MD_CTX *inner, *outer;
};

struct tokenizer {
    struct pan_key keys[TOKENIZE_KEYS_MAX]; /* [0]: current */
    size_t n;
    bool development;
};

/* k->inner, k->outer: HMAC-SHA256 (RFC 2104) keyed once, so that a token costs two copies
 * of a digest's state. Written out rather than through EVP_MAC because a copy of an
 * EVP_MAC context duplicates three digest contexts and the MAC's own, which made a token
 * cost 0.46 us instead of 0.1 us (about 3 % of a card item); the construction is checked
 * against EVP_MAC and RFC 4231's vectors (unit_tokenize). */
static ih_status mac_new(struct pan_key *k)
{
    enum { BLOCK = 64 }; /* SHA-256's block */
    unsigned char kb[BLOCK] = {0}, pad[BLOCK];
    unsigned int n = 0;
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ih_status rc = md ? IH_OK : IH_EIO;
    if (rc == IH_OK && k->len > BLOCK) /* a key longer than a block is hashed first */
        rc = EVP_Digest(k->key, k->len, kb, &n, md, NULL) == 1 ? IH_OK : IH_EIO;
    else if (rc == IH_OK)
        memcpy(kb, k->key, k->len);
    k->inner = EVP_MD_CTX_new();
    k->outer = EVP_MD_CTX_new();
    for (int i = 0; rc == IH_OK && i < 2; i++) {
        for (size_t j = 0; j < BLOCK; j++)
            pad[j] = kb[j] ^ (i ? 0x5c : 0x36);
        EVP_MD_CTX *c = i ? k->outer : k->inner;
        if (!c || EVP_DigestInit_ex2(c, md, NULL) != 1 || EVP_DigestUpdate(c, pad, BLOCK) != 1)
            rc = IH_EIO;
    }
    crypto_wipe(kb, sizeof(kb));
    crypto_wipe(pad, sizeof(pad));
    EVP_MD_free(md); /* the contexts keep their own reference */
    if (rc != IH_OK) {
        EVP_MD_CTX_free(k->inner);
        EVP_MD_CTX_free(k->outer);
        k->inner = k->outer = NULL;
    }
    return rc;
}

/* HMAC-SHA256(key, domain || value) as hex. The domain keeps a PAN and a tax id with
 * the same digits from sharing a token. */
static ih_status hmac_hex(const struct pan_key *k, const char *domain, const char *v, size_t len, char *out)
{
    unsigned char ih[CRYPTO_SHA256_LEN], mac[CRYPTO_SHA256_LEN];
    unsigned int ilen = 0, mlen = 0;
    EVP_MD_CTX *c = k->inner ? EVP_MD_CTX_new() : NULL;
    bool ok = c && EVP_MD_CTX_copy_ex(c, k->inner) == 1 && EVP_DigestUpdate(c, domain, strlen(domain)) == 1 &&
              EVP_DigestUpdate(c, v, len) == 1 && EVP_DigestFinal_ex(c, ih, &ilen) == 1 &&
              EVP_MD_CTX_copy_ex(c, k->outer) == 1 && EVP_DigestUpdate(c, ih, ilen) == 1 &&
              EVP_DigestFinal_ex(c, mac, &mlen) == 1 && ilen == CRYPTO_SHA256_LEN && mlen == CRYPTO_SHA256_LEN;
    if (ok)
        crypto_hex(mac, sizeof(mac), out);
    EVP_MD_CTX_free(c);
    crypto_wipe(ih, sizeof(ih));
    crypto_wipe(mac, sizeof(mac));
    return ok ? IH_OK : IH_EIO;
}

static void key_clear(struct pan_key *k)
{
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    crypto_wipe(k, sizeof(*k));
}

/* Reads one key and derives its id and fingerprint; false (err set) when it cannot. */
static ih_status add_key(struct tokenizer *t, const struct tokenizer_options *o, const char *path, char *err,
                         size_t errlen)
{
    struct pan_key *k = &t->keys[t->n];
    enum keyfile_checks checks = t->development                            ? KEYFILE_NONE
                                 : keyfile_in(path, o->credentials_dir) ? KEYFILE_PLACE
                                                                         : KEYFILE_ALL;
    ih_status rc = keyfile_read(path, o->db_path, checks, k->key, &k->len, err, errlen);
    if (rc != IH_OK)
        return rc;
    unsigned char h[CRYPTO_SHA256_LEN];
    crypto_sha256(k->key, k->len, h);
    crypto_hex(h, TOKENIZE_KEY_ID_LEN / 2, k->id);
    crypto_wipe(h, sizeof(h));
    if ((rc = mac_new(k)) != IH_OK ||
        (rc = hmac_hex(k, "", FINGERPRINT_LABEL, strlen(FINGERPRINT_LABEL), k->fingerprint)) != IH_OK) {
        key_clear(k);
        snprintf(err, errlen, "cannot compute HMAC-SHA256 with the PAN key");
        return rc;
    }
    snprintf(k->path, sizeof(k->path), "%s", path);
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->keys[i].fingerprint, k->fingerprint) == 0) {
            key_clear(k); /* the same key twice: once is enough */
            return IH_OK;
        }
    t->n++;
    return IH_OK;
}

/* The previous keys: "a,b,/etc/x" -> files; a bare name is looked up in dir. */
static ih_status add_previous(struct tokenizer *t, const struct tokenizer_options *o, const char *dir, char *err,
                              size_t errlen)
{
    for (const char *p = o->previous; p && *p;) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        p = *e ? e + 1 : e;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        if (s == e)
            continue;
        if (t->n == TOKENIZE_KEYS_MAX) {
            snprintf(err, errlen, "ISSUERHOOK_PAN_KEY_PREVIOUS: at most %d previous keys", TOKENIZE_KEYS_MAX - 1);
            return IH_EINVAL;
        }
        char path[KEYFILE_PATH_MAX];
        bool bare = memchr(s, '/', (size_t)(e - s)) == NULL;
        if (snprintf(path, sizeof(path), "%s%s%.*s", bare ? dir : "", bare ? "/" : "", (int)(e - s), s) >=
            (int)sizeof(path)) {
            snprintf(err, errlen, "ISSUERHOOK_PAN_KEY_PREVIOUS: a path is too long");
            return IH_EINVAL;
        }
        ih_status rc = add_key(t, o, path, err, errlen);
        if (rc != IH_OK)
            return rc;
    }
    return IH_OK;
}

ih_status tokenizer_load(const struct tokenizer_options *o, struct tokenizer **out, char *err, size_t errlen)
{
    char path[KEYFILE_PATH_MAX], dir[KEYFILE_PATH_MAX];
    *out = NULL;
    struct tokenizer *t = calloc(1, sizeof(*t));
    if (!t)
        return IH_ENOMEM;
    t->development = o->development;
    ih_status rc = o->development ? keyfile_development(o->key_file, o->db_path, path, sizeof(path), err, errlen)
                                  : keyfile_locate(o->key_file, o->credentials_dir, o->secrets_dir, path,
                                                   sizeof(path), err, errlen);
    if (rc == IH_OK)
        rc = add_key(t, o, path, err, errlen);
    if (rc == IH_OK) {
        keyfile_dirname(path, dir, sizeof(dir));
        rc = add_previous(t, o, dir, err, errlen);
    }
    if (rc != IH_OK) {
        tokenizer_free(t);
        return rc;
    }
    *out = t;
    return IH_OK;
}

void tokenizer_free(struct tokenizer *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        key_clear(&t->keys[i]);
    crypto_wipe(t, sizeof(*t));
    free(t);
}

size_t tokenizer_key_count(const struct tokenizer *t) { return t->n; }
const char *tokenizer_key_id(const struct tokenizer *t, size_t i) { return i < t->n ? t->keys[i].id : NULL; }
const char *tokenizer_key_path(const struct tokenizer *t, size_t i) { return i < t->n ? t->keys[i].path : NULL; }
bool tokenizer_development(const struct tokenizer *t) { return t->development; }

const char *tokenizer_fingerprint(const struct tokenizer *t, size_t i)
{
    return i < t->n ? t->keys[i].fingerprint : NULL;
}

/* Copies s without spaces and dashes into d (cap bytes): "123-45-6789" and
 * "123456789" are the same tax id, "4242 4242 ..." and "42424242..." the same PAN. */
static size_t normalize(const char *s, size_t len, char *d, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++)
        if (s[i] != ' ' && s[i] != '-')
            d[n++] = s[i];
    d[n] = '\0';
    return n;
}

ih_status tokenizer_pan_under(const struct tokenizer *t, size_t i, const char *pan, size_t len, struct pan_token *out)
{
    char d[32];
    size_t n = normalize(pan, len, d, sizeof(d));
    ih_status rc = IH_EINVAL;
    memset(out, 0, sizeof(*out));
    if (i < t->n && n >= 12 && n <= 19 && strspn(d, "0123456789") == n &&
        (rc = hmac_hex(&t->keys[i], "pan:", d, n, out->token)) == IH_OK) {
        size_t lead = n / 2 - 4 > 6 ? 6 : n / 2 - 4; /* at most half shown, at most 6 + 4 */
        memcpy(out->lead, d, lead);
        memcpy(out->last4, d + n - 4, 4);
        memcpy(out->masked, d, lead);
        memset(out->masked + lead, '*', n - lead - 4);
        memcpy(out->masked + n - 4, d + n - 4, 4);
        memcpy(out->key_id, t->keys[i].id, sizeof(out->key_id));
    }
    crypto_wipe(d, sizeof(d));
    return rc;
}

ih_status tokenizer_pan(const struct tokenizer *t, const char *pan, size_t len, struct pan_token *out)
{
    return tokenizer_pan_under(t, 0, pan, len, out);
}

ih_status tokenizer_tax_id(const struct tokenizer *t, const char *tax, size_t len, char out[TOKENIZE_TOKEN_LEN + 1])
{
    char d[32];
    size_t n = normalize(tax, len, d, sizeof(d));
    ih_status rc = n ? hmac_hex(&t->keys[0], "taxid:", d, n, out) : IH_EINVAL;
    crypto_wipe(d, sizeof(d));
    return rc;
}

ih_status tokenizer_token(const struct tokenizer *t, const char *domain, const char *s, size_t len,
                          char out[TOKENIZE_TOKEN_LEN + 1])
{
    return hmac_hex(&t->keys[0], domain, s, len, out);
}
