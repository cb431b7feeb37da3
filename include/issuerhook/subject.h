/* Client-certificate subjects required by scope: ISSUERHOOK_CLIENT_SUBJECT_<NAME>
 * = "<scope>[,<scope>...] <subject DN>". A route that needs one of the scopes then takes
 * requests only over TLS with a client certificate that verifies against
 * ISSUERHOOK_TLS_CLIENT_CA and whose subject (RFC 4514, as
 * `openssl x509 -noout -subject -nameopt RFC2253` prints it) is one of the rules'
 * subjects for that scope. (An API key can require a subject of its own: apikey.h.) */
#ifndef ISSUERHOOK_SUBJECT_H
#define ISSUERHOOK_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include "issuerhook/status.h"

#define SUBJECT_MAX 256
#define SUBJECT_NAME_MAX 64

struct subject_rule {
    char name[SUBJECT_NAME_MAX];
    unsigned scopes;
    char subject[SUBJECT_MAX];
};

/* Parses one rule. On error err says what is wrong. */
IH_MUST_CHECK ih_status subject_rule_parse(const char *name, const char *value, struct subject_rule *out, char *err,
                                           size_t errlen);
/* Whether some rule covers scope (a route's scope bit). */
bool subject_required(const struct subject_rule *rules, size_t n, unsigned scope);
/* Whether dn (NULL: no trusted certificate) satisfies the rules covering scope. */
bool subject_allowed(const struct subject_rule *rules, size_t n, unsigned scope, const char *dn);

#endif
