/* Private to src/auth/jwt.c and src/auth/jwks.c (and their unit tests): the issuer
 * record, the JWKS cache and the primitives both files share. */
#ifndef ISSUERHOOK_JWT_INTERNAL_H
#define ISSUERHOOK_JWT_INTERNAL_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "issuerhook/jwt.h"

#define JWT_SECRET_MIN 32
#define JWT_SECRET_MAX 4096
#define JWT_KID_MAX 256          /* bytes of a "kid", header or JWKS */
#define JWT_RSA_MIN_BITS 2048
#define JWT_RSA_MAX_BITS 8192
#define JWT_MAX_SIG (JWT_RSA_MAX_BITS / 8)

enum jwt_alg { JWT_HS256, JWT_RS256, JWT_ES256 };

struct jwks; /* one issuer's key set cache, jwks.c */

struct jwt_issuer {
    char name[JWT_ISSUER_NAME_MAX];
    enum jwt_alg alg;
    unsigned char *secret; /* HS256: owned, wiped on free */
    size_t secret_len;
    EVP_PKEY *key;         /* key=: owned */
    struct jwks *jwks;     /* jwks=: owned */
    char *iss, *aud;       /* owned; NULL when not configured */
};

/* "HS256", "RS256", "ES256". */
const char *jwt_alg_name(enum jwt_alg alg);

/* Strict base64url (RFC 7515 section 2): [A-Za-z0-9_-] only, no padding, no
 * whitespace, length mod 4 != 1, unused trailing bits zero. Decodes len chars into out
 * (cap bytes); false when the input is not canonical base64url or does not fit. */
bool jwt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen);

/* pkey is a key alg may use: RSA of JWT_RSA_MIN_BITS..JWT_RSA_MAX_BITS bits for RS256,
 * an EC key on P-256 for ES256. */
bool jwt_key_fits(EVP_PKEY *pkey, enum jwt_alg alg);

/* Checks sig over input (the ASCII "header.payload"): HS256 with secret (pkey unused),
 * RS256/ES256 with pkey (secret unused; ES256 sig is the 64-byte JOSE R||S). */
bool jwt_sig_check(enum jwt_alg alg, const unsigned char *secret, size_t secret_len, EVP_PKEY *pkey,
                   const char *input, size_t input_len, const unsigned char *sig, size_t sig_len);

/* ---- jwks.c ---- */

#define JWKS_MAX_BYTES (256 * 1024) /* response ceiling */
#define JWKS_MAX_KEYS 32            /* usable keys kept from one set */
#define JWKS_TIMEOUT_MS 5000L
#define JWKS_REFETCH_S 60           /* at most one fetch per minute once a set is held */
#define JWKS_RETRY_FIRST_MS 1000    /* none held: background retries, 1 s after a failure, */
#define JWKS_RETRY_MAX_MS 60000     /* doubling up to a minute */
#define JWKS_MAX_AGE_S 3600         /* a held set is refreshed on use after an hour */

/* A cache for url, keeping only keys usable with alg. url must be https://, or
 * http:// to 127.0.0.1, [::1] or localhost. NULL with err set on a bad URL or ENOMEM.
 * issuer_name is copied for logs. Caller owns the result. */
struct jwks *jwks_new(const char *issuer_name, const char *url, enum jwt_alg alg, char *err, size_t errlen);
/* Stops the background retries (cutting a fetch in flight) and frees j. */
void jwks_free(struct jwks *j);

/* Fetches now, whatever the rate limit (after waiting for a fetch in progress).
 * IH_EIO on failure (logged; with no set held, the background retries start). */
ih_status jwks_prefetch(struct jwks *j);

/* The held keys that may have signed a token with this kid: those with that kid and
 * those without one (kid NULL: every held key). Fetches the set first when none has
 * been tried yet or the held one is older than JWKS_MAX_AGE_S, and refetches when no
 * key matches, at most once per JWKS_REFETCH_S. While no set is held after a failed
 * fetch, a background thread retries (jwks_retry_delay_ms after each failure); this
 * call then answers JWT_KEYS_UNAVAILABLE without waiting, and makes the next retry
 * come at most JWKS_RETRY_FIRST_MS after the last. JWT_OK with 1..cap keys in keys[]
 * (each up-ref'd: the caller EVP_PKEY_free()s them), JWT_UNKNOWN_KEY, or
 * JWT_KEYS_UNAVAILABLE when the fetch this call needed failed (or none is held yet). A
 * failed refresh keeps the held set. Thread-safe; no lock is held during the HTTP
 * fetch; concurrent callers share one fetch. */
enum jwt_result jwks_lookup(struct jwks *j, const char *kid, EVP_PKEY **keys, size_t cap, size_t *n);

/* The background retry delay after the given number of failed fetches in a row (>= 1):
 * JWKS_RETRY_FIRST_MS, doubled after each, at most JWKS_RETRY_MAX_MS. */
int64_t jwks_retry_delay_ms(unsigned failures);

/* Tests: replaces the monotonic seconds clock used for the rate limit and the age (the
 * background retries keep real time). */
void jwks_set_clock(struct jwks *j, int64_t (*clock_s)(void));

/* One parsed JWK Set: the keys usable with the issuer's alg, in document order. */
struct jwks_keyset {
    size_t n;
    EVP_PKEY *keys[JWKS_MAX_KEYS];            /* owned */
    char kids[JWKS_MAX_KEYS][JWT_KID_MAX + 1]; /* "" when the key had no kid */
    bool has_kid[JWKS_MAX_KEYS];
};

/* Parses a JWK Set document: keeps RSA (n, e) keys for RS256 and EC P-256 (x, y) keys
 * for ES256; a key whose "use" is not "sig", whose "alg" is not alg, whose "key_ops"
 * lacks "verify", or that is malformed or too weak, is skipped. IH_EINVAL when the
 * document is not a JWK Set, IH_ENOMEM. On IH_OK *out is the caller's (it may hold
 * no key). */
ih_status jwks_parse(const char *json, size_t len, enum jwt_alg alg, struct jwks_keyset **out);
void jwks_keyset_free(struct jwks_keyset *s);

#endif
