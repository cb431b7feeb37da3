/* Unit tests of the EnvironmentFile= reader (include/issuerhook/envfile.h).
 *
 * One table: each input with what systemd 252 (Debian 12) makes of it under
 * EnvironmentFile= — the variables the service gets, or "refuses the file" — and our
 * verdict: the same variables, or a refusal naming the line. test_table_ours checks our
 * side; test_table_is_what_systemd_does runs every input through systemd's own parser
 * (load_env_file() and strv_env_clean_with_callback(), as exec_context_load_environment()
 * calls them, from the machine's libsystemd-shared) and checks the recorded column, so
 * the table cannot drift from systemd. It is skipped where libsystemd-shared is absent;
 * on a systemd other than 252 only the rows marked as the same in later versions are
 * compared. */
#include "testutil.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/envfile.h"

#define TEXT(s) s, sizeof(s) - 1

struct envcase {
    const char *what;
    const char *text;
    size_t len;
    const char *sd[6]; /* what systemd 252 gives the service, in its order */
    bool sd_refuses;   /* systemd refuses the whole file: the unit does not start */
    bool sd_252_only;  /* systemd 254 and later read it otherwise */
    unsigned line;     /* 0: accepted, with exactly sd; else the line our refusal names */
    const char *why;   /* a phrase of our refusal */
};

static const struct envcase cases[] = {
    /* ---- accepted: systemd and we read the same ---- */
    {"plain", TEXT("A=1\nB=two words\n"), {"A=1", "B=two words"}, false, false, 0, NULL},
    {"no newline at the end", TEXT("A=1"), {"A=1"}, false, false, 0, NULL},
    {"empty file", TEXT(""), {NULL}, false, false, 0, NULL},
    {"blank lines and comments", TEXT("\n  \n# c\n  # indented\n;semicolon\nA=1\n"), {"A=1"}, false, false, 0,
     NULL},
    {"white space around key and value", TEXT("  A = v  \n\tB\t=\tv\t\n"), {"A=v", "B=v"}, false, false, 0, NULL},
    {"empty values", TEXT("A=\nB=\"\"\nC=''\nD=   \n"), {"A=", "B=", "C=", "D="}, false, false, 0, NULL},
    {"single quotes: all literal", TEXT("A='a \"b\" \\n $HOME # x'\n"), {"A=a \"b\" \\n $HOME # x"}, false, false,
     0, NULL},
    {"double quotes: \\\" \\\\ \\$ \\` unescaped, other backslashes kept", TEXT("A=\"q\\\"q \\\\ \\$x \\` \\n\"\n"),
     {"A=q\"q \\ $x ` \\n"}, false, false, 0, NULL},
    {"white space around a quoted value", TEXT("A=\"x\"   \nB= \"y\"\nC=\"  c  \"\n"), {"A=x", "B=y", "C=  c  "},
     false, false, 0, NULL},
    {"backslash escapes unquoted", TEXT("A=a\\#b\\\"c\\\\d\\ \n"), {"A=a#b\"c\\d "}, false, false, 0, NULL},
    {"continuation line, unquoted", TEXT("A=one \\\n  two\nB=2\n"), {"A=one   two", "B=2"}, false, false, 0, NULL},
    {"continuation line, double quotes", TEXT("A=\"one \\\ntwo\"\n"), {"A=one two"}, false, false, 0, NULL},
    {"no expansion", TEXT("A=$HOME\nB=\"${X}\"\n"), {"A=$HOME", "B=${X}"}, false, false, 0, NULL},
    {"'#' inside a value", TEXT("A=#x\nB=a#b\nC=v ;c\n"), {"A=#x", "B=a#b", "C=v ;c"}, false, false, 0, NULL},
    {"'=' inside a value", TEXT("A=a=b\n"), {"A=a=b"}, false, false, 0, NULL},
    {"CRLF line ends", TEXT("A=1\r\nB=\"2\"\r\n# c\r\n\r\nC=3"), {"A=1", "B=2", "C=3"}, false, false, 0, NULL},
    {"tab inside a value", TEXT("A=a\tb\n"), {"A=a\tb"}, false, false, 0, NULL},
    {"UTF-8", TEXT("A=\xc3\xa9t\xc3\xa9\n"), {"A=\xc3\xa9t\xc3\xa9"}, false, false, 0, NULL},
    {"names", TEXT("_a1=x\nlower=y\n"), {"_a1=x", "lower=y"}, false, false, 0, NULL},
    {"comment ending in an escaped backslash", TEXT("# c \\\\\nA=1\n"), {"A=1"}, false, false, 0, NULL},
    {"an API key line", TEXT("ISSUERHOOK_API_KEY_X=sha256:ab amiko:events,ledger:read\n"),
     {"ISSUERHOOK_API_KEY_X=sha256:ab amiko:events,ledger:read"}, false, false, 0, NULL},

    /* ---- refused: systemd ignores, mangles or refuses ---- */
    {"export", TEXT("export A=1\nB=2\n"), {"B=2"}, false, false, 1, "`export` is shell syntax"},
    {"a line without '='", TEXT("A=1\nB\nC=3\n"), {"A=1", "C=3"}, false, false, 2, "expected KEY=VALUE"},
    {"a last line without '='", TEXT("A=1\nB"), {"A=1"}, false, false, 2, "expected KEY=VALUE"},
    {"no key", TEXT("=x\nA=1\n"), {"A=1"}, false, false, 1, "no key before '='"},
    {"a name starting with a digit", TEXT("A=1\n9A=1\n"), {"A=1"}, false, false, 2, "\"9A\" is not a variable name"},
    {"a space in the key", TEXT("A B=1\n"), {NULL}, false, false, 1, "\"A B\" is not a variable name"},
    {"a dash in the key", TEXT("A-B=1\n"), {NULL}, false, false, 1, "\"A-B\" is not a variable name"},
    {"a byte order mark", TEXT("\xef\xbb\xbf" "A=1\nB=2\n"), {"B=2"}, false, false, 1, "byte order mark"},
    {"a comment after a quoted value", TEXT("A=\"v\" # comment\n"), {"A=v# comment"}, false, false, 1,
     "text after the closing quote"},
    {"two quoted words", TEXT("A=\"a\" \"b\"\n"), {"A=ab"}, false, false, 1, "text after the closing quote"},
    {"quotes glued", TEXT("A='a'b\n"), {"A=ab"}, false, false, 1, "text after the closing quote"},
    {"a continuation after a quote", TEXT("A=\"a\"\\\nb\n"), {"A=ab"}, false, false, 1,
     "text after the closing quote"},
    {"a comment after an unquoted value", TEXT("A=1\nB=v # comment\n"), {"A=1", "B=v # comment"}, false, false, 2,
     "'#' after white space"},
    {"a comment where the value should be", TEXT("A= # none\n"), {"A=# none"}, false, false, 1,
     "'#' after white space"},
    {"a quote inside an unquoted value", TEXT("A=a \"b\" c\n"), {"A=a \"b\" c"}, false, false, 1,
     "a quote inside an unquoted value"},
    {"an unclosed quote", TEXT("A=\"/tmp/a.db\nB=2\nC=3\n"), {"A=/tmp/a.db\nB=2\nC=3\n"}, false, false, 1,
     "not closed on its line"},
    {"an unclosed quote at the end", TEXT("A=1\nB='x"), {"A=1", "B=x"}, false, false, 2, "never closed"},
    {"a quoted value over two lines", TEXT("A=\"x\ny\"\nB=2\n"), {"A=x\ny", "B=2"}, false, false, 1,
     "not closed on its line"},
    {"a comment ending in a backslash", TEXT("# c \\\nA=1\nB=2\n"), {"B=2"}, false, true, 1,
     "comment ending in a backslash"},
    {"a backslash before CRLF", TEXT("A=a\\\r\nb\r\n"), {"A=a"}, false, false, 1, "backslash before a CRLF"},
    {"a carriage return alone", TEXT("A=1\rB=2\n"), {"A=1", "B=2"}, false, false, 1, "carriage return"},
    {"a backslash at the end of the file", TEXT("A=x\\"), {"A=x"}, false, false, 1, "ends in a backslash"},
    {"a NUL byte", TEXT("A=1\nB=x\0y\n"), {NULL}, true, false, 2, "NUL byte"},
    {"invalid UTF-8", TEXT("A=1\nB=\xff\n"), {NULL}, true, false, 2, "not valid UTF-8"},
    {"a non-character", TEXT("A=\xef\xbf\xbf\n"), {NULL}, true, false, 1, "not valid UTF-8"},
    {"a control character", TEXT("A=x\x01y\n"), {"A=x\x01y"}, false, true, 1, "control character"},
    {"a key given twice", TEXT("A=1\nB=2\nA=3\n"), {"A=3", "B=2"}, false, false, 3,
     "A is given twice (first on line 1)"},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- our side ---- */

struct got {
    char *kv[8];
    size_t n;
};

static ih_status collect(void *arg, const char *key, const char *value, unsigned line, char *err, size_t errlen)
{
    (void)line, (void)err, (void)errlen;
    struct got *g = arg;
    assert_true(g->n < 8);
    size_t cap = strlen(key) + strlen(value) + 2;
    g->kv[g->n] = malloc(cap);
    assert_non_null(g->kv[g->n]);
    snprintf(g->kv[g->n++], cap, "%s=%s", key, value);
    return IH_OK;
}

static void got_clear(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->kv[i]);
    g->n = 0;
}

static void assert_same_list(char *const *have, size_t n, const char *const *want, const char *what)
{
    size_t w = 0;
    while (want[w])
        w++;
    bool same = n == w;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(have[i], want[i]) == 0;
    if (!same) {
        print_error("%s: got %zu assignment(s):\n", what, n);
        for (size_t i = 0; i < n; i++)
            print_error("  [%s]\n", have[i]);
        print_error("want %zu:\n", w);
        for (size_t i = 0; i < w; i++)
            print_error("  [%s]\n", want[i]);
        fail();
    }
}

static void test_table_ours(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct envcase *c = &cases[i];
        struct got g = {0};
        char err[512] = "";
        ih_status rc = envfile_parse(c->text, c->len, "case", collect, &g, err, sizeof(err));
        if (c->line == 0) {
            if (rc != IH_OK)
                print_error("%s: refused: %s\n", c->what, err);
            assert_int_equal(rc, IH_OK);
            assert_same_list(g.kv, g.n, c->sd, c->what);
        } else {
            char where[32];
            snprintf(where, sizeof(where), "line %u of case: ", c->line);
            if (rc != IH_EINVAL)
                print_error("%s: not refused\n", c->what);
            assert_int_equal(rc, IH_EINVAL);
            assert_contains(err, where);
            assert_contains(err, c->why);
        }
        got_clear(&g);
    }
}

/* ---- systemd's side ---- */

typedef int (*load_env_file_fn)(FILE *f, const char *fname, char ***ret);
typedef char **(*strv_env_clean_fn)(char **e, void (*invalid)(const char *p, void *userdata), void *userdata);

/* dlopen()s the machine's libsystemd-shared-<version>.so; *version from its name. */
static void *open_libsystemd_shared(unsigned *version)
{
    static const char *const patterns[] = {"/usr/lib/*/systemd/libsystemd-shared-*.so",
                                           "/usr/lib/systemd/libsystemd-shared-*.so",
                                           "/lib/*/systemd/libsystemd-shared-*.so"};
    void *h = NULL;
    for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]) && !h; p++) {
        glob_t gl;
        if (glob(patterns[p], 0, NULL, &gl) != 0)
            continue;
        for (size_t i = 0; i < gl.gl_pathc && !h; i++) {
            const char *v = strrchr(gl.gl_pathv[i], '-');
            *version = v ? (unsigned)strtoul(v + 1, NULL, 10) : 0;
            h = dlopen(gl.gl_pathv[i], RTLD_NOW | RTLD_LOCAL);
        }
        globfree(&gl);
    }
    return h;
}

static void test_table_is_what_systemd_does(void **state)
{
    (void)state;
    unsigned version = 0;
    void *h = open_libsystemd_shared(&version);
    if (!h) {
        print_message("libsystemd-shared not found: systemd's reading of the table is not checked here\n");
        skip();
    }
    load_env_file_fn load = (load_env_file_fn)dlsym(h, "load_env_file");
    strv_env_clean_fn clean = (strv_env_clean_fn)dlsym(h, "strv_env_clean_with_callback");
    assert_non_null(load);
    assert_non_null(clean);
    char path[] = "/tmp/ih-unit-envfile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    size_t compared = 0;
    for (size_t i = 0; i < NCASES; i++) {
        const struct envcase *c = &cases[i];
        if (c->sd_252_only && version != 252)
            continue;
        if (version != 252 && c->line != 0)
            continue; /* only what we accept must read the same in every version */
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(c->text, 1, c->len, f), c->len);
        fclose(f);
        char **l = NULL;
        int r = load(NULL, path, &l);
        if (c->sd_refuses) {
            if (r >= 0)
                print_error("%s: systemd %u does not refuse the file\n", c->what, version);
            assert_true(r < 0);
        } else {
            if (r < 0)
                print_error("%s: systemd %u refuses the file (%d)\n", c->what, version, r);
            assert_true(r >= 0);
            l = clean(l, NULL, NULL);
            size_t n = 0;
            while (l && l[n])
                n++;
            char what[160];
            snprintf(what, sizeof(what), "systemd %u on \"%s\"", version, c->what);
            assert_same_list(l, n, c->sd, what);
            for (size_t k = 0; k < n; k++)
                free(l[k]);
        }
        free(l);
        compared++;
    }
    unlink(path);
    print_message("systemd %u read %zu of the %zu inputs as the table says\n", version, compared, NCASES);
    assert_true(compared > 0);
    dlclose(h);
}

/* The shipped configuration files read the same to the daemon and to systemd. */
static void test_shipped_files_read_the_same(void **state)
{
    (void)state;
    static const char *const files[] = {CONFIG_DIR "/dev.env", CONFIG_DIR "/production.env.example"};
    unsigned version = 0;
    void *h = open_libsystemd_shared(&version);
    load_env_file_fn load = h ? (load_env_file_fn)dlsym(h, "load_env_file") : NULL;
    strv_env_clean_fn clean = h ? (strv_env_clean_fn)dlsym(h, "strv_env_clean_with_callback") : NULL;
    for (size_t i = 0; i < 2; i++) {
        struct got g = {0};
        char err[512] = "";
        if (envfile_read(files[i], collect, &g, err, sizeof(err)) != IH_OK)
            print_error("%s\n", err);
        assert_true(g.n > 0);
        if (load && clean) {
            char **l = NULL;
            assert_int_equal(load(NULL, files[i], &l), 0);
            l = clean(l, NULL, NULL);
            assert_same_list(g.kv, g.n, (const char *const *)l, files[i]);
            for (size_t k = 0; l && l[k]; k++)
                free(l[k]);
            free(l);
        }
        got_clear(&g);
    }
    if (h)
        dlclose(h);
}

/* ---- messages, callbacks, files ---- */

static void test_messages_never_quote_a_value(void **state)
{
    (void)state;
    static const char *const texts[] = {"A=\"s3cret\n", "A=s3cret # x\n", "A=s3\"cret\n", "A=\"s3cret\" x\n",
                                        "A=s3cret\x01\n", "A=s3cret\\"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct got g = {0};
        char err[512] = "";
        assert_int_equal(envfile_parse(texts[i], strlen(texts[i]), "f", collect, &g, err, sizeof(err)), IH_EINVAL);
        assert_not_contains(err, "s3");
        assert_contains(err, "line 1 of f");
        got_clear(&g);
    }
}

static ih_status refuse_b(void *arg, const char *key, const char *value, unsigned line, char *err, size_t errlen)
{
    (void)value;
    int *calls = arg;
    (*calls)++;
    if (strcmp(key, "B") == 0) {
        snprintf(err, errlen, "B on line %u is wrong", line);
        return IH_EINVAL;
    }
    return IH_OK;
}

/* The callback sees the line an assignment starts on; its refusal stops the parse. */
static void test_callback_refusal_stops(void **state)
{
    (void)state;
    int calls = 0;
    char err[128];
    const char text[] = "A=1\n\n# x\nB=one \\\ntwo\nC=3\n";
    assert_int_equal(envfile_parse(text, sizeof(text) - 1, "f", refuse_b, &calls, err, sizeof(err)), IH_EINVAL);
    assert_int_equal(calls, 2);
    assert_string_equal(err, "B on line 4 is wrong");
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void test_read_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/ih-unit-envfile-XXXXXX", path[64], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/x.env", dir);
    struct got g = {0};

    write_file(path, TEXT("A=1\nB=\"2\"\n"));
    assert_int_equal(envfile_read(path, collect, &g, err, sizeof(err)), IH_OK);
    const char *want[] = {"A=1", "B=2", NULL};
    assert_same_list(g.kv, g.n, want, "file");
    got_clear(&g);

    /* a directory, a missing file, a file that fails to read: errors, not an empty file */
    assert_int_equal(envfile_read(dir, collect, &g, err, sizeof(err)), IH_EIO);
    assert_contains(err, dir);
    assert_contains(err, "is a directory");
    assert_int_equal(envfile_read("/nonexistent/x.env", collect, &g, err, sizeof(err)), IH_EIO);
    assert_contains(err, "/nonexistent/x.env");
    assert_contains(err, "No such file or directory");
    assert_int_equal(envfile_read("/proc/self/mem", collect, &g, err, sizeof(err)), IH_EIO);
    assert_contains(err, "cannot read the configuration file /proc/self/mem: Input/output error");
    if (geteuid() != 0) { /* root reads it anyway */
        write_file(path, TEXT("A=1\n"));
        assert_int_equal(chmod(path, 0), 0);
        assert_int_equal(envfile_read(path, collect, &g, err, sizeof(err)), IH_EIO);
        assert_contains(err, "Permission denied");
    }
    assert_int_equal(g.n, 0);

    /* the size ceiling: ENVFILE_MAX_BYTES is read, one byte more is refused */
    char *big = malloc(ENVFILE_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, '#', ENVFILE_MAX_BYTES + 1);
    big[ENVFILE_MAX_BYTES - 1] = '\n';
    write_file(path, big, ENVFILE_MAX_BYTES);
    assert_int_equal(envfile_read(path, collect, &g, err, sizeof(err)), IH_OK);
    write_file(path, big, ENVFILE_MAX_BYTES + 1);
    assert_int_equal(envfile_read(path, collect, &g, err, sizeof(err)), IH_EIO);
    assert_contains(err, "larger than");
    free(big);
    unlink(path);
    rmdir(dir);
}

/* The limits: key length, number of assignments. */
static void test_limits(void **state)
{
    (void)state;
    char err[512];
    struct got g = {0};
    char key[ENVFILE_KEY_MAX + 8];
    memset(key, 'K', sizeof(key));
    memcpy(key + ENVFILE_KEY_MAX, "=1\n", 4);
    assert_int_equal(envfile_parse(key, strlen(key), "f", collect, &g, err, sizeof(err)), IH_OK);
    got_clear(&g);
    memcpy(key + ENVFILE_KEY_MAX, "K=1\n", 5);
    assert_int_equal(envfile_parse(key, strlen(key), "f", collect, &g, err, sizeof(err)), IH_EINVAL);
    assert_contains(err, "longer than");

    size_t cap = (ENVFILE_MAX_KEYS + 1) * 12;
    char *text = malloc(cap), *p = text;
    assert_non_null(text);
    for (unsigned i = 0; i <= ENVFILE_MAX_KEYS; i++)
        p += snprintf(p, cap - (size_t)(p - text), "K%u=\n", i);
    int calls = 0;
    assert_int_equal(envfile_parse(text, (size_t)(p - text), "f", refuse_b, &calls, err, sizeof(err)), IH_EINVAL);
    assert_int_equal(calls, ENVFILE_MAX_KEYS);
    assert_contains(err, "more than 4096 assignments");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_ours),
        cmocka_unit_test(test_table_is_what_systemd_does),
        cmocka_unit_test(test_shipped_files_read_the_same),
        cmocka_unit_test(test_messages_never_quote_a_value),
        cmocka_unit_test(test_callback_refusal_stops),
        cmocka_unit_test(test_read_files),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
