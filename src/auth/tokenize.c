#include "issuerhook/tokenize.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/crypto.h"
#include "issuerhook/log.h"

#define KEY_MAX 1024

struct tokenizer {
    unsigned char key[KEY_MAX];
    size_t key_len;
    char key_id[17];
};

static ih_status read_key(const char *path, struct tokenizer *t, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "ISSUERHOOK_PAN_KEY_FILE: cannot open %s: %s", path, strerror(errno));
        return IH_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
        log_msg(LOG_WARN, "the PAN key file can be read by group or others; it should be mode 0600", "path", path,
                NULL);
    ssize_t n = read(fd, t->key, sizeof(t->key));
    close(fd);
    if (n < TOKENIZE_KEY_MIN) {
        snprintf(err, errlen, "ISSUERHOOK_PAN_KEY_FILE: %s holds fewer than %d bytes", path, TOKENIZE_KEY_MIN);
        crypto_wipe(t->key, sizeof(t->key));
        return IH_EINVAL;
    }
    t->key_len = (size_t)n;
    return IH_OK;
}

/* pan.key beside the database, created once with 32 random bytes, mode 0600. */
static ih_status default_key(const char *db_path, char *path, size_t cap, char *err, size_t errlen)
{
    const char *slash = strrchr(db_path, '/');
    if (slash)
        snprintf(path, cap, "%.*s/pan.key", (int)(slash - db_path), db_path);
    else
        snprintf(path, cap, "pan.key");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return IH_OK;
        snprintf(err, errlen, "cannot create the PAN key %s: %s", path, strerror(errno));
        return IH_EIO;
    }
    unsigned char k[32];
    ih_status rc = crypto_random(k, sizeof(k));
    bool ok = rc == IH_OK && write(fd, k, sizeof(k)) == (ssize_t)sizeof(k) && fsync(fd) == 0;
    crypto_wipe(k, sizeof(k));
    close(fd);
    if (!ok) {
        unlink(path);
        snprintf(err, errlen, "cannot write the PAN key %s", path);
        return IH_EIO;
    }
    log_msg(LOG_WARN, "generated a new PAN key; back it up with the database (tokens depend on it)", "path", path,
            NULL);
    return IH_OK;
}

ih_status tokenizer_load(const char *key_file, const char *db_path, struct tokenizer **out, char *err, size_t errlen)
{
    char path[1100];
    ih_status rc = IH_OK;
    *out = NULL;
    if (key_file && key_file[0])
        snprintf(path, sizeof(path), "%s", key_file);
    else if ((rc = default_key(db_path, path, sizeof(path), err, errlen)) != IH_OK)
        return rc;
    struct tokenizer *t = calloc(1, sizeof(*t));
    if (!t)
        return IH_ENOMEM;
    if ((rc = read_key(path, t, err, errlen)) != IH_OK) {
        free(t);
        return rc;
    }
    unsigned char h[CRYPTO_SHA256_LEN];
    crypto_sha256(t->key, t->key_len, h);
    crypto_hex(h, 8, t->key_id);
    *out = t;
    return IH_OK;
}

void tokenizer_free(struct tokenizer *t)
{
    if (!t)
        return;
    crypto_wipe(t, sizeof(*t));
    free(t);
}

const char *tokenizer_key_id(const struct tokenizer *t)
{
    return t->key_id;
}

/* HMAC-SHA256(key, domain || value) as hex. The domain keeps a PAN and a tax id with
 * the same digits from sharing a token. */
static ih_status hmac_hex(const struct tokenizer *t, const char *domain, const char *v, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    ih_status rc = IH_EIO;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0), OSSL_PARAM_construct_end()};
    if (c && EVP_MAC_init(c, t->key, t->key_len, params) == 1 &&
        EVP_MAC_update(c, (const unsigned char *)domain, strlen(domain)) == 1 &&
        EVP_MAC_update(c, (const unsigned char *)v, len) == 1 && EVP_MAC_final(c, mac, &mac_len, sizeof(mac)) == 1 &&
        mac_len == 32) {
        crypto_hex(mac, 32, out);
        rc = IH_OK;
    }
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    crypto_wipe(mac, sizeof(mac));
    return rc;
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

ih_status tokenizer_pan(const struct tokenizer *t, const char *pan, size_t len, struct pan_token *out)
{
    char d[32];
    size_t n = normalize(pan, len, d, sizeof(d));
    ih_status rc = IH_EINVAL;
    memset(out, 0, sizeof(*out));
    if (n >= 12 && n <= 19 && strspn(d, "0123456789") == n && (rc = hmac_hex(t, "pan:", d, n, out->token)) == IH_OK) {
        memcpy(out->first6, d, 6);
        memcpy(out->last4, d + n - 4, 4);
        memcpy(out->masked, d, 6);
        memset(out->masked + 6, '*', n - 10);
        memcpy(out->masked + n - 4, d + n - 4, 4);
        memcpy(out->key_id, t->key_id, sizeof(out->key_id));
    }
    crypto_wipe(d, sizeof(d));
    return rc;
}

ih_status tokenizer_tax_id(const struct tokenizer *t, const char *tax, size_t len, char out[TOKENIZE_TOKEN_LEN + 1])
{
    char d[32];
    size_t n = normalize(tax, len, d, sizeof(d));
    ih_status rc = n ? hmac_hex(t, "taxid:", d, n, out) : IH_EINVAL;
    crypto_wipe(d, sizeof(d));
    return rc;
}
