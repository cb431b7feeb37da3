/* Configuration: KEY=VALUE lines (systemd EnvironmentFile / docker --env-file format)
 * from --config FILE, then the environment, the environment winning. One table in
 * config.c lists every key with its type, bounds, default and description; it also
 * prints the README's reference (issuerhookd config-reference). */
#ifndef ISSUERHOOK_CONFIG_H
#define ISSUERHOOK_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "issuerhook/apikey.h"
#include "issuerhook/log.h"
#include "issuerhook/status.h"

struct jwt_issuer;
struct subject_rule;

/* Who may read /health and /metrics without a credential. */
enum public_access { PUBLIC_NONE = 0, PUBLIC_ALL = 1, PUBLIC_LOOPBACK = 2 };

struct config {
    char listen_host[64];
    uint16_t listen_port;
    char db_path[1024];         /* a path (SQLite) or a PostgreSQL URI / conninfo: may hold a password */
    char db_password_file[1024]; /* PostgreSQL: the file holding the password ("": none) */
    uint64_t max_body;
    char auth_header[64];
    enum log_level log_level;
    bool log_json;
    unsigned threads;
    unsigned connection_limit;
    unsigned connection_timeout_s;
    unsigned busy_timeout_ms;
    unsigned batch_max;
    unsigned queue_max;
    unsigned retry_after_s;
    enum public_access health_public;
    enum public_access metrics_public;
    uint64_t disk_warn_bytes;
    uint64_t disk_fail_bytes;
    unsigned shutdown_grace_s;
    uint64_t db_max_bytes;
    char callback_url[1024];
    char callback_auth[1024];
    char callback_ca_file[1024];
    unsigned callback_timeout_ms;
    unsigned callback_connect_timeout_ms;
    unsigned callback_max_attempts;
    unsigned callback_backoff_ms;
    unsigned callback_backoff_max_ms;
    unsigned callback_concurrency;
    char pan_key_file[1024];
    char pan_key_previous[4096];
    bool pan_key_development;
    unsigned rate_limit, rate_burst;
    unsigned jwt_leeway_s;
    uint64_t feed_page_bytes;
    unsigned feed_reads;
    unsigned jwt_max_lifetime_s;
    struct jwt_issuer **issuers; /* owned; from ISSUERHOOK_JWT_<NAME> */
    size_t nissuers;
    struct apikey_set keys; /* owned; from ISSUERHOOK_API_KEY_<NAME> */
    unsigned header_timeout_s, body_timeout_s;
    uint64_t body_min_rate;
    unsigned per_ip_connection_limit, connection_reserve;
    unsigned auth_failure_rate, auth_failure_burst;
    char tls_cert[1024], tls_key[1024], tls_client_ca[1024];
    char tls_priorities[512];
    struct subject_rule *subject_rules; /* owned; from ISSUERHOOK_CLIENT_SUBJECT_<NAME> */
    size_t nsubject_rules;
};

/* Loads defaults, then file (may be NULL), then env (a NULL-terminated environ-style
 * array; may be NULL). The file is read as systemd's EnvironmentFile= reads it
 * (issuerhook/envfile.h); a directory or unreadable file is IH_EIO. A relative
 * ISSUERHOOK_DB file path is made absolute against the working directory (a URI or a
 * conninfo string is left alone). On error err says which key (and line) is wrong and why.
 * Caller owns *out and releases it with config_free. */
IH_MUST_CHECK ih_status config_load(const char *file, char *const *env, struct config **out, char *err,
                                    size_t errlen);
void config_free(struct config *cfg);

/* The entries of env that are not copies of file's lines. Under systemd the same file
 * is EnvironmentFile= (so in the environment from the start) and --config (read again
 * on SIGHUP): an ISSUERHOOK_ variable equal to the file's line for its key is the file's
 * own value, not an override, and must not pin that value across a reload. Variables
 * that differ from the file, or that it lacks, stay. *out is a NULL-terminated array of
 * pointers into env; the caller frees the array (not the strings). */
IH_MUST_CHECK ih_status config_env_overrides(const char *file, char *const *env, char ***out, char *err,
                                             size_t errlen);

/* Prints the reference table (Markdown) of every key. */
void config_print_reference(FILE *f);

#endif
