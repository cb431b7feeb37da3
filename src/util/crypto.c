#include "issuerhook/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* SHA-256 fetched once: EVP_sha256() makes EVP_Digest look the algorithm up in the
 * provider on every call, which cost more than hashing a request's few hundred bytes. */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
    unsigned int n = 0;
    pthread_once(&g_sha256_once, fetch_sha256);
    /* EVP_Digest cannot fail for SHA-256 with the default provider loaded. */
    (void)EVP_Digest(data, len, out, &n, g_sha256 ? g_sha256 : EVP_sha256(), NULL);
}

ih_status crypto_sha256_pieces(const struct crypto_piece *pieces, size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
    unsigned int len = 0;
    pthread_once(&g_sha256_once, fetch_sha256);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, g_sha256 ? g_sha256 : EVP_sha256(), NULL) == 1) {
        for (size_t i = 0; i < n; i++)
            EVP_DigestUpdate(c, pieces[i].p, pieces[i].len);
        EVP_DigestFinal_ex(c, out, &len);
    }
    EVP_MD_CTX_free(c);
    return len == CRYPTO_SHA256_LEN ? IH_OK : IH_ENOMEM;
}

void crypto_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool crypto_unhex(const char *hex, unsigned char *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(hex[2 * i]);
        int lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return hex[2 * len] == '\0';
}

ih_status crypto_random(void *out, size_t len)
{
    return RAND_bytes(out, (int)len) == 1 ? IH_OK : IH_EIO;
}

ih_status crypto_uuid4(char out[CRYPTO_UUID_STRLEN + 1])
{
    unsigned char b[16];
    if (crypto_random(b, sizeof(b)) != IH_OK)
        return IH_EIO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char hex[33];
    crypto_hex(b, 16, hex);
    snprintf(out, CRYPTO_UUID_STRLEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    return IH_OK;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_wipe(void *p, size_t len)
{
    /* glibc's explicit_bzero: memset's speed (OPENSSL_cleanse stores 8 bytes a turn), and
     * a store the compiler may not drop */
    explicit_bzero(p, len);
}
