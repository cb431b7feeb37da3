#include "issuerhook/apikey.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/scope.h"

/* What may follow the scopes: nothing, or "subject=<DN>" to the end of the line. */
static ih_status apikey_parse_subject(const char *rest, struct apikey *out, char *err, size_t errlen)
{
    rest += strspn(rest, " \t");
    if (*rest == '\0')
        return IH_OK;
    if (strncmp(rest, "subject=", 8) != 0) {
        snprintf(err, errlen, "after the scopes only 'subject=<DN>' may follow");
        return IH_EINVAL;
    }
    const char *dn = rest + 8;
    size_t dl = strlen(dn);
    while (dl && (dn[dl - 1] == ' ' || dn[dl - 1] == '\t'))
        dl--;
    if (dl == 0 || dl >= sizeof(out->subject) || !memchr(dn, '=', dl)) {
        snprintf(err, errlen, "subject= needs a DN such as CN=amiko-prod,O=Amiko (at most %d characters)",
                 APIKEY_SUBJECT_MAX - 1);
        return IH_EINVAL;
    }
    memcpy(out->subject, dn, dl);
    out->subject[dl] = '\0';
    return IH_OK;
}

ih_status apikey_parse(const char *name, const char *value, struct apikey *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t nl = strlen(name);
    if (nl == 0 || nl >= APIKEY_NAME_MAX) {
        snprintf(err, errlen, "the key name must have 1 to %d characters", APIKEY_NAME_MAX - 1);
        return IH_EINVAL;
    }
    memcpy(out->name, name, nl + 1);
    if (strncmp(value, "sha256:", 7) != 0) {
        snprintf(err, errlen, "expected 'sha256:<64 hex digits> <scopes>'");
        return IH_EINVAL;
    }
    const char *hex = value + 7;
    char hexbuf[65];
    size_t hl = strcspn(hex, " \t");
    if (hl != 64) {
        snprintf(err, errlen, "the hash must be 64 hex digits");
        return IH_EINVAL;
    }
    memcpy(hexbuf, hex, 64);
    hexbuf[64] = '\0';
    if (!crypto_unhex(hexbuf, out->hash, sizeof(out->hash))) {
        snprintf(err, errlen, "the hash must be 64 hex digits");
        return IH_EINVAL;
    }
    const char *sc = hex + 64;
    while (*sc == ' ' || *sc == '\t')
        sc++;
    if (*sc == '\0') {
        snprintf(err, errlen, "no scopes after the hash");
        return IH_EINVAL;
    }
    char bad[80], scopes[256];
    size_t sl = strcspn(sc, " \t");
    if (sl >= sizeof(scopes)) {
        snprintf(err, errlen, "the scope list is too long");
        return IH_EINVAL;
    }
    memcpy(scopes, sc, sl);
    scopes[sl] = '\0';
    if (apikey_parse_subject(sc + sl, out, err, errlen) != IH_OK)
        return IH_EINVAL;
    if (!scope_parse_list(scopes, ",", false, &out->scopes, bad, sizeof(bad))) {
        char names[256];
        scope_names(names, sizeof(names));
        snprintf(err, errlen, "unknown scope '%s' (the scopes: %s)", bad, names);
        return IH_EINVAL;
    }
    if (out->scopes == 0) {
        snprintf(err, errlen, "no scopes after the hash");
        return IH_EINVAL;
    }
    return IH_OK;
}

ih_status apikey_set_add(struct apikey_set *set, const struct apikey *k)
{
    struct apikey *nk = realloc(set->keys, (set->n + 1) * sizeof(*nk));
    if (!nk)
        return IH_ENOMEM;
    nk[set->n++] = *k;
    set->keys = nk;
    return IH_OK;
}

void apikey_set_clear(struct apikey_set *set)
{
    if (set->keys)
        crypto_wipe(set->keys, set->n * sizeof(*set->keys));
    free(set->keys);
    set->keys = NULL;
    set->n = 0;
}

const struct apikey *apikey_find(const struct apikey_set *set, const char *presented, size_t len)
{
    unsigned char h[CRYPTO_SHA256_LEN];
    const struct apikey *found = NULL;
    crypto_sha256(presented, len, h);
    for (size_t i = 0; i < set->n; i++) {
        /* no early exit: the time does not depend on which key matched */
        bool eq = crypto_equal(h, set->keys[i].hash, sizeof(h));
        if (eq && !found)
            found = &set->keys[i];
    }
    crypto_wipe(h, sizeof(h));
    return found;
}

ih_status apikey_generate(const char *scopes, char *key, size_t keylen, char *value, size_t valuelen)
{
    unsigned char raw[32], h[CRYPTO_SHA256_LEN];
    unsigned char b64[64];
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    unsigned mask;
    char bad[80];
    if (!scope_parse_list(scopes, ",", false, &mask, bad, sizeof(bad)) || mask == 0)
        return IH_EINVAL;
    if (crypto_random(raw, sizeof(raw)) != IH_OK)
        return IH_EIO;
    int n = EVP_EncodeBlock(b64, raw, sizeof(raw)); /* 44 chars with one '=' */
    crypto_wipe(raw, sizeof(raw));
    /* make it URL- and shell-safe: base64url without padding */
    for (int i = 0; i < n; i++) {
        if (b64[i] == '+')
            b64[i] = '-';
        else if (b64[i] == '/')
            b64[i] = '_';
        else if (b64[i] == '=')
            b64[i] = '\0';
    }
    int kl = snprintf(key, keylen, "ihk_%s", (char *)b64);
    crypto_wipe(b64, sizeof(b64));
    if (kl < 0 || (size_t)kl >= keylen)
        return IH_ETOOBIG;
    crypto_sha256(key, (size_t)kl, h);
    crypto_hex(h, sizeof(h), hex);
    int vl = snprintf(value, valuelen, "sha256:%s %s", hex, scopes);
    return (vl < 0 || (size_t)vl >= valuelen) ? IH_ETOOBIG : IH_OK;
}
