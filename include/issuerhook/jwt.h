/* JWT bearer tokens (compact JWS, RFC 7515/7519): configured issuers and verification.
 *
 * Accepted: exactly three base64url parts without padding ('=' is refused, as are
 * whitespace, the '+' '/' alphabet and non-zero trailing bits), at most
 * JWT_MAX_TOKEN bytes; a JSON object header with "alg" and a JSON object claims set
 * (duplicate names refused). alg must be the issuer's configured one, exactly (names
 * are case-sensitive); "none" in any case is refused. A header with "crit" is refused
 * (no extension is understood); "jku", "x5u", "jwk" are ignored: keys come only from
 * the configuration.
 *
 * Claims: "exp" is required (a token without it is JWT_MALFORMED); the token is
 * accepted while now < exp + leeway and, when "nbf" is present, once now + leeway >= nbf.
 * Its lifetime is capped: exp - iat at most max_lifetime_s, or, without "iat",
 * exp - now at most max_lifetime_s + leeway (JWT_LIFETIME_TOO_LONG); an "iat" after
 * now + leeway is JWT_NOT_YET_VALID, one that is not a number JWT_MALFORMED.
 * "iss" must equal iss= when configured; "aud" (a string or an array of strings) must
 * hold aud= when configured. OpenSSL and jansson stay inside src/auth. */
#ifndef ISSUERHOOK_JWT_H
#define ISSUERHOOK_JWT_H

#include <stddef.h>
#include <stdint.h>
#include "issuerhook/status.h"

#define JWT_MAX_TOKEN 8192    /* bytes of the compact serialisation */
#define JWT_ISSUER_NAME_MAX 64 /* including the NUL */

/* One configured issuer. Immutable once parsed, except its JWKS cache (locked inside). */
struct jwt_issuer;

/* Parses ISSUERHOOK_JWT_<name>: space-separated alg=HS256|RS256|ES256, exactly one of
 * secret_file=PATH (HS256; the file's bytes, unmodified, are the secret: at least 32,
 * at most 4096; no newline is stripped), key=PATH (PEM SubjectPublicKeyInfo; RS256:
 * RSA of 2048 to 8192 bits; ES256: P-256), jwks=URL (RS256/ES256; https, or http to a
 * loopback host only), and optional iss=..., aud=... . Files are read now.
 * On success *out is the caller's (free with jwt_issuer_free). On error *out is NULL
 * and err names what is wrong (never the secret or a file's content). */
IH_MUST_CHECK ih_status jwt_issuer_parse(const char *name, const char *value, struct jwt_issuer **out,
                                         char *err, size_t errlen);
/* Wipes the secret and frees everything; NULL is fine. No jwt_verify may be running
 * on iss. */
void jwt_issuer_free(struct jwt_issuer *iss);
/* The configured name, valid as long as iss. */
const char *jwt_issuer_name(const struct jwt_issuer *iss);
/* Fetches the JWKS now (start-up), whatever the cache holds; IH_OK at once for
 * issuers without jwks=. IH_EIO when the set cannot be fetched or parsed. Otherwise
 * keys are fetched lazily by the first jwt_verify. */
IH_MUST_CHECK ih_status jwt_issuer_prefetch(struct jwt_issuer *iss);

enum jwt_result {
    JWT_OK,
    JWT_MALFORMED,
    JWT_ALG_REFUSED, /* none, or not the issuer's configured alg */
    JWT_BAD_SIGNATURE,
    JWT_EXPIRED,
    JWT_NOT_YET_VALID,
    JWT_LIFETIME_TOO_LONG, /* exp too far after iat (or now) */
    JWT_WRONG_ISSUER,
    JWT_WRONG_AUDIENCE,
    JWT_UNKNOWN_KEY,     /* kid not in JWKS after refetch */
    JWT_KEYS_UNAVAILABLE /* JWKS could not be fetched */
};

/* Short static text for logs/401 detail; never token content. */
const char *jwt_result_str(enum jwt_result r);

struct jwt_principal {
    char subject[128];   /* "sub", or empty */
    char client_id[128]; /* "client_id", else "azp", or empty */
    unsigned scopes;     /* enum scope bits */
    const struct jwt_issuer *issuer; /* the issuer that verified the token; not owned */
};

/* Verifies token (len bytes, need not be NUL-terminated) against the configured
 * issuers. The token's "iss" picks the issuers whose iss= equals it; when none does,
 * the issuers without iss= are tried in order (none left: JWT_WRONG_ISSUER). When
 * several are tried and all fail, the answer is the failure that got furthest
 * (claims > keys > signature > alg). now_s: current unix time; leeway_s applies to
 * exp, nbf and iat; max_lifetime_s caps exp - iat (see above). Scopes from "scope" (space-separated string) and "scp" (array of
 * strings, or a string), unknown names ignored. A token longer than 8 KiB, a sub or
 * client_id of 128 bytes or more: JWT_MALFORMED. *out is filled only on JWT_OK
 * (zeroed otherwise). May block up to about 5 s fetching a JWKS. Thread-safe. */
enum jwt_result jwt_verify(struct jwt_issuer *const *issuers, size_t n, const char *token, size_t len,
                           int64_t now_s, unsigned leeway_s, unsigned max_lifetime_s, struct jwt_principal *out);

#endif
