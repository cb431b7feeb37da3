#include "issuerhook/config.h"
#include "issuerhook/envfile.h"
#include "issuerhook/jwt.h"
#include "issuerhook/subject.h"
#include "issuerhook/store.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "ISSUERHOOK_"
#define KEY_PREFIX PREFIX "API_KEY_"
#define JWT_PREFIX PREFIX "JWT_"
#define SUBJECT_PREFIX PREFIX "CLIENT_SUBJECT_"
#define MODERN_TLS "SECURE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:" \
                   "+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

enum ctype { C_STR, C_UINT, C_SIZE, C_BOOL, C_LISTEN, C_LEVEL, C_FORMAT, C_PUBLIC };

struct centry {
    const char *key; /* without ISSUERHOOK_ */
    enum ctype type;
    size_t off;      /* into struct config */
    size_t size;     /* for C_STR: buffer size */
    uint64_t min, max;
    const char *def;
    const char *doc;
};

#define F(m) offsetof(struct config, m)
#define S(m) sizeof(((struct config *)0)->m)

static const struct centry table[] = {
    {"LISTEN", C_LISTEN, 0, 0, 0, 0, "127.0.0.1:8080", "address to listen on, `HOST:PORT`"},
    {"DB", C_STR, F(db_path), S(db_path), 1, 0, "/var/lib/issuerhook/issuerhook.db",
     "the store: an SQLite database file (it and its folder are created when missing; a relative path is taken "
     "from the working directory at start, and the log says the absolute path), or a PostgreSQL database as a "
     "libpq URI (`postgresql://user@host/db?sslmode=verify-full`) or conninfo (`host=... dbname=...`), which "
     "several nodes may share; logs and `/health` show it without its password"},
    {"DB_PASSWORD_FILE", C_STR, F(db_password_file), S(db_password_file), 0, 0, "",
     "PostgreSQL: a file holding the database password alone on one line, read at each connection (a rotated "
     "password is used at the next one); empty: libpq's own (`PGPASSFILE`, `~/.pgpass`), or none"},
    {"MAX_BODY", C_SIZE, F(max_body), 0, 1024, 64ull << 20, "2MiB",
     "largest request body accepted (bytes, or with KiB/MiB); larger answers 413"},
    {"AUTH_HEADER", C_STR, F(auth_header), S(auth_header), 1, 0, "X-API-Key", "header that carries an API key"},
    {"LOG_LEVEL", C_LEVEL, 0, 0, 0, 0, "info", "`debug`, `info`, `warn` or `error`"},
    {"LOG_FORMAT", C_FORMAT, 0, 0, 0, 0, "json", "`json` (one object per line) or `text`"},
    {"THREADS", C_UINT, F(threads), 0, 1, 256, "4", "HTTP worker threads (libmicrohttpd thread pool)"},
    {"CONNECTION_LIMIT", C_UINT, F(connection_limit), 0, 1, 100000, "1024", "concurrent connections accepted"},
    {"CONNECTION_TIMEOUT", C_UINT, F(connection_timeout_s), 0, 1, 3600, "30",
     "seconds a connection may go without a byte in or out (e.g. a client that stops reading its answer)"},
    {"BUSY_TIMEOUT_MS", C_UINT, F(busy_timeout_ms), 0, 1, 600000, "5000",
     "how long a write waits for a locked database before the request answers 503"},
    {"BATCH_MAX", C_UINT, F(batch_max), 0, 1, 100000, "1024", "most writes committed in one transaction"},
    {"QUEUE_MAX", C_UINT, F(queue_max), 0, 1, 1000000, "10000",
     "most writes waiting for the writer; beyond it requests answer 503"},
    {"RETRY_AFTER", C_UINT, F(retry_after_s), 0, 1, 3600, "5", "seconds sent in `Retry-After` with a 503"},
    {"HEALTH_PUBLIC", C_PUBLIC, F(health_public), 0, 0, 0, "true",
     "`/health` needs no credential (`true`), any valid one (`false`), or none from a loopback address only "
     "(`loopback`)"},
    {"METRICS_PUBLIC", C_PUBLIC, F(metrics_public), 0, 0, 0, "true",
     "`/metrics` needs no credential (`true`), any valid one (`false`), or none from a loopback address only "
     "(`loopback`)"},
    {"DISK_WARN", C_SIZE, F(disk_warn_bytes), 0, 0, UINT64_MAX, "1GiB",
     "free space under the database below which health says `warn` (SQLite; a PostgreSQL server watches its own)"},
    {"DISK_FAIL", C_SIZE, F(disk_fail_bytes), 0, 0, UINT64_MAX, "64MiB",
     "free space under the database below which health says `fail` (SQLite)"},
    {"SHUTDOWN_GRACE", C_UINT, F(shutdown_grace_s), 0, 0, 3600, "20",
     "seconds SIGTERM waits for in-flight requests before exiting"},
    {"DB_MAX_BYTES", C_SIZE, F(db_max_bytes), 0, 0, UINT64_MAX, "0",
     "cap on the database size (0: none); writes past it answer 503 (SQLite)"},
    {"AMIKO_CALLBACK_URL", C_STR, F(callback_url), S(callback_url), 0, 0, "",
     "Booking Status Callback URL template with `{amikoBookingId}`; empty: callbacks wait in the outbox"},
    {"AMIKO_CALLBACK_AUTH", C_STR, F(callback_auth), S(callback_auth), 0, 0, "",
     "one header line sent with every callback, e.g. `X-API-Key: ...` (a secret: never logged)"},
    {"CALLBACK_CA_FILE", C_STR, F(callback_ca_file), S(callback_ca_file), 0, 0, "",
     "CA bundle to verify the callback server's TLS certificate (empty: the system's)"},
    {"CALLBACK_TIMEOUT_MS", C_UINT, F(callback_timeout_ms), 0, 100, 300000, "10000",
     "whole-attempt timeout; on a store shared by several nodes a callback being delivered is leased to its node "
     "for twice this (at least this plus 5 s), after which another node may take it over"},
    {"CALLBACK_CONNECT_TIMEOUT_MS", C_UINT, F(callback_connect_timeout_ms), 0, 100, 60000, "3000",
     "connection timeout of an attempt"},
    {"CALLBACK_MAX_ATTEMPTS", C_UINT, F(callback_max_attempts), 0, 1, 1000, "12",
     "attempts before a callback is parked as dead"},
    {"CALLBACK_BACKOFF_MS", C_UINT, F(callback_backoff_ms), 0, 10, 3600000, "1000",
     "delay after the first failure; doubled after each, with jitter"},
    {"CALLBACK_BACKOFF_MAX_MS", C_UINT, F(callback_backoff_max_ms), 0, 10, 86400000, "600000",
     "longest delay between two attempts"},
    {"CALLBACK_CONCURRENCY", C_UINT, F(callback_concurrency), 0, 1, 64, "8", "callbacks sent at once"},
    {"PAN_KEY_FILE", C_STR, F(pan_key_file), S(pan_key_file), 0, 0, "",
     "the PAN key: a file of 32 to 1024 random bytes, the HMAC key that tokenizes PANs and tax ids, readable by "
     "the daemon's user alone and outside the database's folder; empty: `pan.key` in `$CREDENTIALS_DIRECTORY` "
     "(systemd `LoadCredential=`), else `/run/secrets/pan.key` (Docker secret)"},
    {"PAN_KEY_PREVIOUS", C_STR, F(pan_key_previous), S(pan_key_previous), 0, 0, "",
     "earlier PAN keys after a rotation, comma-separated files (a bare name is looked up beside the current key): "
     "their tokens stay findable by PAN, and the database accepts the new key"},
    {"PAN_KEY_DEVELOPMENT", C_BOOL, F(pan_key_development), 0, 0, 0, "false",
     "`true`: tokenize with `pan.dev.key` beside the database, generated on first start (`make run`, tests); "
     "never in production"},
    {"RATE_LIMIT", C_UINT, F(rate_limit), 0, 0, 1000000, "1000",
     "requests per second each caller may make (token bucket; 0: no limit); over it: 429 with `Retry-After`"},
    {"JWT_LEEWAY", C_UINT, F(jwt_leeway_s), 0, 0, 600, "60",
     "seconds of clock skew allowed when checking a token's `exp` and `nbf`"},
    {"RATE_BURST", C_UINT, F(rate_burst), 0, 1, 10000000, "2000", "requests a caller may make at once above the rate"},
    {"FEED_PAGE_BYTES", C_SIZE, F(feed_page_bytes), 0, 1024, 1ull << 30, "8MiB",
     "item text in one feed page at most (a single larger event still goes out alone); the page then has "
     "`hasMore` and its watermark or next page goes on from there"},
    {"FEED_READS", C_UINT, F(feed_reads), 0, 1, 256, "4",
     "feed pages read at once at most; beyond it feed reads answer 503 with `Retry-After`"},
    {"JWT_MAX_LIFETIME", C_UINT, F(jwt_max_lifetime_s), 0, 60, 2592000, "86400",
     "longest lifetime, in seconds, of a bearer token: `exp` - `iat` (without `iat`, `exp` - now, plus the "
     "leeway); a longer-lived token is refused (401)"},
    {"HEADER_TIMEOUT", C_UINT, F(header_timeout_s), 0, 1, 3600, "10",
     "seconds for a request line and headers to arrive, from the connection's start or the previous answer "
     "(else the connection is closed)"},
    {"BODY_TIMEOUT", C_UINT, F(body_timeout_s), 0, 1, 3600, "10",
     "seconds for a body to arrive after its headers, plus one per `BODY_MIN_RATE` bytes received (else the "
     "connection is closed)"},
    {"BODY_MIN_RATE", C_SIZE, F(body_min_rate), 0, 1, 1ull << 30, "16KiB",
     "bytes per second a slow body must keep up to earn time beyond `BODY_TIMEOUT`"},
    {"PER_IP_CONNECTION_LIMIT", C_UINT, F(per_ip_connection_limit), 0, 0, 100000, "256",
     "connections one client address may hold open (0: no limit; behind a proxy, the proxy's)"},
    {"CONNECTION_RESERVE", C_UINT, F(connection_reserve), 0, 0, 100000, "64",
     "of `CONNECTION_LIMIT`, the last connections kept for addresses holding fewer than 16"},
    {"AUTH_FAILURE_RATE", C_UINT, F(auth_failure_rate), 0, 0, 100000, "1",
     "failed authentications per second one client address may make (token bucket; 0: no limit); over it "
     "its requests answer 429 with `Retry-After` before the credential is looked at"},
    {"AUTH_FAILURE_BURST", C_UINT, F(auth_failure_burst), 0, 1, 1000000, "20",
     "failed authentications an address may make at once above that rate"},
    {"TLS_CERT", C_STR, F(tls_cert), S(tls_cert), 0, 0, "",
     "PEM certificate chain (leaf first) to serve HTTPS with; empty: plain HTTP (loopback, or behind a "
     "TLS-terminating proxy)"},
    {"TLS_KEY", C_STR, F(tls_key), S(tls_key), 0, 0, "", "PEM private key of `TLS_CERT` (unencrypted; mode 0600)"},
    {"TLS_CLIENT_CA", C_STR, F(tls_client_ca), S(tls_client_ca), 0, 0, "",
     "PEM CA bundle for client certificates (mutual TLS): asked of every client, verified, and required where "
     "`CLIENT_SUBJECT_*` or a key's `subject=` says"},
    {"TLS_PRIORITIES", C_STR, F(tls_priorities), S(tls_priorities), 1, 0, MODERN_TLS,
     "GnuTLS priority string: TLS 1.2 and 1.3, AEAD ciphers, forward secrecy (restart to change)"},
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static bool parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"K", 10}, {"M", 20}, {"G", 30}};
    char num[32];
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n >= sizeof(num))
        return false;
    memcpy(num, s, n);
    num[n] = '\0';
    uint64_t v;
    if (!parse_u64(num, &v))
        return false;
    const char *suf = s + n;
    if (*suf == '\0') {
        *out = v;
        return true;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(suf, units[i].suffix) == 0) {
            if (v > (UINT64_MAX >> units[i].shift))
                return false;
            *out = v << units[i].shift;
            return true;
        }
    }
    return false;
}

/* true, 1, yes / false, 0, no. */
static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
        *out = false;
    else
        return false;
    return true;
}

static ih_status set_value(struct config *c, const struct centry *e, const char *v, char *why, size_t wl)
{
    char *base = (char *)c;
    uint64_t u;
    switch (e->type) {
    case C_STR: {
        size_t l = strlen(v);
        if (l < e->min || l >= e->size) {
            snprintf(why, wl, "must have %llu to %zu characters", (unsigned long long)e->min, e->size - 1);
            return IH_EINVAL;
        }
        memcpy(base + e->off, v, l + 1);
        return IH_OK;
    }
    case C_UINT:
    case C_SIZE:
        if (!(e->type == C_UINT ? parse_u64(v, &u) : parse_size(v, &u)) || u < e->min || u > e->max) {
            snprintf(why, wl, "must be %s from %llu to %llu", e->type == C_UINT ? "a whole number" : "a size",
                     (unsigned long long)e->min, (unsigned long long)e->max);
            return IH_EINVAL;
        }
        if (e->type == C_UINT)
            *(unsigned *)(base + e->off) = (unsigned)u;
        else
            *(uint64_t *)(base + e->off) = u;
        return IH_OK;
    case C_PUBLIC: {
        bool b;
        if (!strcmp(v, "loopback"))
            *(enum public_access *)(base + e->off) = PUBLIC_LOOPBACK;
        else if (parse_bool(v, &b))
            *(enum public_access *)(base + e->off) = b ? PUBLIC_ALL : PUBLIC_NONE;
        else {
            snprintf(why, wl, "must be true, false or loopback");
            return IH_EINVAL;
        }
        return IH_OK;
    }
    case C_BOOL:
        if (!parse_bool(v, (bool *)(base + e->off))) {
            snprintf(why, wl, "must be true or false");
            return IH_EINVAL;
        }
        return IH_OK;
    case C_LEVEL:
        if (!log_level_parse(v, &c->log_level)) {
            snprintf(why, wl, "must be debug, info, warn or error");
            return IH_EINVAL;
        }
        return IH_OK;
    case C_FORMAT:
        if (strcmp(v, "json") && strcmp(v, "text")) {
            snprintf(why, wl, "must be json or text");
            return IH_EINVAL;
        }
        c->log_json = strcmp(v, "json") == 0;
        return IH_OK;
    case C_LISTEN: {
        const char *colon = strrchr(v, ':');
        uint64_t port;
        size_t hl = colon ? (size_t)(colon - v) : 0;
        if (!colon || hl == 0 || hl >= sizeof(c->listen_host) || !parse_u64(colon + 1, &port) || port > 65535) {
            snprintf(why, wl, "must be HOST:PORT, e.g. 127.0.0.1:8080");
            return IH_EINVAL;
        }
        memcpy(c->listen_host, v, hl);
        c->listen_host[hl] = '\0';
        c->listen_port = (uint16_t)port;
        return IH_OK;
    }
    }
    return IH_EINVAL;
}

/* ISSUERHOOK_CLIENT_SUBJECT_<NAME>: the environment overrides the file's rule of that name. */
static ih_status apply_subject(struct config *c, const char *key, const char *val, const char *where, char *err,
                               size_t errlen)
{
    struct subject_rule r;
    char why[160];
    if (subject_rule_parse(key + strlen(SUBJECT_PREFIX), val, &r, why, sizeof(why)) != IH_OK) {
        snprintf(err, errlen, "%s (%s): %s", key, where, why);
        return IH_EINVAL;
    }
    for (size_t i = 0; i < c->nsubject_rules; i++) {
        if (strcmp(c->subject_rules[i].name, r.name) == 0) {
            c->subject_rules[i] = r;
            return IH_OK;
        }
    }
    struct subject_rule *n = realloc(c->subject_rules, (c->nsubject_rules + 1) * sizeof(*n));
    if (!n)
        return IH_ENOMEM;
    n[c->nsubject_rules++] = r;
    c->subject_rules = n;
    return IH_OK;
}

/* Applies one KEY=VALUE. where: "line 3 of FILE" or "the environment". */
static ih_status apply(struct config *c, const char *key, const char *val, const char *where, char *err,
                       size_t errlen)
{
    char why[160];
    if (strncmp(key, PREFIX, strlen(PREFIX)) != 0)
        return IH_OK; /* not ours (an env file may carry other variables) */
    for (size_t i = 0; i < NTABLE; i++) {
        if (strcmp(key + strlen(PREFIX), table[i].key) == 0) {
            if (set_value(c, &table[i], val, why, sizeof(why)) != IH_OK) {
                snprintf(err, errlen, "%s (%s): %s", key, where, why);
                return IH_EINVAL;
            }
            return IH_OK;
        }
    }
    if (strncmp(key, KEY_PREFIX, strlen(KEY_PREFIX)) == 0) {
        struct apikey k;
        const char *name = key + strlen(KEY_PREFIX);
        if (apikey_parse(name, val, &k, why, sizeof(why)) != IH_OK) {
            snprintf(err, errlen, "%s (%s): %s", key, where, why);
            return IH_EINVAL;
        }
        for (size_t i = 0; i < c->keys.n; i++) {
            if (strcmp(c->keys.keys[i].name, k.name) == 0) { /* env overrides file */
                c->keys.keys[i] = k;
                return IH_OK;
            }
        }
        return apikey_set_add(&c->keys, &k);
    }
    if (strncmp(key, SUBJECT_PREFIX, strlen(SUBJECT_PREFIX)) == 0)
        return apply_subject(c, key, val, where, err, errlen);
    if (strncmp(key, JWT_PREFIX, strlen(JWT_PREFIX)) == 0) {
        struct jwt_issuer *iss = NULL;
        const char *name = key + strlen(JWT_PREFIX);
        if (jwt_issuer_parse(name, val, &iss, why, sizeof(why)) != IH_OK) {
            snprintf(err, errlen, "%s (%s): %s", key, where, why);
            return IH_EINVAL;
        }
        for (size_t i = 0; i < c->nissuers; i++) {
            if (strcmp(jwt_issuer_name(c->issuers[i]), name) == 0) { /* env overrides file */
                jwt_issuer_free(c->issuers[i]);
                c->issuers[i] = iss;
                return IH_OK;
            }
        }
        struct jwt_issuer **n = realloc(c->issuers, (c->nissuers + 1) * sizeof(*n));
        if (!n) {
            jwt_issuer_free(iss);
            return IH_ENOMEM;
        }
        n[c->nissuers++] = iss;
        c->issuers = n;
        return IH_OK;
    }
    snprintf(err, errlen, "%s (%s): unknown key", key, where);
    return IH_EINVAL;
}

/* A file's assignments go to fn with "line N of FILE" as where. */
struct from_file {
    const char *file;
    ih_status (*fn)(void *arg, const char *key, const char *val, const char *where, char *err, size_t errlen);
    void *arg;
};

static ih_status file_line(void *arg, const char *key, const char *val, unsigned line, char *err, size_t errlen)
{
    const struct from_file *ff = arg;
    char where[1200];
    snprintf(where, sizeof(where), "line %u of %s", line, ff->file);
    return ff->fn(ff->arg, key, val, where, err, errlen);
}

/* Reads file as systemd's EnvironmentFile= does (src/util/envfile.c), each assignment
 * to fn. */
static ih_status read_file(const char *file,
                           ih_status (*fn)(void *arg, const char *key, const char *val, const char *where, char *err,
                                           size_t errlen),
                           void *arg, char *err, size_t errlen)
{
    struct from_file ff = {.file = file, .fn = fn, .arg = arg};
    return envfile_read(file, file_line, &ff, err, errlen);
}

static ih_status apply_line(void *arg, const char *key, const char *val, const char *where, char *err,
                            size_t errlen)
{
    return apply(arg, key, val, where, err, errlen);
}

struct dedup {
    char **env; /* the copy being filtered: entries set to NULL are the file's */
    size_t n;
};

static ih_status drop_copy(void *arg, const char *key, const char *val, const char *where, char *err,
                           size_t errlen)
{
    (void)where;
    (void)err;
    (void)errlen;
    struct dedup *d = arg;
    size_t kl = strlen(key);
    for (size_t i = 0; i < d->n; i++)
        if (d->env[i] && strncmp(d->env[i], key, kl) == 0 && d->env[i][kl] == '=' && strcmp(d->env[i] + kl + 1, val) == 0)
            d->env[i] = NULL;
    return IH_OK;
}

ih_status config_env_overrides(const char *file, char *const *env, char ***out, char *err, size_t errlen)
{
    size_t n = 0;
    while (env && env[n])
        n++;
    struct dedup d = {.env = calloc(n + 1, sizeof(char *)), .n = n};
    *out = NULL;
    if (!d.env)
        return IH_ENOMEM;
    for (size_t i = 0; i < n; i++)
        d.env[i] = strncmp(env[i], PREFIX, strlen(PREFIX)) == 0 ? env[i] : NULL;
    ih_status rc = file ? read_file(file, drop_copy, &d, err, errlen) : IH_OK;
    if (rc != IH_OK) {
        free(d.env);
        return rc;
    }
    size_t k = 0; /* every entry but the file's copies, in order */
    for (size_t i = 0; i < n; i++)
        if (d.env[i] || strncmp(env[i], PREFIX, strlen(PREFIX)) != 0)
            d.env[k++] = env[i];
    d.env[k] = NULL;
    *out = d.env;
    return IH_OK;
}

/* A database named by a URI ("postgresql://...", SQLite's "file:...") or a libpq
 * conninfo ("host=... dbname=...") is not a file path: it is left as it is. */
static bool db_is_file_path(const char *s)
{
    return store_db_form(s) == STORE_DB_PATH;
}

/* A relative database path, taken from the working directory now, once: the daemon
 * then names and opens one file wherever it is asked from later (backups, reloads). */
static ih_status resolve_db_path(struct config *c, char *err, size_t errlen)
{
    char cwd[sizeof(c->db_path)], joined[sizeof(c->db_path)];
    const char *rel = c->db_path;
    if (rel[0] == '/' || !db_is_file_path(rel))
        return IH_OK;
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2 + strspn(rel + 2, "/");
    if (!getcwd(cwd, sizeof(cwd))) {
        snprintf(err, errlen, "%sDB: the relative path %s needs the working directory, which cannot be had: %s",
                 PREFIX, c->db_path, strerror(errno));
        return IH_EINVAL;
    }
    int n = snprintf(joined, sizeof(joined), "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", rel);
    if (n < 0 || (size_t)n >= sizeof(joined)) {
        snprintf(err, errlen, "%sDB: the relative path, taken from the working directory, is longer than %zu bytes",
                 PREFIX, sizeof(joined) - 1);
        return IH_EINVAL;
    }
    memcpy(c->db_path, joined, (size_t)n + 1);
    return IH_OK;
}

/* The keys of the HTTP edge that only make sense together. */
static ih_status check_edge(const struct config *c, char *err, size_t errlen)
{
    bool subjects = c->nsubject_rules > 0;
    for (size_t i = 0; i < c->keys.n; i++)
        subjects = subjects || c->keys.keys[i].subject[0];
    if (c->connection_reserve >= c->connection_limit)
        snprintf(err, errlen, "%sCONNECTION_RESERVE: must be below %sCONNECTION_LIMIT", PREFIX, PREFIX);
    else if (!c->tls_cert[0] != !c->tls_key[0])
        snprintf(err, errlen, "%sTLS_CERT and %sTLS_KEY: set both (HTTPS) or neither (plain HTTP)", PREFIX, PREFIX);
    else if (c->tls_client_ca[0] && !c->tls_cert[0])
        snprintf(err, errlen, "%sTLS_CLIENT_CA: needs %sTLS_CERT and %sTLS_KEY (client certificates come with TLS)",
                 PREFIX, PREFIX, PREFIX);
    else if (subjects && !c->tls_client_ca[0])
        snprintf(err, errlen, "%s: a required client certificate subject needs %sTLS_CLIENT_CA",
                 c->nsubject_rules ? SUBJECT_PREFIX "<NAME>" : KEY_PREFIX "<NAME> subject=", PREFIX);
    else
        return IH_OK;
    return IH_EINVAL;
}

ih_status config_load(const char *file, char *const *env, struct config **out, char *err, size_t errlen)
{
    struct config *c = calloc(1, sizeof(*c));
    ih_status rc = IH_OK;
    char why[160];
    *out = NULL;
    if (!c)
        return IH_ENOMEM;
    for (size_t i = 0; i < NTABLE; i++) {
        if (set_value(c, &table[i], table[i].def, why, sizeof(why)) != IH_OK) {
            snprintf(err, errlen, "built-in default of %s%s: %s", PREFIX, table[i].key, why);
            rc = IH_EINVAL;
            goto done;
        }
    }
    if (file && (rc = read_file(file, apply_line, c, err, errlen)) != IH_OK)
        goto done;
    for (char *const *e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char key[256];
        if (!eq || (size_t)(eq - *e) >= sizeof(key))
            continue;
        memcpy(key, *e, (size_t)(eq - *e));
        key[eq - *e] = '\0';
        if ((rc = apply(c, key, eq + 1, "the environment", err, errlen)) != IH_OK)
            goto done;
    }
    if (c->callback_url[0] && ((strncmp(c->callback_url, "https://", 8) && strncmp(c->callback_url, "http://", 7)) ||
                               !strstr(c->callback_url, "{amikoBookingId}"))) {
        snprintf(err, errlen, "%sAMIKO_CALLBACK_URL: must be an http(s) URL containing {amikoBookingId}", PREFIX);
        rc = IH_EINVAL;
        goto done;
    }
    if (c->callback_auth[0] && !strchr(c->callback_auth, ':')) {
        snprintf(err, errlen, "%sAMIKO_CALLBACK_AUTH: must be one header line, \"Name: value\"", PREFIX);
        rc = IH_EINVAL;
        goto done;
    }
    if (c->disk_fail_bytes > c->disk_warn_bytes) {
        snprintf(err, errlen, "%sDISK_FAIL: must not be above %sDISK_WARN", PREFIX, PREFIX);
        rc = IH_EINVAL;
        goto done;
    }
    rc = resolve_db_path(c, err, errlen);
    if (rc == IH_OK)
        rc = check_edge(c, err, errlen);
done:
    if (rc != IH_OK) {
        config_free(c);
        return rc;
    }
    *out = c;
    return IH_OK;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    apikey_set_clear(&cfg->keys);
    for (size_t i = 0; i < cfg->nissuers; i++)
        jwt_issuer_free(cfg->issuers[i]);
    free(cfg->issuers);
    free(cfg->subject_rules);
    crypto_wipe(cfg, sizeof(*cfg)); /* holds AMIKO_CALLBACK_AUTH */
    free(cfg);
}

void config_print_reference(FILE *f)
{
    fprintf(f, "| key | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < NTABLE; i++) {
        if (table[i].def[0])
            fprintf(f, "| `%s%s` | `%s` | %s |\n", PREFIX, table[i].key, table[i].def, table[i].doc);
        else
            fprintf(f, "| `%s%s` | (empty) | %s |\n", PREFIX, table[i].key, table[i].doc);
    }
    fprintf(f, "| `%s<NAME>` | none | an API key: `sha256:<64 hex of the key> scope1,scope2` "
               "(mint one with `issuerhookd keygen NAME SCOPES`), optionally followed by `subject=<DN>`: then "
               "only with a verified client certificate of that subject |\n", KEY_PREFIX);
    fprintf(f, "| `%s<NAME>` | none | a JWT issuer: `alg=` HS256, RS256 or ES256, one of `secret_file=PATH`, "
               "`key=PATH` (PEM public key), `jwks=URL`, and optional `iss=`, `aud=` |\n", JWT_PREFIX);
    fprintf(f, "| `%s<NAME>` | none | `<scope>[,<scope>...] <subject DN>`: routes needing one of these scopes "
               "take only a verified client certificate with this subject (one of the subjects, with several "
               "rules) |\n", SUBJECT_PREFIX);
}
