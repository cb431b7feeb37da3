/* issuerhookd: serve (default), migrate, backup, keygen, pan-lookup, config-reference, version, help. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "issuerhook/api.h"
#include "issuerhook/apikey.h"
#include "issuerhook/callback.h"
#include "issuerhook/app.h"
#include "issuerhook/config.h"
#include "issuerhook/jwt.h"
#include "issuerhook/keycheck.h"
#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "issuerhook/notify.h"
#include "issuerhook/outbox.h"
#include "issuerhook/panlookup.h"
#include "issuerhook/ratelimit.h"
#include "issuerhook/scope.h"
#include "issuerhook/tokenize.h"
#include "issuerhook/server.h"
#include "issuerhook/store.h"
#include "issuerhook/version.h"
#include "issuerhook/writer.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: issuerhookd [serve] [--config FILE]     run the daemon\n"
            "       issuerhookd migrate [--config FILE]     apply database migrations and exit\n"
            "       issuerhookd backup [--config FILE] DEST copy the database (online) into the new file DEST\n"
            "       issuerhookd keygen NAME SCOPES          mint an API key (SCOPES comma-separated)\n"
            "       issuerhookd pan-lookup [--config FILE]  the tokens of a PAN read from stdin, and its stored rows\n"
            "       issuerhookd config-reference            print every configuration key\n"
            "       issuerhookd version | --version         print the version\n"
            "       issuerhookd help | --help | -h          print this\n"
            "The configuration: --config FILE (KEY=VALUE, as systemd's EnvironmentFile= reads it), then\n"
            "the environment. Every key: issuerhookd config-reference.\n");
}

/* A command line that cannot be run: what is wrong, then how to ask for help. */
__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "issuerhookd: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'issuerhookd --help'.\n");
    va_end(ap);
    return 2;
}

static int load_env(const char *file, char *const *env, struct config **cfg)
{
    char err[512];
    if (config_load(file, env, cfg, err, sizeof(err)) != IH_OK) {
        fprintf(stderr, "issuerhookd: configuration: %s\n", err);
        return 2;
    }
    log_configure((*cfg)->log_level, (*cfg)->log_json);
    return 0;
}

static int load(const char *file, struct config **cfg)
{
    return load_env(file, environ, cfg);
}

static int open_db(const struct config *cfg, bool serving, struct store **db)
{
    char err[640];
    struct store_options o = {.busy_timeout_ms = cfg->busy_timeout_ms, .max_bytes = cfg->db_max_bytes,
                              .password_file = cfg->db_password_file};
    if (store_open(cfg->db_path, &o, db, err, sizeof(err)) != IH_OK) {
        log_msg(LOG_ERROR, "cannot open the database", "reason", err, NULL);
        return 1;
    }
    if (!store_writable(*db, err, sizeof(err))) {
        /* serving: the writer keeps trying; writes answer 503 and /health fails meanwhile */
        log_msg(LOG_ERROR, serving ? "the database cannot take writes yet: serving, writes answer 503 until it can"
                                   : "cannot open the database",
                "path", store_describe(*db), "reason", err, NULL);
        return serving ? 0 : 1;
    }
    char v[16];
    snprintf(v, sizeof(v), "%d", store_schema_version(*db));
    log_msg(LOG_INFO, "database ready", "path", store_describe(*db), "schema_version", v, NULL);
    return 0;
}

static double gauge_queue(void *arg)
{
    return (double)writer_queue_depth(arg);
}

static double gauge_backlog(void *arg)
{
    struct outbox_stats s;
    return outbox_stats(arg, &s) == IH_OK ? (double)s.pending : -1;
}

static int64_t mono_ms(void)
{
    return writer_now_ms();
}

static double gauge_start_time(void *arg)
{
    return (double)*(const int64_t *)arg / 1000.0;
}

static int64_t writer_alive(void *arg)
{
    return writer_heartbeat_ms(arg);
}

/* A daemon nobody can call: said at start and on reload, not an error (a key may be
 * added and reloaded). */
static void warn_without_credentials(const struct config *cfg)
{
    if (cfg->keys.n == 0 && cfg->nissuers == 0)
        log_msg(LOG_WARN, "no API key and no JWT issuer is configured: every route that needs a credential "
                          "answers 401; mint a key with `issuerhookd keygen NAME SCOPES`", NULL);
}

/* Tells systemd (when it started us with Type=notify) what the daemon is doing. */
static void tell_manager(const char *state)
{
    static bool warned;
    if (!notify_send(state) && !warned) {
        warned = true;
        log_msg(LOG_WARN, "cannot write to NOTIFY_SOCKET; the service manager is not told our state", NULL);
    }
}

/* SIGHUP: reads the configuration again. API keys, JWT issuers, the key header, the
 * public health/metrics settings, the TLS files and client certificate subjects and
 * the log level take effect; other keys need a restart (said in the log). A
 * configuration that does not load, or whose TLS files do not, changes nothing. */
static struct config *reload(const char *file, char *const *env, const struct config *cur, bool room,
                             struct server *srv, const struct config **old)
{
    char err[512];
    struct config *next = NULL;
    if (!room) {
        log_msg(LOG_ERROR, "SIGHUP: too many reloads in one run; restart the daemon to reload again", NULL);
        return NULL;
    }
    if (config_load(file, env, &next, err, sizeof(err)) != IH_OK) {
        log_msg(LOG_ERROR, "SIGHUP: the new configuration is refused; the current one stays", "reason", err, NULL);
        return NULL;
    }
    if (strcmp(next->listen_host, cur->listen_host) || next->listen_port != cur->listen_port ||
        strcmp(next->db_path, cur->db_path) || strcmp(next->db_password_file, cur->db_password_file) ||
        next->threads != cur->threads ||
        strcmp(next->callback_url, cur->callback_url) || strcmp(next->pan_key_file, cur->pan_key_file) ||
        strcmp(next->pan_key_previous, cur->pan_key_previous) || next->pan_key_development != cur->pan_key_development ||
        next->rate_limit != cur->rate_limit || next->rate_burst != cur->rate_burst)
        log_msg(LOG_WARN, "SIGHUP: some changed settings take effect only after a restart "
                          "(listen, database, threads, callback, PAN key, rate limits)", NULL);
    for (size_t i = 0; i < next->nissuers; i++)
        if (jwt_issuer_prefetch(next->issuers[i]) != IH_OK)
            log_msg(LOG_WARN, "cannot fetch the JWKS of a JWT issuer yet", "issuer", jwt_issuer_name(next->issuers[i]),
                    NULL);
    if (server_reload(srv, next, old, err, sizeof(err)) != IH_OK) { /* TLS files, then the credentials */
        log_msg(LOG_ERROR, "SIGHUP: the new configuration is refused; the current one stays", "reason", err, NULL);
        config_free(next);
        return NULL;
    }
    log_configure(next->log_level, next->log_json);
    warn_without_credentials(next);
    char keys[16], issuers[16];
    snprintf(keys, sizeof(keys), "%zu", next->keys.n);
    snprintf(issuers, sizeof(issuers), "%zu", next->nissuers);
    log_msg(LOG_INFO, "SIGHUP: configuration reloaded", "api_keys", keys, "jwt_issuers", issuers, NULL);
    return next;
}

static int serve(const char *file)
{
    struct config *cfg = NULL;
    struct store *db = NULL;
    struct writer *w = NULL;
    struct server *srv = NULL;
    struct callback *cb = NULL;
    struct tokenizer *tk = NULL;
    struct ratelimit *rl = NULL;
    struct watchdog *wd = NULL;
    char err[512];
    /* The environment minus the config file's own lines (systemd passes the same file
     * as EnvironmentFile= and --config), so that SIGHUP sees the file's new values. */
    char **env = NULL;
    if (config_env_overrides(file, environ, &env, err, sizeof(err)) != IH_OK) {
        fprintf(stderr, "issuerhookd: configuration: %s\n", err);
        return 2;
    }
    int ret = load_env(file, env, &cfg);
    if (ret) {
        free(env);
        return ret;
    }
    warn_without_credentials(cfg);
    umask(027);
    /* Memory holds card numbers between the socket and the tokenizer: never write it to
     * a core file, whatever the service manager or container runtime allows. */
    struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0)
        log_msg(LOG_WARN, "cannot turn core dumps off", NULL);
    /* Signals are taken by sigwait in this thread only; every thread started below
     * inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The socket first: a port in use or an address not of this host is said with the
     * OS's error before a database, a migration or a PAN key is created. */
    if (server_prepare(cfg, &srv, err, sizeof(err)) != IH_OK) {
        log_msg(LOG_ERROR, "cannot start the HTTP server", "reason", err, NULL);
        ret = 1;
        goto done;
    }
    if ((ret = open_db(cfg, true, &db)) != 0)
        goto done;
    bool key_pending = false;
    if (keycheck_open(cfg, db, &tk, &key_pending, err, sizeof(err)) != IH_OK) {
        log_msg(LOG_ERROR, "cannot use the PAN key", "reason", err, NULL);
        ret = 1;
        goto done;
    }
    if (key_pending) /* checked by the writer before its first write */
        log_msg(LOG_WARN, "the PAN key cannot be checked against the database yet: nothing is written until it is",
                "reason", err, NULL);
    for (size_t i = 0; i < cfg->nissuers; i++)
        if (jwt_issuer_prefetch(cfg->issuers[i]) != IH_OK) /* not fatal: retried in the background */
            log_msg(LOG_WARN, "cannot fetch the JWKS of a JWT issuer yet", "issuer", jwt_issuer_name(cfg->issuers[i]),
                    NULL);
    if (ratelimit_new(cfg->rate_limit, cfg->rate_burst, &rl) != IH_OK) {
        ret = 1;
        goto done;
    }
    struct writer_options wo = {.batch_max = cfg->batch_max, .queue_max = cfg->queue_max,
                                .gate = key_pending ? keycheck_gate : NULL, .gate_arg = tk};
    if (writer_start(db, &wo, &w) != IH_OK) {
        log_msg(LOG_ERROR, "cannot start the writer thread", NULL);
        ret = 1;
        goto done;
    }
    metrics_set_gauge("issuerhook_writer_queue_depth", "Writes waiting for the writer thread.", gauge_queue, w);
    metrics_set_gauge("issuerhook_callback_backlog", "Booking status callbacks not yet delivered (pending).",
                      gauge_backlog, db);
    if (cfg->callback_url[0]) {
        struct callback_options co = {
            .url_template = cfg->callback_url, .auth_header = cfg->callback_auth, .ca_file = cfg->callback_ca_file,
            .timeout_ms = cfg->callback_timeout_ms, .connect_timeout_ms = cfg->callback_connect_timeout_ms,
            .max_attempts = cfg->callback_max_attempts, .backoff_ms = cfg->callback_backoff_ms,
            .backoff_max_ms = cfg->callback_backoff_max_ms, .concurrency = cfg->callback_concurrency};
        if (callback_start(db, w, &co, &cb) != IH_OK) {
            log_msg(LOG_ERROR, "cannot start the callback dispatcher", NULL);
            ret = 1;
            goto done;
        }
    } else {
        log_msg(LOG_WARN, "ISSUERHOOK_AMIKO_CALLBACK_URL is not set: booking status callbacks wait in the outbox",
                NULL);
    }
    static int64_t started_ms;
    started_ms = (int64_t)time(NULL) * 1000;
    metrics_set_gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.",
                      gauge_start_time, &started_ms);
    struct app app = {.cfg = cfg, .store = db, .writer = w, .callback = cb, .tokenizer = tk, .ratelimit = rl,
                      .started_ms = started_ms};
    if (log_buffer_start() != IH_OK) /* from here a slow log target cannot hold a request */
        log_msg(LOG_WARN, "cannot start the log buffer: each line is written by the thread that logs it", NULL);
    if (server_start(srv, &app, api_routes, api_routes_count, err, sizeof(err)) != IH_OK) {
        log_msg(LOG_ERROR, "cannot start the HTTP server", "reason", err, NULL);
        ret = 1;
        goto done;
    }
    char port[8], ver[32];
    snprintf(port, sizeof(port), "%u", server_port(srv));
    snprintf(ver, sizeof(ver), "%s", ISSUERHOOK_VERSION);
    log_msg(LOG_INFO, "listening", "host", cfg->listen_host, "port", port, "version", ver, NULL);
    /* Ready only now: the database is open, migrations applied, the socket listening. */
    char state[160];
    snprintf(state, sizeof(state), "READY=1\nSTATUS=listening on %s:%s", cfg->listen_host, port);
    tell_manager(state);
    if (watchdog_start(writer_alive, w, &wd) != IH_OK)
        log_msg(LOG_ERROR, "cannot start the watchdog thread; the service manager will restart the daemon", NULL);

    struct config *retired[64]; /* configurations replaced by SIGHUP, freed at exit */
    size_t nretired = 0;
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            char reloading[96];
            snprintf(reloading, sizeof(reloading), "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)mono_ms() * 1000);
            tell_manager(reloading);
            const struct config *old = NULL;
            struct config *next = reload(file, env, cfg, nretired < 64, srv, &old);
            if (next) {
                retired[nretired++] = (struct config *)old;
                cfg = next; /* the newest; earlier ones are in retired[] */
            }
            tell_manager(state); /* READY=1 again: reloaded, or kept the old settings */
            continue;
        }
        break;
    }
    log_msg(LOG_INFO, "stopping: no new connections; finishing requests in flight", NULL);
    tell_manager("STOPPING=1\nSTATUS=stopping: finishing requests in flight");
    server_quiesce(srv);
    int64_t deadline = mono_ms() + (int64_t)cfg->shutdown_grace_s * 1000;
    while (server_in_flight(srv) > 0 && mono_ms() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (server_in_flight(srv) > 0)
        log_msg(LOG_WARN, "grace period over with requests still in flight; they are closed unanswered", NULL);
    callback_stop(cb); /* before the writer: its last outcomes are recorded first */
    cb = NULL;
    writer_stop(w); /* commits what is queued; later submits answer 503 */
    watchdog_stop(wd); /* after the writer's last commit: pings lasted through the drain */
    wd = NULL;
    server_stop(srv);
    srv = NULL;
    log_msg(LOG_INFO, "stopped", NULL);
    for (size_t i = 0; i < nretired; i++)
        config_free(retired[i]);
done:
    watchdog_stop(wd);
    server_stop(srv);
    callback_stop(cb);
    writer_free(w);
    tokenizer_free(tk);
    ratelimit_free(rl);
    store_close(db);
    config_free(cfg);
    free(env);
    log_buffer_stop();
    return ret;
}

static int migrate(const char *file)
{
    struct config *cfg = NULL;
    struct store *db = NULL;
    int ret = load(file, &cfg);
    if (!ret)
        ret = open_db(cfg, false, &db);
    store_close(db);
    config_free(cfg);
    return ret;
}

/* An online copy of the configured database, safe while the daemon runs. */
static int backup(const char *file, const char *dest)
{
    struct config *cfg = NULL;
    int ret = load(file, &cfg);
    if (ret)
        return ret;
    char err[512];
    struct backup_result r;
    if (store_backup(cfg->db_path, dest, &r, err, sizeof(err)) != IH_OK) {
        fprintf(stderr, "issuerhookd backup: %s\n", err);
        ret = 1;
    } else {
        printf("backup of %s written to %s: schema version %d, %lld records, %lld bytes\n", cfg->db_path, dest,
               r.schema_version, r.records, r.bytes);
    }
    config_free(cfg);
    return ret;
}

static int keygen(const char *name, const char *scopes)
{
    bool name_ok = *name != '\0';
    for (const char *p = name; *p; p++)
        name_ok = name_ok && ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_');
    if (!name_ok) {
        fprintf(stderr, "issuerhookd keygen: NAME must be upper-case letters, digits and '_'\n");
        return 2;
    }
    char key[96], value[512], bad[80] = "", names[256];
    unsigned mask = 0;
    if (!scope_parse_list(scopes, ",", false, &mask, bad, sizeof(bad)) || mask == 0) {
        scope_names(names, sizeof(names));
        if (mask == 0 && !bad[0])
            fprintf(stderr, "issuerhookd keygen: SCOPES names no scope; the scopes are: %s\n", names);
        else
            fprintf(stderr, "issuerhookd keygen: unknown scope '%s'; the scopes are: %s\n", bad, names);
        return 2;
    }
    ih_status rc = apikey_generate(scopes, key, sizeof(key), value, sizeof(value));
    if (rc != IH_OK) {
        fprintf(stderr, "issuerhookd keygen: %s\n", ih_status_str(rc));
        return 2;
    }
    printf("%s\nISSUERHOOK_API_KEY_%s=%s\n", key, name, value);
    fprintf(stderr, "The first line is the key: give it to the caller now, it is not stored anywhere.\n"
                    "The second line goes into the daemon's configuration.\n");
    return 0;
}

static bool is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

static bool is_version(const char *a)
{
    return !strcmp(a, "--version") || !strcmp(a, "version");
}

static int print_version(void)
{
    printf("issuerhookd %s\n", ISSUERHOOK_VERSION);
    return 0;
}

struct args {
    const char *cmd, *file, *dest;
    const char *operands[2]; /* keygen's NAME SCOPES */
    int noperands;
};

/* Options and operands after the command. -1: go on; otherwise the exit status. */
static int parse_options(int argc, char **argv, int i, struct args *a)
{
    bool takes_config = strcmp(a->cmd, "keygen") && strcmp(a->cmd, "config-reference");
    int max_operands = !strcmp(a->cmd, "keygen") ? 2 : !strcmp(a->cmd, "backup") ? 1 : 0;
    for (; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(o, "--version"))
            return print_version();
        if (takes_config && (!strcmp(o, "--config") || !strncmp(o, "--config=", 9))) {
            const char *v = o[8] == '=' ? o + 9 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || !*v)
                return bad_usage("%s needs a FILE", "--config");
            if (a->file)
                return bad_usage("%s is given twice", "--config");
            a->file = v;
        } else if (o[0] == '-' && o[1] != '\0') {
            return bad_usage("unknown option '%s'", o);
        } else if (a->noperands < max_operands) {
            a->operands[a->noperands++] = o;
        } else {
            return bad_usage("unexpected argument '%s'", o);
        }
    }
    if (a->noperands < max_operands)
        return bad_usage("%s", !strcmp(a->cmd, "keygen") ? "keygen needs NAME and SCOPES" : "backup needs DEST");
    a->dest = a->operands[0];
    return -1;
}

int main(int argc, char **argv)
{
    static const char *const commands[] = {"serve", "migrate", "backup", "keygen", "pan-lookup", "config-reference"};
    struct args a = {.cmd = "serve"};
    int i = 1;
    if (i < argc && is_help(argv[i])) {
        usage(stdout);
        return 0;
    }
    if (i < argc && is_version(argv[i]))
        return print_version();
    if (i < argc && argv[i][0] != '-') {
        a.cmd = argv[i++];
        bool known = false;
        for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
            known = known || !strcmp(a.cmd, commands[k]);
        if (!known)
            return bad_usage("unknown command '%s'", a.cmd);
    }
    int rc = parse_options(argc, argv, i, &a);
    if (rc >= 0)
        return rc;
    if (!strcmp(a.cmd, "keygen"))
        return keygen(a.operands[0], a.operands[1]);
    if (!strcmp(a.cmd, "config-reference")) {
        config_print_reference(stdout);
        return 0;
    }
    if (!strcmp(a.cmd, "migrate"))
        return migrate(a.file);
    if (!strcmp(a.cmd, "backup"))
        return backup(a.file, a.dest);
    if (!strcmp(a.cmd, "pan-lookup")) {
        struct config *cfg = NULL;
        rc = load(a.file, &cfg);
        if (!rc)
            rc = panlookup_run(cfg, stdin, stdout, stderr);
        config_free(cfg);
        return rc;
    }
    /* serve; before any thread: libcurl's global set-up is not thread-safe */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "issuerhookd: cannot initialise libcurl\n");
        return 1;
    }
    rc = serve(a.file);
    curl_global_cleanup();
    return rc;
}
