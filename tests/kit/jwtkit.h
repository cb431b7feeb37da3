/* jwtkit: making JWTs for the tests (unit and integration). Keys generated for the
 * run, base64url, compact JWS tokens signed RS256 / ES256 / HS256, public JWKs and
 * JWK Sets, public keys as PEM.
 *
 * Test code only: it depends on OpenSSL 3 and jansson, never on cmocka, and nothing
 * here checks what it is given (a header may name another alg than the one used to
 * sign, an extra JWK member may be odd): tests make wrong tokens on purpose. No
 * function aborts; each reports failure (NULL, false) and the caller asserts. */
#ifndef IH_TEST_JWTKIT_H
#define IH_TEST_JWTKIT_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- keys ---- */

/* A new RSA key pair of 2048 bits. Caller owns it (EVP_PKEY_free); NULL on failure. */
EVP_PKEY *jk_rsa_key(void);
/* A new EC key pair on P-256. Caller owns it (EVP_PKEY_free); NULL on failure. */
EVP_PKEY *jk_ec_key(void);
/* "RS256" for an RSA key, "ES256" for an EC key, NULL for anything else. Static text. */
const char *jk_alg_of(EVP_PKEY *pk);

/* ---- base64url ---- */

/* Characters of the base64url encoding of n bytes (no padding), without the NUL. */
#define JK_B64URL_LEN(n) ((n) / 3 * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* base64url (RFC 4648 section 5, no padding) of len bytes of in into out, which the
 * caller provides with at least JK_B64URL_LEN(len) + 1 bytes; NUL-terminated.
 * Returns the number of characters written (without the NUL). */
size_t jk_b64url(const void *in, size_t len, char *out);

/* ---- tokens ---- */

/* The compact JWS base64url(header) "." base64url(claims) "." base64url(signature).
 * header and claims are used as given (any text; they need not be JSON, and the
 * header's "alg" need not be the one used). The signature, over the ASCII
 * "header.payload":
 *   pk an RSA key   RS256: RSASSA-PKCS1-v1_5 with SHA-256;
 *   pk an EC key    ES256: ECDSA with SHA-256, as the JOSE R||S (2 x 32 bytes on P-256);
 *   pk NULL         HS256: HMAC-SHA-256 keyed with the slen bytes of secret.
 * secret/slen are ignored when pk is set; pk is only borrowed.
 * Returns a new NUL-terminated string that the caller frees; NULL on failure. */
char *jk_token(EVP_PKEY *pk, const void *secret, size_t slen, const char *header, const char *claims);

/* jk_token with the header {"alg":"RS256"|"ES256" (jk_alg_of(pk))} and, kid not NULL,
 * "kid":kid (JSON-escaped). pk borrowed; caller frees the result; NULL on failure. */
char *jk_token_kid(EVP_PKEY *pk, const char *kid, const char *claims);

/* ---- keys as JWK, JWK Set, PEM ---- */

/* The public JWK of pk as compact JSON: {"kty":"RSA","n":..,"e":..} or
 * {"kty":"EC","crv":"P-256"|"P-384"|"P-521","x":..,"y":..}, then "kid":kid when kid
 * is not NULL, then extra appended verbatim before the closing brace: a fragment of
 * members starting with a comma (",\"use\":\"sig\""), or NULL / "" for none.
 * pk borrowed (its public half is used). Caller frees; NULL on failure (another key
 * type included). */
char *jk_jwk(EVP_PKEY *pk, const char *kid, const char *extra);

/* The JWK Set {"keys":[jk_jwk(keys[0], kids[0], extra), ...]} of n keys. kids may be
 * NULL (no key has a kid) or hold NULLs; extra as for jk_jwk, given to every key.
 * Keys borrowed. Caller frees; NULL on failure. */
char *jk_jwks(size_t n, EVP_PKEY *const *keys, const char *const *kids, const char *extra);

/* The PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") of pk, NUL-terminated;
 * *len (when len is not NULL) gets its length. pk borrowed. Caller frees; NULL on
 * failure. */
char *jk_pubkey_pem(EVP_PKEY *pk, size_t *len);

/* Writes len bytes of data to path, created or truncated, mode 0600. false on any
 * failure (the file may then be partly written). */
bool jk_write_file(const char *path, const void *data, size_t len);

/* Writes the public key of pk as PEM (jk_pubkey_pem) to path, mode 0600: the file a
 * key= issuer reads. pk borrowed. false on failure. */
bool jk_write_pubkey_pem(EVP_PKEY *pk, const char *path);

#endif
