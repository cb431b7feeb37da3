/* TLS for the HTTP server, with GnuTLS (what libmicrohttpd serves TLS with): the
 * server's certificate chain and key, and optionally a client CA for mutual TLS.
 * All three are loaded together into one generation and swapped whole on reload, so a
 * handshake never sees a new certificate with an old key. Connections already open
 * keep their session; old generations stay allocated until tls_free (a handshake in
 * progress may still hold one). Client certificates are requested (never required at
 * the TLS level) and verified here against the current generation's CA, so that a
 * missing or bad certificate is refused per route, in the route's dialect. Only the
 * HTTP layer includes this header. */
#ifndef ISSUERHOOK_TLS_H
#define ISSUERHOOK_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"

#define TLS_SUBJECT_MAX 256
#define TLS_MAX_GENERATIONS 64

struct tls;

struct tls_files {
    const char *cert, *key; /* PEM: the chain (leaf first) and its private key */
    const char *client_ca;  /* PEM bundle; "" for no client certificates */
};

enum tls_peer { TLS_PEER_NONE, TLS_PEER_TRUSTED, TLS_PEER_UNTRUSTED };

struct tls_verdict {
    enum tls_peer peer;
    unsigned generation;             /* of the CA it was checked against */
    char subject[TLS_SUBJECT_MAX];   /* RFC 4514, e.g. "CN=amiko-prod,O=Amiko" ("" if none) */
    char why[128];                   /* for TLS_PEER_UNTRUSTED: expired, unknown issuer, ... */
};

/* Loads f and checks priorities (a GnuTLS priority string, given to libmicrohttpd).
 * err names the file and what is wrong with it. Caller owns *out. */
IH_MUST_CHECK ih_status tls_new(const struct tls_files *f, const char *priorities, struct tls **out, char *err,
                                size_t errlen);
/* Loads f as the next generation; on error the current one stays and err says why. */
IH_MUST_CHECK ih_status tls_reload(struct tls *t, const struct tls_files *f, char *err, size_t errlen);
void tls_free(struct tls *t);

/* The gnutls_certificate_retrieve_function2 body: the current chain and key for
 * session, and a request for the client's certificate when a client CA is set. */
int tls_select(struct tls *t, gnutls_session_t session, gnutls_pcert_st **pcert, unsigned int *pcert_length,
               gnutls_privkey_t *privkey);
/* The current generation (changes on each reload). */
unsigned tls_generation(struct tls *t);
/* Verifies the certificate the peer of session presented against the current CA. */
void tls_verify_peer(struct tls *t, gnutls_session_t session, struct tls_verdict *out);

#endif
