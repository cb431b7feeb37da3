#include "issuerhook/tls.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/crypto.h"

#define CHAIN_MAX 8
#define PEER_CHAIN_MAX 8
#define FILE_MAX (1u << 20)

struct generation {
    gnutls_pcert_st chain[CHAIN_MAX];
    unsigned nchain;
    gnutls_privkey_t key;
    gnutls_x509_trust_list_t ca; /* NULL: no client certificates */
    unsigned number;
    struct generation *older;
};

struct tls {
    _Atomic(struct generation *) cur;
    pthread_mutex_t reload; /* one reload at a time */
    unsigned generations;
};

/* Reads a whole file (at most FILE_MAX bytes); the caller wipes and frees d->data. */
static ih_status read_all(const char *what, const char *path, gnutls_datum_t *d, char *err, size_t errlen)
{
    d->data = NULL;
    d->size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return IH_EIO;
    }
    unsigned char *buf = malloc(FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
    bool failed = !buf || ferror(f);
    fclose(f);
    if (failed || n == 0 || n > FILE_MAX) {
        if (buf)
            crypto_wipe(buf, n);
        free(buf);
        snprintf(err, errlen, "%s %s: %s", what, path, failed ? "cannot be read" : n ? "larger than 1 MiB" : "empty");
        return IH_EINVAL;
    }
    buf[n] = '\0';
    d->data = buf;
    d->size = (unsigned)n;
    return IH_OK;
}

static void datum_drop(gnutls_datum_t *d)
{
    if (d->data)
        crypto_wipe(d->data, d->size);
    free(d->data);
    d->data = NULL;
}

static void generation_free(struct generation *g)
{
    if (!g)
        return;
    for (unsigned i = 0; i < g->nchain; i++)
        gnutls_pcert_deinit(&g->chain[i]);
    if (g->key)
        gnutls_privkey_deinit(g->key);
    if (g->ca)
        gnutls_x509_trust_list_deinit(g->ca, 1);
    free(g);
}

/* The key belongs to the chain's first certificate. */
static bool key_matches(struct generation *g)
{
    gnutls_pubkey_t pub = NULL;
    unsigned char a[64], b[64];
    size_t al = sizeof(a), bl = sizeof(b);
    bool ok = gnutls_pubkey_init(&pub) == 0 && gnutls_pubkey_import_privkey(pub, g->key, 0, 0) == 0 &&
              gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &al) == 0 &&
              gnutls_pubkey_get_key_id(g->chain[0].pubkey, GNUTLS_KEYID_USE_SHA256, b, &bl) == 0 && al == bl &&
              memcmp(a, b, al) == 0;
    if (pub)
        gnutls_pubkey_deinit(pub);
    return ok;
}

static ih_status load_chain(struct generation *g, const struct tls_files *f, char *err, size_t errlen)
{
    gnutls_datum_t d;
    ih_status rc = read_all("ISSUERHOOK_TLS_CERT", f->cert, &d, err, errlen);
    if (rc != IH_OK)
        return rc;
    g->nchain = CHAIN_MAX;
    int e = gnutls_pcert_list_import_x509_raw(g->chain, &g->nchain, &d, GNUTLS_X509_FMT_PEM, 0);
    datum_drop(&d);
    if (e < 0) {
        g->nchain = 0;
        snprintf(err, errlen, "ISSUERHOOK_TLS_CERT %s: %s (PEM certificates, leaf first, at most %d)", f->cert,
                 gnutls_strerror(e), CHAIN_MAX);
        return IH_EINVAL;
    }
    if ((rc = read_all("ISSUERHOOK_TLS_KEY", f->key, &d, err, errlen)) != IH_OK)
        return rc;
    e = gnutls_privkey_init(&g->key);
    if (e == 0)
        e = gnutls_privkey_import_x509_raw(g->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
    datum_drop(&d);
    if (e < 0) {
        snprintf(err, errlen, "ISSUERHOOK_TLS_KEY %s: %s (an unencrypted PEM private key)", f->key, gnutls_strerror(e));
        return IH_EINVAL;
    }
    if (!key_matches(g)) {
        snprintf(err, errlen, "ISSUERHOOK_TLS_KEY %s is not the key of the certificate in %s", f->key, f->cert);
        return IH_EINVAL;
    }
    return IH_OK;
}

static ih_status load_ca(struct generation *g, const char *path, char *err, size_t errlen)
{
    gnutls_datum_t d;
    ih_status rc = read_all("ISSUERHOOK_TLS_CLIENT_CA", path, &d, err, errlen);
    if (rc != IH_OK)
        return rc;
    int e = gnutls_x509_trust_list_init(&g->ca, 0);
    if (e == 0)
        e = gnutls_x509_trust_list_add_trust_mem(g->ca, &d, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
    datum_drop(&d);
    if (e <= 0) {
        snprintf(err, errlen, "ISSUERHOOK_TLS_CLIENT_CA %s: %s", path,
                 e == 0 ? "no certificate in the file" : gnutls_strerror(e));
        return IH_EINVAL;
    }
    return IH_OK;
}

static ih_status load(const struct tls_files *f, unsigned number, struct generation **out, char *err, size_t errlen)
{
    struct generation *g = calloc(1, sizeof(*g));
    if (!g)
        return IH_ENOMEM;
    g->number = number;
    ih_status rc = load_chain(g, f, err, errlen);
    if (rc == IH_OK && f->client_ca && f->client_ca[0])
        rc = load_ca(g, f->client_ca, err, errlen);
    if (rc != IH_OK) {
        generation_free(g);
        return rc;
    }
    *out = g;
    return IH_OK;
}

ih_status tls_new(const struct tls_files *f, const char *priorities, struct tls **out, char *err, size_t errlen)
{
    gnutls_priority_t prio;
    const char *where = NULL;
    int e = gnutls_priority_init(&prio, priorities, &where);
    if (e < 0) {
        snprintf(err, errlen, "ISSUERHOOK_TLS_PRIORITIES: %s at \"%.40s\"", gnutls_strerror(e), where ? where : "");
        return IH_EINVAL;
    }
    gnutls_priority_deinit(prio);
    struct tls *t = calloc(1, sizeof(*t));
    struct generation *g = NULL;
    if (!t)
        return IH_ENOMEM;
    ih_status rc = load(f, 1, &g, err, errlen);
    if (rc != IH_OK) {
        free(t);
        return rc;
    }
    atomic_store(&t->cur, g);
    t->generations = 1;
    pthread_mutex_init(&t->reload, NULL);
    *out = t;
    return IH_OK;
}

ih_status tls_reload(struct tls *t, const struct tls_files *f, char *err, size_t errlen)
{
    pthread_mutex_lock(&t->reload);
    struct generation *g = NULL, *cur = atomic_load(&t->cur);
    ih_status rc = IH_EBUSY;
    if (t->generations >= TLS_MAX_GENERATIONS)
        snprintf(err, errlen, "%d TLS reloads in one run: restart the daemon to reload again", TLS_MAX_GENERATIONS);
    else if ((rc = load(f, cur->number + 1, &g, err, errlen)) == IH_OK) {
        g->older = cur; /* kept: a handshake may still use it */
        atomic_store(&t->cur, g);
        t->generations++;
    }
    pthread_mutex_unlock(&t->reload);
    return rc;
}

void tls_free(struct tls *t)
{
    if (!t)
        return;
    for (struct generation *g = atomic_load(&t->cur), *next; g; g = next) {
        next = g->older;
        generation_free(g);
    }
    pthread_mutex_destroy(&t->reload);
    free(t);
}

int tls_select(struct tls *t, gnutls_session_t session, gnutls_pcert_st **pcert, unsigned int *pcert_length,
               gnutls_privkey_t *privkey)
{
    struct generation *g = atomic_load(&t->cur);
    if (g->ca) {
        /* asked for, not required: a route decides; no CA names sent, so a client
         * sends its certificate whatever CA this generation trusts */
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
        gnutls_certificate_send_x509_rdn_sequence(session, 1);
    }
    *pcert = g->chain;
    *pcert_length = g->nchain;
    *privkey = g->key;
    return 0;
}

unsigned tls_generation(struct tls *t)
{
    return atomic_load(&t->cur)->number;
}

static void describe(unsigned status, char *why, size_t n)
{
    const char *w = status & GNUTLS_CERT_EXPIRED           ? "the client certificate has expired"
                    : status & GNUTLS_CERT_NOT_ACTIVATED   ? "the client certificate is not valid yet"
                    : status & GNUTLS_CERT_REVOKED         ? "the client certificate is revoked"
                    : status & GNUTLS_CERT_SIGNER_NOT_FOUND ? "the client certificate is not issued by a trusted CA"
                    : status & GNUTLS_CERT_PURPOSE_MISMATCH ? "the client certificate is not for TLS client authentication"
                    : status & GNUTLS_CERT_INSECURE_ALGORITHM ? "the client certificate uses an insecure algorithm"
                                                              : "the client certificate does not verify";
    snprintf(why, n, "%s", w);
}

static void peer_subject(gnutls_x509_crt_t leaf, struct tls_verdict *out)
{
    gnutls_datum_t dn = {NULL, 0};
    if (gnutls_x509_crt_get_dn3(leaf, &dn, 0) == 0 && dn.size < sizeof(out->subject)) {
        memcpy(out->subject, dn.data, dn.size);
        out->subject[dn.size] = '\0';
    }
    gnutls_free(dn.data);
}

void tls_verify_peer(struct tls *t, gnutls_session_t session, struct tls_verdict *out)
{
    struct generation *g = atomic_load(&t->cur);
    memset(out, 0, sizeof(*out));
    out->generation = g->number;
    unsigned n = 0;
    const gnutls_datum_t *raw = gnutls_certificate_get_peers(session, &n);
    if (!g->ca || !raw || n == 0)
        return; /* TLS_PEER_NONE */
    out->peer = TLS_PEER_UNTRUSTED;
    if (n > PEER_CHAIN_MAX) {
        snprintf(out->why, sizeof(out->why), "the client sent more than %d certificates", PEER_CHAIN_MAX);
        return;
    }
    gnutls_x509_crt_t crts[PEER_CHAIN_MAX];
    unsigned made = 0;
    bool readable = true;
    for (; made < n && readable; made++) {
        if (gnutls_x509_crt_init(&crts[made]) < 0) {
            readable = false;
            break; /* crts[made] was not made */
        }
        readable = gnutls_x509_crt_import(crts[made], &raw[made], GNUTLS_X509_FMT_DER) >= 0;
    }
    unsigned status = 0;
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (void *)GNUTLS_KP_TLS_WWW_CLIENT};
    if (!readable) {
        snprintf(out->why, sizeof(out->why), "the client certificate cannot be read");
    } else if (gnutls_x509_trust_list_verify_crt2(g->ca, crts, n, &purpose, 1, 0, &status, NULL) < 0 || status) {
        describe(status ? status : GNUTLS_CERT_INVALID, out->why, sizeof(out->why));
    } else {
        out->peer = TLS_PEER_TRUSTED;
        peer_subject(crts[0], out);
    }
    for (unsigned i = 0; i < made; i++)
        gnutls_x509_crt_deinit(crts[i]);
}
