/* Unit tests of configuration loading (include/issuerhook/config.h). */
#include "testutil.h"

#include <unistd.h>

#include "issuerhook/config.h"
#include "issuerhook/crypto.h"
#include "issuerhook/scope.h"
#include "issuerhook/subject.h"

/* ---- helpers ---- */

/* A configuration file with the given text, removed by the test's teardown. */
struct tmpconf {
    char path[64];
};

static int setup_file(void **state)
{
    struct tmpconf *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    snprintf(t->path, sizeof(t->path), "/tmp/ih-unit-config-XXXXXX");
    int fd = mkstemp(t->path);
    if (fd < 0) {
        free(t);
        return -1;
    }
    close(fd);
    *state = t;
    return 0;
}

static int teardown_file(void **state)
{
    struct tmpconf *t = *state;
    unlink(t->path);
    free(t);
    return 0;
}

/* Writes text to the state's file and returns its path. */
static const char *conf_file(void **state, const char *text)
{
    struct tmpconf *t = *state;
    FILE *f = fopen(t->path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
    return t->path;
}

static char err[512];

/* Loads file and env and expects success; caller frees with config_free. */
#define load_ok(file, env) tu_load_ok((file), (env), __FILE__, __LINE__)

static struct config *tu_load_ok(const char *file, char *const *env, const char *srcfile, int line)
{
    struct config *c = NULL;
    err[0] = '\0';
    ih_status rc = config_load(file, env, &c, err, sizeof(err));
    if (rc != IH_OK || !c) {
        print_error("config_load failed (%d): %s\n", (int)rc, err);
        _fail(srcfile, line);
    }
    return c;
}

/* Loads file and env, expects IH_EINVAL and no configuration, and returns the error. */
#define load_refused(file, env) tu_load_refused((file), (env), __FILE__, __LINE__)

static const char *tu_load_refused(const char *file, char *const *env, const char *srcfile, int line)
{
    struct config *c = (struct config *)0x1;
    err[0] = '\0';
    ih_status rc = config_load(file, env, &c, err, sizeof(err));
    if (rc != IH_EINVAL || c != NULL || err[0] == '\0') {
        print_error("expected IH_EINVAL with a message, got %d \"%s\"\n", (int)rc, err);
        if (rc == IH_OK)
            config_free(c);
        _fail(srcfile, line);
    }
    return err;
}

/* Loads just one environment variable KEY=VALUE. */
static struct config *load_env1_ok(const char *kv)
{
    char *env[] = {(char *)kv, NULL};
    return load_ok(NULL, env);
}

static const char *load_env1_refused(const char *kv)
{
    char *env[] = {(char *)kv, NULL};
    return load_refused(NULL, env);
}

/* "sha256:<hex of SHA-256(secret)>" into buf. */
static void hashed(const char *secret, char *buf, size_t len)
{
    unsigned char h[CRYPTO_SHA256_LEN];
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    crypto_sha256(secret, strlen(secret), h);
    crypto_hex(h, sizeof(h), hex);
    snprintf(buf, len, "sha256:%s", hex);
}

/* ---- defaults ---- */

static void test_defaults_without_file_or_env(void **state)
{
    (void)state;
    struct config *c = load_ok(NULL, NULL);
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 8080);
    assert_int_equal(c->max_body, 2u << 20);
    assert_string_equal(c->auth_header, "X-API-Key");
    assert_string_equal(c->db_path, "/var/lib/issuerhook/issuerhook.db"); /* absolute: as the unit and image */
    assert_int_equal(c->log_level, LOG_INFO);
    assert_true(c->log_json);
    assert_int_equal(c->threads, 4);
    assert_true(c->health_public);
    assert_true(c->metrics_public);
    assert_int_equal(c->db_max_bytes, 0);
    assert_true(c->disk_fail_bytes <= c->disk_warn_bytes);
    assert_int_equal(c->keys.n, 0);
    config_free(c);

    /* an empty environment is the same as none */
    char *env[] = {NULL};
    c = load_ok(NULL, env);
    assert_int_equal(c->listen_port, 8080);
    config_free(c);

    config_free(NULL); /* accepts NULL */
}

/* ---- the file ---- */

static void test_file_key_value_lines(void **state)
{
    const char *path = conf_file(state,
                                 "# issuerhook configuration\n"
                                 "\n"
                                 "   \n"
                                 "  # an indented comment\n"
                                 "; a comment too\n"
                                 "ISSUERHOOK_LISTEN=0.0.0.0:9000\n"
                                 "ISSUERHOOK_AUTH_HEADER=\"X-Issuer-Key\"\n"
                                 "ISSUERHOOK_DB='/var/lib/issuerhook/ih.db'\n"
                                 "ISSUERHOOK_MAX_BODY = 512KiB  \n"
                                 "ISSUERHOOK_THREADS=8\r\n"
                                 "\tISSUERHOOK_HEALTH_PUBLIC=false\n"
                                 "ISSUERHOOK_LOG_LEVEL=debug\n"
                                 "ISSUERHOOK_LOG_FORMAT=text"); /* no final newline */
    struct config *c = load_ok(path, NULL);
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 9000);
    assert_string_equal(c->auth_header, "X-Issuer-Key");
    assert_string_equal(c->db_path, "/var/lib/issuerhook/ih.db");
    assert_int_equal(c->max_body, 512 * 1024);
    assert_int_equal(c->threads, 8);
    assert_false(c->health_public);
    assert_true(c->metrics_public); /* untouched keys keep their default */
    assert_int_equal(c->log_level, LOG_DEBUG);
    assert_false(c->log_json);
    config_free(c);
}

static void test_file_ignores_other_variables(void **state)
{
    const char *path = conf_file(state,
                                 "PATH=/usr/bin\n"
                                 "DATABASE_URL=postgres://x\n"
                                 "LANG=C.UTF-8\n"
                                 "ISSUERHOOK_THREADS=2\n");
    struct config *c = load_ok(path, NULL);
    assert_int_equal(c->threads, 2);
    config_free(c);
}

static void test_file_bad_value_names_key_and_line(void **state)
{
    const char *path = conf_file(state,
                                 "# comment\n"
                                 "ISSUERHOOK_THREADS=2\n"
                                 "ISSUERHOOK_MAX_BODY=lots\n"
                                 "ISSUERHOOK_LISTEN=nonsense\n");
    const char *e = load_refused(path, NULL);
    assert_contains(e, "ISSUERHOOK_MAX_BODY");
    assert_contains(e, "line 3");
    assert_contains(e, path);
}

static void test_file_line_without_equals_refused(void **state)
{
    const char *path = conf_file(state, "ISSUERHOOK_THREADS=2\nISSUERHOOK_THREADS\n");
    assert_contains(load_refused(path, NULL), "line 2");
}

/* The file is read as systemd's EnvironmentFile= reads it (tests/unit/test_envfile.c
 * has the whole table); here, what that means for the configuration. */
static void test_file_quoting_as_systemd_reads_it(void **state)
{
    const char *path = conf_file(state,
                                 "ISSUERHOOK_AMIKO_CALLBACK_AUTH=\"X-API-Key: a\\\"b\\$c\" \n"
                                 "ISSUERHOOK_DB='/var/lib/issuer hook/ih.db'\n"
                                 "ISSUERHOOK_AUTH_HEADER=X-\\\n"
                                 "Key\r\n"
                                 "ISSUERHOOK_LOG_LEVEL=\n"
                                 "ISSUERHOOK_LOG_LEVEL_X=1\n");
    /* LOG_LEVEL= is the empty value, which the key refuses, on its line */
    const char *e = load_refused(path, NULL);
    assert_contains(e, "ISSUERHOOK_LOG_LEVEL (line 5 of");
    path = conf_file(state,
                     "ISSUERHOOK_AMIKO_CALLBACK_AUTH=\"X-API-Key: a\\\"b\\$c\" \n"
                     "ISSUERHOOK_DB='/var/lib/issuer hook/ih.db'\n"
                     "ISSUERHOOK_AUTH_HEADER=X-\\\n"
                     "Key\r\n");
    struct config *c = load_ok(path, NULL);
    assert_string_equal(c->callback_auth, "X-API-Key: a\"b$c");
    assert_string_equal(c->db_path, "/var/lib/issuer hook/ih.db");
    assert_string_equal(c->auth_header, "X-Key");
    config_free(c);
}

/* What systemd would ignore or read otherwise is refused with the line; so is a key
 * given twice (systemd takes the last, silently). */
static void test_file_refuses_what_systemd_reads_otherwise(void **state)
{
    static const struct {
        const char *text, *line, *why;
    } bad[] = {
        {"ISSUERHOOK_THREADS=2\nexport ISSUERHOOK_THREADS=3\n", "line 2", "`export`"},
        {"ISSUERHOOK_DB=\"/tmp/a.db\nISSUERHOOK_THREADS=2\n", "line 1", "quote is not closed"},
        {"ISSUERHOOK_AUTH_HEADER=\"X-Key\" # the header\n", "line 1", "after the closing quote"},
        {"ISSUERHOOK_THREADS=2 # two\n", "line 1", "'#' after white space"},
        {"ISSUERHOOK_THREADS=2\nISSUERHOOK_THREADS=2\n", "line 2", "ISSUERHOOK_THREADS is given twice (first on line 1)"},
        {"ISSUERHOOK_THREADS=2\n# note \\\nISSUERHOOK_THREADS=3\n", "line 2", "comment ending in a backslash"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *path = conf_file(state, bad[i].text);
        const char *e = load_refused(path, NULL);
        assert_contains(e, bad[i].line);
        assert_contains(e, path);
        assert_contains(e, bad[i].why);
        /* the environment filter reads the file the same way */
        char **out = NULL;
        char *env[] = {NULL};
        assert_int_equal(config_env_overrides(path, env, &out, err, sizeof(err)), IH_EINVAL);
        assert_null(out);
    }
}

/* A directory, or a file that cannot be read, is an error, not an empty configuration. */
static void test_file_that_cannot_be_read_refused(void **state)
{
    (void)state;
    static const char *const paths[] = {"/etc", "/proc/self/mem"};
    for (size_t i = 0; i < 2; i++) {
        struct config *c = (struct config *)0x1;
        assert_int_equal(config_load(paths[i], NULL, &c, err, sizeof(err)), IH_EIO);
        assert_null(c);
        assert_contains(err, paths[i]);
        char **out = (char **)0x1;
        char *env[] = {NULL};
        assert_int_equal(config_env_overrides(paths[i], env, &out, err, sizeof(err)), IH_EIO);
        assert_null(out);
    }
    assert_contains(err, "Input/output error");
}

static void test_file_unknown_key_refused(void **state)
{
    const char *path = conf_file(state, "ISSUERHOOK_THREADS=2\nISSUERHOOK_THREAD=3\n");
    const char *e = load_refused(path, NULL);
    assert_contains(e, "ISSUERHOOK_THREAD");
    assert_contains(e, "line 2");
    assert_contains(e, "unknown");
}

static void test_missing_file_refused(void **state)
{
    (void)state;
    struct config *c = (struct config *)0x1;
    ih_status rc = config_load("/nonexistent/issuerhook.env", NULL, &c, err, sizeof(err));
    assert_int_equal(rc, IH_EIO);
    assert_null(c);
    assert_contains(err, "/nonexistent/issuerhook.env");
}

/* ---- the environment ---- */

static void test_environment_wins_over_file(void **state)
{
    const char *path = conf_file(state,
                                 "ISSUERHOOK_LISTEN=0.0.0.0:9000\n"
                                 "ISSUERHOOK_THREADS=8\n");
    char *env[] = {"ISSUERHOOK_LISTEN=127.0.0.1:7000", "HOME=/root", NULL};
    struct config *c = load_ok(path, env);
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 7000);
    assert_int_equal(c->threads, 8); /* set only in the file */
    config_free(c);
}


/* systemd passes one file as EnvironmentFile= and --config: the environment's copies
 * of its lines are dropped (so SIGHUP sees the file's new values), real overrides and
 * other variables stay. */
static void test_env_overrides_drop_copies_of_the_file(void **state)
{
    const char *file = conf_file(state, "ISSUERHOOK_THREADS=8\nISSUERHOOK_LOG_LEVEL=\"debug\"\n"
                                        "ISSUERHOOK_MAX_BODY=1MiB\n");
    char *env[] = {"PATH=/usr/bin", "ISSUERHOOK_THREADS=8", "ISSUERHOOK_LOG_LEVEL=debug",
                   "ISSUERHOOK_MAX_BODY=4MiB", "ISSUERHOOK_RETRY_AFTER=9", "NOTIFY_SOCKET=/run/x", NULL};
    char **out = NULL;
    assert_int_equal(config_env_overrides(file, env, &out, err, sizeof(err)), IH_OK);
    const char *want[] = {"PATH=/usr/bin", "ISSUERHOOK_MAX_BODY=4MiB", "ISSUERHOOK_RETRY_AFTER=9",
                          "NOTIFY_SOCKET=/run/x", NULL};
    for (size_t i = 0; want[i]; i++) {
        assert_non_null(out[i]);
        assert_string_equal(out[i], want[i]);
    }
    assert_null(out[4]);
    free(out);
    /* without a file, everything stays */
    assert_int_equal(config_env_overrides(NULL, env, &out, err, sizeof(err)), IH_OK);
    for (size_t i = 0; env[i]; i++)
        assert_ptr_equal(out[i], env[i]);
    free(out);
    /* an unreadable file is an error */
    assert_int_not_equal(config_env_overrides("/nonexistent/issuerhook.env", env, &out, err, sizeof(err)), IH_OK);
}

static void test_env_bad_value_names_key(void **state)
{
    (void)state;
    const char *e = load_env1_refused("ISSUERHOOK_MAX_BODY=abc");
    assert_contains(e, "ISSUERHOOK_MAX_BODY");

    char *env[] = {"ISSUERHOOK_THREADS=4", "ISSUERHOOK_HEALTH_PUBLIC=maybe", NULL};
    assert_contains(load_refused(NULL, env), "ISSUERHOOK_HEALTH_PUBLIC");
}

static void test_env_unknown_key_refused(void **state)
{
    (void)state;
    const char *e = load_env1_refused("ISSUERHOOK_LISTEN_PORT=80");
    assert_contains(e, "ISSUERHOOK_LISTEN_PORT");
    assert_contains(e, "unknown");
    assert_contains(load_env1_refused("ISSUERHOOK_=1"), "ISSUERHOOK_");
}

static void test_env_other_variables_ignored(void **state)
{
    (void)state;
    char *env[] = {"PATH=/usr/bin:/bin", "HOME=/root", "MAX_BODY=abc", "ISSUERHOOKX=1", "NO_EQUALS_SIGN",
                   "=weird", "ISSUERHOOK_THREADS=3", NULL};
    struct config *c = load_ok(NULL, env);
    assert_int_equal(c->threads, 3);
    config_free(c);
}

/* ---- value types ---- */

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *kv;
        uint64_t want;
    } ok[] = {
        {"ISSUERHOOK_MAX_BODY=65536", 65536},
        {"ISSUERHOOK_MAX_BODY=64KiB", 64 * 1024},
        {"ISSUERHOOK_MAX_BODY=3MiB", 3u << 20},
        {"ISSUERHOOK_MAX_BODY=1024", 1024},    /* the minimum */
        {"ISSUERHOOK_MAX_BODY=64MiB", 64u << 20}, /* the maximum */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct config *c = load_env1_ok(ok[i].kv);
        assert_int_equal(c->max_body, ok[i].want);
        config_free(c);
    }

    struct config *c = load_env1_ok("ISSUERHOOK_DB_MAX_BYTES=2GiB");
    assert_int_equal(c->db_max_bytes, 2ull << 30);
    config_free(c);

    static const char *const bad[] = {
        "ISSUERHOOK_MAX_BODY=",          "ISSUERHOOK_MAX_BODY=1.5MiB",   "ISSUERHOOK_MAX_BODY=-1",
        "ISSUERHOOK_MAX_BODY=2 MiB",     "ISSUERHOOK_MAX_BODY=2MB",      "ISSUERHOOK_MAX_BODY=MiB",
        "ISSUERHOOK_MAX_BODY=1023",      "ISSUERHOOK_MAX_BODY=65MiB",    "ISSUERHOOK_MAX_BODY=0x1000",
        "ISSUERHOOK_DB_MAX_BYTES=99999999999999999999",
        "ISSUERHOOK_DB_MAX_BYTES=17179869184GiB", /* overflows 64 bits once shifted */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)strcspn(bad[i], "="), bad[i]);
        assert_contains(load_env1_refused(bad[i]), key);
    }
}

static void test_whole_numbers_and_bounds(void **state)
{
    (void)state;
    struct config *c = load_env1_ok("ISSUERHOOK_THREADS=256");
    assert_int_equal(c->threads, 256);
    config_free(c);
    c = load_env1_ok("ISSUERHOOK_SHUTDOWN_GRACE=0");
    assert_int_equal(c->shutdown_grace_s, 0);
    config_free(c);

    assert_contains(load_env1_refused("ISSUERHOOK_THREADS=0"), "ISSUERHOOK_THREADS");
    assert_contains(load_env1_refused("ISSUERHOOK_THREADS=257"), "ISSUERHOOK_THREADS");
    assert_contains(load_env1_refused("ISSUERHOOK_THREADS=+4"), "ISSUERHOOK_THREADS");
    assert_contains(load_env1_refused("ISSUERHOOK_THREADS=4x"), "ISSUERHOOK_THREADS");
    assert_contains(load_env1_refused("ISSUERHOOK_THREADS=4294967300"), "ISSUERHOOK_THREADS");
}

static void test_booleans_levels_and_formats(void **state)
{
    (void)state;
    struct config *c = load_env1_ok("ISSUERHOOK_METRICS_PUBLIC=no");
    assert_false(c->metrics_public);
    config_free(c);
    c = load_env1_ok("ISSUERHOOK_METRICS_PUBLIC=0");
    assert_false(c->metrics_public);
    config_free(c);
    c = load_env1_ok("ISSUERHOOK_LOG_LEVEL=error");
    assert_int_equal(c->log_level, LOG_ERROR);
    config_free(c);

    assert_contains(load_env1_refused("ISSUERHOOK_METRICS_PUBLIC=off"), "ISSUERHOOK_METRICS_PUBLIC");
    assert_contains(load_env1_refused("ISSUERHOOK_LOG_LEVEL=verbose"), "ISSUERHOOK_LOG_LEVEL");
    assert_contains(load_env1_refused("ISSUERHOOK_LOG_FORMAT=xml"), "ISSUERHOOK_LOG_FORMAT");
}

static void test_listen(void **state)
{
    (void)state;
    struct config *c = load_env1_ok("ISSUERHOOK_LISTEN=0.0.0.0:443");
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 443);
    config_free(c);
    c = load_env1_ok("ISSUERHOOK_LISTEN=localhost:65535");
    assert_string_equal(c->listen_host, "localhost");
    assert_int_equal(c->listen_port, 65535);
    config_free(c);

    static const char *const bad[] = {
        "ISSUERHOOK_LISTEN=localhost",  "ISSUERHOOK_LISTEN=127.0.0.1", "ISSUERHOOK_LISTEN=localhost:",
        "ISSUERHOOK_LISTEN=:8080",      "ISSUERHOOK_LISTEN=h:65536",   "ISSUERHOOK_LISTEN=h:80x",
        "ISSUERHOOK_LISTEN=h:-1",       "ISSUERHOOK_LISTEN=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_contains(load_env1_refused(bad[i]), "ISSUERHOOK_LISTEN");
}

/* A relative database path is made absolute against the working directory, once, at
 * load; a URI or conninfo string is left alone (no file system is touched). */
static void test_relative_db_path_resolved(void **state)
{
    (void)state;
    char cwd[512], want[600];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    static const struct {
        const char *given, *rel; /* rel: what follows cwd + "/"; NULL: unchanged */
    } cases[] = {
        {"./var/issuerhook.db", "var/issuerhook.db"},
        {"ih.db", "ih.db"},
        {".//a/../b.db", "a/../b.db"},
        {"/srv/ih/ih.db", NULL},
        {"postgresql://ih@db.example/ih", NULL},
        {"host=db.example dbname=ih", NULL},
        {"file:ih.db?mode=rwc", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char kv[200];
        snprintf(kv, sizeof(kv), "ISSUERHOOK_DB=%s", cases[i].given);
        struct config *c = load_env1_ok(kv);
        if (cases[i].rel)
            snprintf(want, sizeof(want), "%s/%s", cwd, cases[i].rel);
        else
            snprintf(want, sizeof(want), "%s", cases[i].given);
        assert_string_equal(c->db_path, want);
        config_free(c);
    }
    /* too long once joined: refused, naming the key */
    char kv[1100];
    snprintf(kv, sizeof(kv), "ISSUERHOOK_DB=%01020d", 0); /* fits alone, not after the folder */
    assert_contains(load_env1_refused(kv), "ISSUERHOOK_DB");
}

static void test_strings_have_bounds(void **state)
{
    (void)state;
    assert_contains(load_env1_refused("ISSUERHOOK_AUTH_HEADER="), "ISSUERHOOK_AUTH_HEADER");
    char kv[200];
    snprintf(kv, sizeof(kv), "ISSUERHOOK_AUTH_HEADER=%0100d", 0); /* 100 characters > 63 */
    assert_contains(load_env1_refused(kv), "ISSUERHOOK_AUTH_HEADER");
}

static void test_disk_fail_above_warn_refused(void **state)
{
    (void)state;
    char *env[] = {"ISSUERHOOK_DISK_WARN=100MiB", "ISSUERHOOK_DISK_FAIL=200MiB", NULL};
    assert_contains(load_refused(NULL, env), "ISSUERHOOK_DISK_FAIL");
}

/* ---- API keys ---- */

static void test_api_keys_from_env(void **state)
{
    (void)state;
    char h1[80], h2[80], kv1[200], kv2[200];
    hashed("secret-one", h1, sizeof(h1));
    hashed("secret-two", h2, sizeof(h2));
    snprintf(kv1, sizeof(kv1), "ISSUERHOOK_API_KEY_AMIKO=%s amiko:events,amiko:bookings", h1);
    snprintf(kv2, sizeof(kv2), "ISSUERHOOK_API_KEY_LEDGER=%s ledger:read", h2);
    char *env[] = {kv1, kv2, NULL};
    struct config *c = load_ok(NULL, env);
    assert_int_equal(c->keys.n, 2);

    const struct apikey *k = apikey_find(&c->keys, "secret-one", strlen("secret-one"));
    assert_non_null(k);
    assert_string_equal(k->name, "AMIKO");
    assert_int_equal(k->scopes, SCOPE_AMIKO_EVENTS | SCOPE_AMIKO_BOOKINGS);
    k = apikey_find(&c->keys, "secret-two", strlen("secret-two"));
    assert_non_null(k);
    assert_string_equal(k->name, "LEDGER");
    assert_int_equal(k->scopes, SCOPE_LEDGER_READ);
    config_free(c);
}

static void test_api_key_env_replaces_file_key_of_same_name(void **state)
{
    char h1[80], h2[80], line[200], kv[200];
    hashed("old-secret", h1, sizeof(h1));
    hashed("new-secret", h2, sizeof(h2));
    snprintf(line, sizeof(line), "ISSUERHOOK_API_KEY_AMIKO=\"%s amiko:events\"\n", h1);
    snprintf(kv, sizeof(kv), "ISSUERHOOK_API_KEY_AMIKO=%s amiko:bookings", h2);
    const char *path = conf_file(state, line);
    char *env[] = {kv, NULL};
    struct config *c = load_ok(path, env);
    assert_int_equal(c->keys.n, 1);
    assert_null(apikey_find(&c->keys, "old-secret", strlen("old-secret")));
    const struct apikey *k = apikey_find(&c->keys, "new-secret", strlen("new-secret"));
    assert_non_null(k);
    assert_int_equal(k->scopes, SCOPE_AMIKO_BOOKINGS);
    config_free(c);
}

static void test_api_key_unknown_scope_refused(void **state)
{
    (void)state;
    char h[80], kv[200];
    hashed("secret", h, sizeof(h));
    snprintf(kv, sizeof(kv), "ISSUERHOOK_API_KEY_AMIKO=%s amiko:events,admin:all", h);
    const char *e = load_env1_refused(kv);
    assert_contains(e, "ISSUERHOOK_API_KEY_AMIKO");
    assert_contains(e, "admin:all");
    assert_not_contains(e, h + 7); /* the hash is not echoed */
}

static void test_api_key_bad_hash_refused(void **state)
{
    (void)state;
    const char *e = load_env1_refused("ISSUERHOOK_API_KEY_AMIKO=plaintext-secret amiko:events");
    assert_contains(e, "ISSUERHOOK_API_KEY_AMIKO");
    assert_not_contains(e, "plaintext-secret");
}

/* ---- the reference ---- */

static const char *const all_keys[] = {
    "LISTEN",  "DB",          "MAX_BODY",       "AUTH_HEADER", "LOG_LEVEL",      "LOG_FORMAT",
    "THREADS", "CONNECTION_LIMIT", "CONNECTION_TIMEOUT", "BUSY_TIMEOUT_MS", "BATCH_MAX",
    "QUEUE_MAX", "RETRY_AFTER", "HEALTH_PUBLIC", "METRICS_PUBLIC", "DISK_WARN", "DISK_FAIL",
    "SHUTDOWN_GRACE", "DB_MAX_BYTES", "AMIKO_CALLBACK_URL", "AMIKO_CALLBACK_AUTH", "CALLBACK_CA_FILE",
    "CALLBACK_TIMEOUT_MS", "CALLBACK_CONNECT_TIMEOUT_MS", "CALLBACK_MAX_ATTEMPTS", "CALLBACK_BACKOFF_MS",
    "CALLBACK_BACKOFF_MAX_MS", "CALLBACK_CONCURRENCY", "PAN_KEY_FILE", "PAN_KEY_PREVIOUS", "PAN_KEY_DEVELOPMENT",
    "RATE_LIMIT", "RATE_BURST", "JWT_LEEWAY",
    "FEED_PAGE_BYTES", "FEED_READS",
    "JWT_MAX_LIFETIME",
    "HEADER_TIMEOUT", "BODY_TIMEOUT", "BODY_MIN_RATE", "PER_IP_CONNECTION_LIMIT", "CONNECTION_RESERVE",
    "AUTH_FAILURE_RATE", "AUTH_FAILURE_BURST", "TLS_CERT", "TLS_KEY", "TLS_CLIENT_CA", "TLS_PRIORITIES",
    "DB_PASSWORD_FILE",
};

/* The callback URL must be an http(s) template with {amikoBookingId}; the auth one
 * header line. */
static void test_callback_settings(void **state)
{
    (void)state;
    struct config *c = load_env1_ok("ISSUERHOOK_AMIKO_CALLBACK_URL=https://edge.example/b/{amikoBookingId}/status");
    assert_string_equal(c->callback_url, "https://edge.example/b/{amikoBookingId}/status");
    assert_int_equal(c->callback_max_attempts, 12);
    config_free(c);
    assert_contains(load_env1_refused("ISSUERHOOK_AMIKO_CALLBACK_URL=https://edge.example/status"),
                    "ISSUERHOOK_AMIKO_CALLBACK_URL");
    assert_contains(load_env1_refused("ISSUERHOOK_AMIKO_CALLBACK_URL=ftp://x/{amikoBookingId}"),
                    "ISSUERHOOK_AMIKO_CALLBACK_URL");
    assert_contains(load_env1_refused("ISSUERHOOK_AMIKO_CALLBACK_AUTH=just-a-token"), "ISSUERHOOK_AMIKO_CALLBACK_AUTH");
    assert_contains(load_env1_refused("ISSUERHOOK_CALLBACK_MAX_ATTEMPTS=0"), "ISSUERHOOK_CALLBACK_MAX_ATTEMPTS");
}

static char *reference_text(void)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    config_print_reference(f);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_reference_lists_every_key(void **state)
{
    (void)state;
    char *ref = reference_text();
    for (size_t i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "`ISSUERHOOK_%s`", all_keys[i]);
        assert_contains(ref, want);
    }
    assert_contains(ref, "ISSUERHOOK_API_KEY_<NAME>");
    assert_contains(ref, "`2MiB`");
    assert_contains(ref, "`127.0.0.1:8080`");
    free(ref);
}

/* Each row's printed default is a value config_load accepts for that key: the
 * reference and the parser agree. */
static void test_reference_defaults_are_accepted(void **state)
{
    (void)state;
    char *ref = reference_text();
    size_t rows = 0;
    /* rows look like: | `ISSUERHOOK_LISTEN` | `127.0.0.1:8080` | meaning | */
    for (char *line = ref; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *key = line + 2, *kend = NULL, *def = NULL, *dend = NULL;
        bool empty = false;
        if (strncmp(line, "| `ISSUERHOOK_", 14) == 0 && (kend = strchr(key + 1, '`')) != NULL &&
            ((strncmp(kend, "` | `", 5) == 0 && (dend = strchr(kend + 5, '`')) != NULL) ||
             (empty = strncmp(kend, "` | (empty) |", 13) == 0))) {
            def = kend + 5;
            if (empty)
                dend = def; /* "(empty)": the default is the empty string */
            char kv[200];
            snprintf(kv, sizeof(kv), "%.*s=%.*s", (int)(kend - key - 1), key + 1, (int)(dend - def), def);
            if (!strstr(kv, "<NAME>")) {
                struct config *c = load_env1_ok(kv);
                config_free(c);
                rows++;
            }
        }
        line = next;
    }
    free(ref);
    assert_int_equal(rows, sizeof(all_keys) / sizeof(all_keys[0]));
}

/* ---- the HTTP edge: slow clients, failed authentications, TLS, client subjects ---- */

static void test_edge_defaults_and_bounds(void **state)
{
    (void)state;
    struct config *c = load_ok(NULL, NULL);
    assert_int_equal(c->header_timeout_s, 10);
    assert_int_equal(c->body_timeout_s, 10);
    assert_int_equal(c->body_min_rate, 16 * 1024);
    assert_int_equal(c->per_ip_connection_limit, 256);
    assert_int_equal(c->connection_reserve, 64);
    assert_int_equal(c->auth_failure_rate, 1);
    assert_int_equal(c->auth_failure_burst, 20);
    assert_string_equal(c->tls_cert, "");
    assert_non_null(strstr(c->tls_priorities, "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"));
    assert_int_equal(c->nsubject_rules, 0);
    config_free(c);
    assert_contains(load_env1_refused("ISSUERHOOK_HEADER_TIMEOUT=0"), "ISSUERHOOK_HEADER_TIMEOUT");
    assert_contains(load_env1_refused("ISSUERHOOK_BODY_MIN_RATE=0"), "ISSUERHOOK_BODY_MIN_RATE");
    /* the reserve is part of the connection limit */
    const char *e = load_env1_refused("ISSUERHOOK_CONNECTION_RESERVE=1024");
    assert_contains(e, "ISSUERHOOK_CONNECTION_RESERVE");
    assert_contains(e, "ISSUERHOOK_CONNECTION_LIMIT");
    c = load_env1_ok("ISSUERHOOK_PER_IP_CONNECTION_LIMIT=0");
    assert_int_equal(c->per_ip_connection_limit, 0);
    config_free(c);
}

static void test_public_health_and_metrics_values(void **state)
{
    (void)state;
    struct config *c = load_env1_ok("ISSUERHOOK_HEALTH_PUBLIC=loopback");
    assert_int_equal(c->health_public, PUBLIC_LOOPBACK);
    assert_int_equal(c->metrics_public, PUBLIC_ALL);
    config_free(c);
    c = load_env1_ok("ISSUERHOOK_METRICS_PUBLIC=false");
    assert_int_equal(c->metrics_public, PUBLIC_NONE);
    config_free(c);
    assert_contains(load_env1_refused("ISSUERHOOK_METRICS_PUBLIC=local"), "true, false or loopback");
}

static void test_tls_keys_go_together(void **state)
{
    (void)state;
    assert_contains(load_env1_refused("ISSUERHOOK_TLS_CERT=/etc/ih/cert.pem"), "ISSUERHOOK_TLS_KEY");
    assert_contains(load_env1_refused("ISSUERHOOK_TLS_KEY=/etc/ih/key.pem"), "ISSUERHOOK_TLS_CERT");
    assert_contains(load_env1_refused("ISSUERHOOK_TLS_CLIENT_CA=/etc/ih/ca.pem"), "ISSUERHOOK_TLS_CLIENT_CA");
    char *env[] = {"ISSUERHOOK_TLS_CERT=/c.pem", "ISSUERHOOK_TLS_KEY=/k.pem", "ISSUERHOOK_TLS_CLIENT_CA=/ca.pem", NULL};
    struct config *c = load_ok(NULL, env);
    assert_string_equal(c->tls_cert, "/c.pem");
    assert_string_equal(c->tls_client_ca, "/ca.pem");
    config_free(c);
}

static void test_client_subject_rules(void **state)
{
    (void)state;
    char *env[] = {"ISSUERHOOK_TLS_CERT=/c.pem", "ISSUERHOOK_TLS_KEY=/k.pem", "ISSUERHOOK_TLS_CLIENT_CA=/ca.pem",
                   "ISSUERHOOK_CLIENT_SUBJECT_AMIKO=amiko:events,amiko:bookings CN=amiko-prod,O=Amiko Ltd",
                   "ISSUERHOOK_CLIENT_SUBJECT_ADAPTER=cardAdapter/write   CN=adapter ", NULL};
    struct config *c = load_ok(NULL, env);
    assert_int_equal(c->nsubject_rules, 2);
    assert_string_equal(c->subject_rules[0].name, "AMIKO");
    assert_int_equal(c->subject_rules[0].scopes, SCOPE_AMIKO_EVENTS | SCOPE_AMIKO_BOOKINGS);
    assert_string_equal(c->subject_rules[0].subject, "CN=amiko-prod,O=Amiko Ltd"); /* spaces inside stay */
    assert_string_equal(c->subject_rules[1].subject, "CN=adapter");                /* trailing ones do not */
    config_free(c);
    char *no_ca[] = {"ISSUERHOOK_CLIENT_SUBJECT_AMIKO=amiko:events CN=amiko", NULL};
    assert_contains(load_refused(NULL, no_ca), "ISSUERHOOK_TLS_CLIENT_CA");
    assert_contains(load_env1_refused("ISSUERHOOK_CLIENT_SUBJECT_X=amiko:events"), "ISSUERHOOK_CLIENT_SUBJECT_X");
    assert_contains(load_env1_refused("ISSUERHOOK_CLIENT_SUBJECT_X=no:such CN=a"), "unknown scope 'no:such'");
}

static void test_api_key_subject(void **state)
{
    (void)state;
    char key[200], tls[3][64] = {"ISSUERHOOK_TLS_CERT=/c.pem", "ISSUERHOOK_TLS_KEY=/k.pem",
                                 "ISSUERHOOK_TLS_CLIENT_CA=/ca.pem"};
    char v[120];
    hashed("secret", v, sizeof(v));
    snprintf(key, sizeof(key), "ISSUERHOOK_API_KEY_AMIKO=%s amiko:events subject=CN=amiko-prod,O=Amiko", v);
    char *env[] = {tls[0], tls[1], tls[2], key, NULL};
    struct config *c = load_ok(NULL, env);
    assert_string_equal(c->keys.keys[0].subject, "CN=amiko-prod,O=Amiko");
    assert_int_equal(c->keys.keys[0].scopes, SCOPE_AMIKO_EVENTS);
    config_free(c);
    char *no_ca[] = {key, NULL};
    assert_contains(load_refused(NULL, no_ca), "ISSUERHOOK_TLS_CLIENT_CA");
    snprintf(key, sizeof(key), "ISSUERHOOK_API_KEY_AMIKO=%s amiko:events cert=CN=x", v);
    assert_contains(load_env1_refused(key), "subject=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_without_file_or_env),
        cmocka_unit_test(test_edge_defaults_and_bounds),
        cmocka_unit_test(test_public_health_and_metrics_values),
        cmocka_unit_test(test_tls_keys_go_together),
        cmocka_unit_test(test_client_subject_rules),
        cmocka_unit_test(test_api_key_subject),
        cmocka_unit_test(test_callback_settings),
        cmocka_unit_test_setup_teardown(test_file_key_value_lines, setup_file, teardown_file),
        cmocka_unit_test_setup_teardown(test_file_ignores_other_variables, setup_file, teardown_file),
        cmocka_unit_test_setup_teardown(test_file_bad_value_names_key_and_line, setup_file, teardown_file),
        cmocka_unit_test_setup_teardown(test_file_line_without_equals_refused, setup_file, teardown_file),
        cmocka_unit_test_setup_teardown(test_file_quoting_as_systemd_reads_it, setup_file, teardown_file),
        cmocka_unit_test_setup_teardown(test_file_refuses_what_systemd_reads_otherwise, setup_file, teardown_file),
        cmocka_unit_test(test_file_that_cannot_be_read_refused),
        cmocka_unit_test_setup_teardown(test_file_unknown_key_refused, setup_file, teardown_file),
        cmocka_unit_test(test_missing_file_refused),
        cmocka_unit_test_setup_teardown(test_environment_wins_over_file, setup_file, teardown_file),
        cmocka_unit_test_setup_teardown(test_env_overrides_drop_copies_of_the_file, setup_file, teardown_file),
        cmocka_unit_test(test_env_bad_value_names_key),
        cmocka_unit_test(test_env_unknown_key_refused),
        cmocka_unit_test(test_env_other_variables_ignored),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_whole_numbers_and_bounds),
        cmocka_unit_test(test_booleans_levels_and_formats),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_relative_db_path_resolved),
        cmocka_unit_test(test_strings_have_bounds),
        cmocka_unit_test(test_disk_fail_above_warn_refused),
        cmocka_unit_test(test_api_keys_from_env),
        cmocka_unit_test_setup_teardown(test_api_key_env_replaces_file_key_of_same_name, setup_file,
                                        teardown_file),
        cmocka_unit_test(test_api_key_unknown_scope_refused),
        cmocka_unit_test(test_api_key_bad_hash_refused),
        cmocka_unit_test(test_reference_lists_every_key),
        cmocka_unit_test(test_reference_defaults_are_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
