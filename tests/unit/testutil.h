/* Shared helpers for the cmocka unit tests: JSON literals, fixture files and
 * assertions on checker violations ("there is a violation at pointer P with rule R").
 * Header-only; every function is static inline so each test file takes what it uses. */
#ifndef ISSUERHOOK_TESTUTIL_H
#define ISSUERHOOK_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/check.h"

/* ---- strings ---- */

#define assert_contains(hay, needle) tu_assert_contains((hay), (needle), true, __FILE__, __LINE__)
#define assert_not_contains(hay, needle) tu_assert_contains((hay), (needle), false, __FILE__, __LINE__)

static inline void tu_assert_contains(const char *hay, const char *needle, bool want, const char *file, int line)
{
    if (!hay) {
        print_error("expected a string, got NULL\n");
        _fail(file, line);
        return; /* _fail longjmps; this tells the compiler hay is not used as NULL */
    }
    if ((strstr(hay, needle) != NULL) != want) {
        print_error("\"%s\" %s \"%s\"\n", hay, want ? "does not contain" : "contains", needle);
        _fail(file, line);
    }
}

/* ---- JSON ---- */

/* Parses a JSON literal written in a test; any parse error fails the test. Caller owns it. */
#define tu_json(text) tu_json_at((text), __FILE__, __LINE__)

static inline json_t *tu_json_at(const char *text, const char *file, int line)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!v) {
        print_error("bad JSON in the test: %s (line %d, column %d)\n", e.text, e.line, e.column);
        _fail(file, line);
    }
    return v;
}

/* Reads a whole file; caller frees. Fails the test when the file cannot be read. */
static inline char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_error("cannot open %s\n", path);
        fail();
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (cap ? cap * 2 : 8192);
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

#ifdef FIXTURES_DIR
/* Loads tests/fixtures/<rel> as JSON. Caller owns it. */
static inline json_t *tu_fixture(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, rel);
    json_error_t e;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!v) {
        print_error("fixture %s: %s (line %d)\n", path, e.text, e.line);
        fail();
    }
    return v;
}
#endif

/* Sets (value non-NULL; reference stolen) or deletes (value NULL) the member named by
 * a simple JSON Pointer such as "/header/eventId" (no escapes, objects only). Every
 * object on the way must exist. Used to derive one-rule-broken payloads from a sample. */
static inline void tu_json_set(json_t *root, const char *pointer, json_t *value)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", pointer);
    assert_true(buf[0] == '/');
    json_t *obj = root;
    char *seg = buf + 1;
    for (char *slash; (slash = strchr(seg, '/')) != NULL; seg = slash + 1) {
        *slash = '\0';
        obj = json_object_get(obj, seg);
        if (!json_is_object(obj)) {
            print_error("tu_json_set: no object at segment \"%s\" of %s\n", seg, pointer);
            fail();
        }
    }
    if (value)
        assert_int_equal(json_object_set_new(obj, seg, value), 0);
    else
        assert_int_equal(json_object_del(obj, seg), 0);
}
#define tu_json_del(root, pointer) tu_json_set((root), (pointer), NULL)

/* ---- checker violations ---- */

static inline void tu_print_violations(const struct check_result *r)
{
    print_error("  %zu violation(s), %zu dropped:\n", r->n, r->dropped);
    for (size_t i = 0; i < r->n; i++)
        print_error("    \"%s\" %s: %s\n", r->v[i].pointer, r->v[i].rule, r->v[i].message);
}

static inline const struct violation *tu_find_violation(const struct check_result *r, const char *pointer,
                                                        const char *rule)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].pointer, pointer) == 0 && strcmp(r->v[i].rule, rule) == 0)
            return &r->v[i];
    return NULL;
}

/* There is a violation at pointer with rule (others may exist). */
#define assert_violation(r, pointer, rule) tu_assert_violation((r), (pointer), (rule), __FILE__, __LINE__)
/* That violation is the only one. */
#define assert_only_violation(r, pointer, rule) \
    tu_assert_only_violation((r), (pointer), (rule), __FILE__, __LINE__)
/* No violation at all (and none dropped). */
#define assert_no_violations(r) tu_assert_violation_count((r), 0, __FILE__, __LINE__)
#define assert_violation_count(r, n) tu_assert_violation_count((r), (n), __FILE__, __LINE__)

static inline void tu_assert_violation(const struct check_result *r, const char *pointer, const char *rule,
                                       const char *file, int line)
{
    if (!tu_find_violation(r, pointer, rule)) {
        print_error("no violation \"%s\" %s\n", pointer, rule);
        tu_print_violations(r);
        _fail(file, line);
    }
}

static inline void tu_assert_violation_count(const struct check_result *r, size_t n, const char *file, int line)
{
    if (r->n != n || r->dropped != 0) {
        print_error("expected %zu violation(s)\n", n);
        tu_print_violations(r);
        _fail(file, line);
    }
}

static inline void tu_assert_only_violation(const struct check_result *r, const char *pointer, const char *rule,
                                            const char *file, int line)
{
    tu_assert_violation_count(r, 1, file, line);
    tu_assert_violation(r, pointer, rule, file, line);
}

/* ---- fixture files and their verdicts ----
 * tests/fixtures/<api>/verdicts.json maps "valid/x.json" and "invalid/y.json" to the
 * violations each must give: an array of [pointer, rule] pairs, or an object whose
 * "violations" member is that array. */

typedef void (*tu_check_fn)(const json_t *root, struct check_result *res);

static inline json_t *tu_verdict_violations(json_t *entry)
{
    return json_is_object(entry) ? json_object_get(entry, "violations") : entry;
}

/* res holds exactly the violations of want; rel names the fixture in a failure. */
static inline void tu_assert_verdict(const struct check_result *res, json_t *want, const char *rel)
{
    assert_true(json_is_array(want));
    if (res->n != json_array_size(want) || res->dropped)
        print_error("%s:\n", rel);
    assert_violation_count(res, json_array_size(want));
    size_t i;
    json_t *pr;
    json_array_foreach(want, i, pr) {
        const char *ptr = json_string_value(json_array_get(pr, 0));
        const char *rule = json_string_value(json_array_get(pr, 1));
        assert_non_null(ptr);
        assert_non_null(rule);
        if (!tu_find_violation(res, ptr, rule))
            print_error("%s:\n", rel);
        assert_violation(res, ptr, rule);
    }
}

/* Every entry of <api>/verdicts.json: its file, checked with check, gives exactly the
 * listed violations; at least min_checked entries. */
static inline void tu_check_verdicts(const char *api, tu_check_fn check, size_t min_checked)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/verdicts.json", api);
    json_t *verdicts = tu_fixture(path);
    const char *name;
    json_t *entry;
    size_t checked = 0;
    json_object_foreach(verdicts, name, entry) {
        if (name[0] == '_')
            continue;
        char rel[512];
        snprintf(rel, sizeof(rel), "%s/%s", api, name);
        json_t *root = tu_fixture(rel);
        struct check_result res;
        memset(&res, 0, sizeof(res));
        check(root, &res);
        tu_assert_verdict(&res, tu_verdict_violations(entry), rel);
        check_result_clear(&res);
        json_decref(root);
        checked++;
    }
    json_decref(verdicts);
    assert_true(checked >= min_checked);
}

/* Every payload under <api>/valid and <api>/invalid has a verdict: none for valid/,
 * some for invalid/; each folder holds at least min_files payloads. */
static inline void tu_check_every_fixture_has_verdict(const char *api, size_t min_files)
{
    char vpath[256];
    snprintf(vpath, sizeof(vpath), "%s/verdicts.json", api);
    json_t *verdicts = tu_fixture(vpath);
    static const char *const dirs[] = {"valid", "invalid"};
    for (size_t d = 0; d < 2; d++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s/%s", FIXTURES_DIR, api, dirs[d]);
        DIR *dir = opendir(path);
        assert_non_null(dir);
        size_t files = 0;
        for (struct dirent *e; (e = readdir(dir)) != NULL;) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 5, ".json") != 0)
                continue;
            char key[512];
            snprintf(key, sizeof(key), "%s/%s", dirs[d], e->d_name);
            json_t *entry = json_object_get(verdicts, key);
            if (!entry)
                print_error("%s has no entry in verdicts.json\n", key);
            assert_non_null(entry);
            size_t n = json_array_size(tu_verdict_violations(entry));
            if (d == 0)
                assert_int_equal(n, 0);
            else
                assert_true(n > 0);
            files++;
        }
        closedir(dir);
        assert_true(files >= min_files);
    }
    json_decref(verdicts);
}

#endif
