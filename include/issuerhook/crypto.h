/* Thin wrappers over OpenSSL for the few primitives the daemon uses. */
#ifndef ISSUERHOOK_CRYPTO_H
#define ISSUERHOOK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_UUID_STRLEN 36

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN]);
/* SHA-256 of n pieces one after the other, as if they were one buffer; IH_ENOMEM when
 * OpenSSL cannot get the memory for it. */
struct crypto_piece {
    const void *p;
    size_t len;
};
IH_MUST_CHECK ih_status crypto_sha256_pieces(const struct crypto_piece *pieces, size_t n, unsigned char out[CRYPTO_SHA256_LEN]);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void crypto_hex(const unsigned char *in, size_t len, char *out);
/* Parses exactly 2*len hex digits into out. */
bool crypto_unhex(const char *hex, unsigned char *out, size_t len);
IH_MUST_CHECK ih_status crypto_random(void *out, size_t len);
/* A random (version 4) UUID, lower case, into out (37 bytes). */
IH_MUST_CHECK ih_status crypto_uuid4(char out[CRYPTO_UUID_STRLEN + 1]);
/* Constant-time equality of two equally long buffers. */
bool crypto_equal(const void *a, const void *b, size_t len);
/* Wipes a secret so the compiler cannot drop the store. */
void crypto_wipe(void *p, size_t len);
/* realloc for a buffer that may hold card data: a new block of cap bytes with the first used
 * bytes of old (may be NULL) copied, and old wiped and freed, where realloc could leave a
 * copy behind. NULL when memory is short; old is then left as it was. */
void *crypto_grow_wiped(void *old, size_t used, size_t cap);

#endif
