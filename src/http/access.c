/* Who may call a route, decided from the headers and the TLS session before any body
 * byte is read, in this order: public /health and /metrics; the client address's
 * budget of failed authentications (429); a presented client certificate that does
 * not verify (401); the credential (401); the route's scope (403); the client
 * certificate subjects the route or the key requires (401 without one, 403 for
 * another); the caller's rate (429). Every refusal is in the route's dialect and
 * counted; failed authentications also spend the address's budget. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "issuerhook/apikey.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/metrics.h"
#include "issuerhook/ratelimit.h"
#include "issuerhook/request.h"
#include "issuerhook/response.h"
#include "issuerhook/subject.h"

static bool is_public(const struct request *r, const struct config *cfg)
{
    const struct route *rt = r->match.route;
    enum public_access a = rt->access == ACCESS_HEALTH    ? cfg->health_public
                           : rt->access == ACCESS_METRICS ? cfg->metrics_public
                                                          : PUBLIC_NONE;
    return a == PUBLIC_ALL || (a == PUBLIC_LOOPBACK && r->cx && r->cx->loopback);
}

/* The client certificate's verdict, checked once per connection and CA generation. */
static const struct tls_verdict *peer(struct request *r)
{
    struct server *s = r->srv;
    if (!s->tls || !r->cx)
        return NULL;
    if (!r->cx->verified || r->cx->tls.generation != tls_generation(s->tls)) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
            return NULL;
        tls_verify_peer(s->tls, (gnutls_session_t)ci->tls_session, &r->cx->tls);
        r->cx->verified = true;
    }
    return &r->cx->tls;
}

static void challenge(struct request *r, const struct config *cfg, bool bearer_tried, const char *why)
{
    char www[200];
    snprintf(www, sizeof(www), "APIKey realm=\"issuerhook\", header=\"%s\"", cfg->auth_header);
    request_add_header(r, "WWW-Authenticate", www);
    if (!cfg->nissuers)
        return;
    if (bearer_tried)
        snprintf(www, sizeof(www), "Bearer realm=\"issuerhook\", error=\"invalid_token\", error_description=\"%s\"",
                 why);
    else
        snprintf(www, sizeof(www), "Bearer realm=\"issuerhook\"");
    request_add_header(r, "WWW-Authenticate", www);
}

static bool too_many(struct request *r, unsigned retry, const char *label, enum metric_counter m, const char *why)
{
    char ra[16];
    snprintf(ra, sizeof(ra), "%u", retry);
    metrics_inc(m, label);
    respond_error(r, r->match.route->dialect, 429, "Too Many Requests", why, NULL);
    request_add_header(r, "Retry-After", ra);
    r->refusal = m == M_AUTH_FAILURES ? REFUSAL_UNAUTHENTICATED : REFUSAL_RATE;
    return false;
}

#define TOO_MANY_FAILURES "too many failed authentications from this address; retry after the given delay"

/* A 401: charged to the client address's failure budget, counted under reason. The
 * budget was only looked at before the credential (access_check): requests from one
 * address on several pool threads can all have seen its last token, so the one that
 * cannot take a token now answers 429 as if it had come a moment later. */
static bool unauthorized(struct request *r, const struct config *cfg, const char *reason, const char *why,
                         bool bearer_tried)
{
    unsigned retry = 1;
    if (!ratelimit_take(r->srv->failures, guard_conn_addr(r->cx ? r->cx->guard : NULL), r->received_ms, &retry))
        return too_many(r, retry, "too_many_failures", M_AUTH_FAILURES, TOO_MANY_FAILURES);
    metrics_inc(M_AUTH_FAILURES, reason);
    respond_error(r, r->match.route->dialect, 401, "Unauthorized", why, NULL);
    challenge(r, cfg, bearer_tried, why);
    r->refusal = REFUSAL_UNAUTHENTICATED;
    return false;
}

/* The credential: an API key in the configured header, else a bearer token. Sets
 * r->principal (NULL: none valid) and *scopes; false when it answered (503). */
static bool credential(struct request *r, const struct config *cfg, unsigned *scopes, const char **why,
                       bool *presented, bool *bearer_tried)
{
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, cfg->auth_header);
    const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    bool bearer = authz && strncasecmp(authz, "Bearer ", 7) == 0;
    *bearer_tried = bearer && !key;
    *presented = key || bearer;
    *why = key ? "the credential is not valid" : bearer ? "bearer tokens are not configured" : "a credential is required";
    if (key) {
        const struct apikey *k = apikey_find(&cfg->keys, key, strlen(key));
        if (k) {
            r->principal = k->name;
            r->key_subject = k->subject[0] ? k->subject : NULL;
            *scopes = k->scopes;
        }
        return true; /* an API key, when sent, is what is judged (the token is not looked at) */
    }
    if (!bearer || !cfg->nissuers)
        return true;
    const char *tok = authz + 7;
    while (*tok == ' ')
        tok++;
    struct jwt_principal p;
    enum jwt_result jr =
        jwt_verify(cfg->issuers, cfg->nissuers, tok, strlen(tok), r->received_ms / 1000, cfg->jwt_leeway_s,
                   cfg->jwt_max_lifetime_s, &p);
    if (jr == JWT_OK) {
        snprintf(r->principal_buf, sizeof(r->principal_buf), "jwt:%s/%s", jwt_issuer_name(p.issuer),
                 p.client_id[0] ? p.client_id : p.subject);
        r->principal = r->principal_buf;
        *scopes = p.scopes;
    } else if (jr == JWT_KEYS_UNAVAILABLE) {
        /* the issuer's key server is down: not the caller's fault, retry later */
        metrics_inc(M_AUTH_FAILURES, "keys_unavailable");
        respond_unavailable_because(r, r->match.route->dialect, cfg->retry_after_s,
                                    "the token issuer's keys cannot be fetched right now; retry later");
        return false;
    }
    *why = jwt_result_str(jr);
    return true;
}

/* The subjects the route's scope and the key require of the client certificate. */
static bool subjects(struct request *r, const struct config *cfg, const struct tls_verdict *v, bool bearer_tried)
{
    const struct route *rt = r->match.route;
    bool by_route = rt->access == ACCESS_SCOPED && subject_required(cfg->subject_rules, cfg->nsubject_rules, rt->scope);
    if (!by_route && !r->key_subject)
        return true;
    const char *dn = v && v->peer == TLS_PEER_TRUSTED ? v->subject : NULL;
    if (!dn)
        return unauthorized(r, cfg, "client_cert_missing",
                            r->key_subject ? "this credential is accepted only with a client certificate"
                                           : "this route needs a client certificate",
                            bearer_tried);
    if ((by_route && !subject_allowed(cfg->subject_rules, cfg->nsubject_rules, rt->scope, dn)) ||
        (r->key_subject && strcmp(r->key_subject, dn) != 0)) {
        metrics_inc(M_AUTH_FAILURES, "client_cert_subject");
        respond_error(r, rt->dialect, 403, "Forbidden",
                      "the client certificate's subject is not one this route or credential accepts", NULL);
        return false;
    }
    return true;
}

bool access_check(struct request *r)
{
    const struct config *cfg = atomic_load(&r->srv->credentials);
    const struct route *rt = r->match.route;
    if (is_public(r, cfg))
        return true;
    unsigned retry = 1, scopes = 0;
    const char *addr = guard_conn_addr(r->cx ? r->cx->guard : NULL);
    if (!ratelimit_peek(r->srv->failures, addr, r->received_ms, &retry))
        return too_many(r, retry, "too_many_failures", M_AUTH_FAILURES, TOO_MANY_FAILURES);
    const struct tls_verdict *v = peer(r);
    if (v && v->peer == TLS_PEER_UNTRUSTED)
        return unauthorized(r, cfg, "client_cert_untrusted", v->why, false);
    const char *why;
    bool presented, bearer_tried;
    if (!credential(r, cfg, &scopes, &why, &presented, &bearer_tried))
        return false;
    if (!r->principal)
        return unauthorized(r, cfg, presented ? "invalid" : "missing", why, bearer_tried);
    if (rt->access == ACCESS_SCOPED && (scopes & rt->scope) != rt->scope) {
        metrics_inc(M_AUTH_FAILURES, "scope");
        respond_error(r, rt->dialect, 403, "Forbidden", "the credential lacks the scope this route needs", NULL);
        if (bearer_tried) /* RFC 6750: a token without the scope */
            request_add_header(r, "WWW-Authenticate", "Bearer realm=\"issuerhook\", error=\"insufficient_scope\"");
        return false;
    }
    if (!subjects(r, cfg, v, bearer_tried))
        return false;
    if (rt->access == ACCESS_SCOPED && !ratelimit_take(r->srv->app->ratelimit, r->principal, r->received_ms, &retry)) {
        request_note(r, "rate_limited");
        return too_many(r, retry, rt->pattern, M_RATE_LIMITED,
                        "this caller sends more requests than ISSUERHOOK_RATE_LIMIT allows; retry after the given delay");
    }
    return true;
}
