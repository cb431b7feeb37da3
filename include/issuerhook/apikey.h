/* API keys: configured only as SHA-256 hashes with a name and scopes.
 * Value form: "sha256:<64 hex> scope1,scope2[ subject=<DN>]": with a subject, the key is
 * accepted only over TLS with a verified client certificate of that subject (RFC 4514,
 * e.g. "subject=CN=amiko-prod,O=Amiko"; the DN is the rest of the line). */
#ifndef ISSUERHOOK_APIKEY_H
#define ISSUERHOOK_APIKEY_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/crypto.h"
#include "issuerhook/status.h"

#define APIKEY_NAME_MAX 64
#define APIKEY_SUBJECT_MAX 256

struct apikey {
    char name[APIKEY_NAME_MAX];
    unsigned char hash[CRYPTO_SHA256_LEN];
    unsigned scopes;
    char subject[APIKEY_SUBJECT_MAX]; /* "" when any connection may carry the key */
};

struct apikey_set {
    struct apikey *keys; /* owned */
    size_t n;
};

/* Parses one configured key. On error err names what is wrong (never the value). */
IH_MUST_CHECK ih_status apikey_parse(const char *name, const char *value, struct apikey *out,
                                     char *err, size_t errlen);
/* Appends a copy of k. */
IH_MUST_CHECK ih_status apikey_set_add(struct apikey_set *set, const struct apikey *k);
void apikey_set_clear(struct apikey_set *set);

/* The key whose hash matches the presented secret, or NULL. Every configured key is
 * compared, in constant time, whatever matches first. */
const struct apikey *apikey_find(const struct apikey_set *set, const char *presented, size_t len);

/* Mints a new random key for keygen: key (printable, caller buffer >= 64 bytes) and the
 * configuration value ("sha256:<hex> scopes", caller buffer >= 256 bytes). */
IH_MUST_CHECK ih_status apikey_generate(const char *scopes, char *key, size_t keylen, char *value,
                                        size_t valuelen);

#endif
