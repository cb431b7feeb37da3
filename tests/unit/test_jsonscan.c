/* The member scanner (src/util/jsonscan.c) against hand-made edge cases and against
 * jansson on every valid fixture: for each member of each object, the scanned text
 * parses to the value jansson found. */
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

#include "issuerhook/jsonscan.h"

/* The text at pointer in doc, or NULL when absent (static buffer). */
static const char *at(const char *doc, const char *pointer)
{
    static char out[256];
    const char *p;
    size_t n;
    if (!jsonscan_pointer(doc, strlen(doc), pointer, &p, &n))
        return NULL;
    snprintf(out, sizeof(out), "%.*s", (int)n, p);
    return out;
}

static void test_members(void **state)
{
    (void)state;
    const char *doc = " { \"a\" : 1 , \"b\":{\"c\":\"x}\\\"y\",\"d\":[1,{\"e\":2},\"]\"]},\"f\":true,\"g\":null,"
                      "\"h\":-1.5e3 ,\"i\":\"\\\\\",\"j\":\"end\"} ";
    assert_string_equal(at(doc, "/a"), "1");
    assert_string_equal(at(doc, "/b/c"), "\"x}\\\"y\"");
    assert_string_equal(at(doc, "/b/d"), "[1,{\"e\":2},\"]\"]");
    assert_string_equal(at(doc, "/f"), "true");
    assert_string_equal(at(doc, "/g"), "null");
    assert_string_equal(at(doc, "/h"), "-1.5e3");
    assert_string_equal(at(doc, "/i"), "\"\\\\\""); /* a string ending in an escaped backslash */
    assert_string_equal(at(doc, "/j"), "\"end\""); /* found after it: the quote closed the string */
    assert_non_null(at(doc, ""));                  /* the whole document */
    /* absent: a missing member, a member of a non-object, the inside of a string or array */
    assert_null(at(doc, "/zz"));
    assert_null(at(doc, "/a/b"));
    assert_null(at(doc, "/b/e"));
    assert_null(at(doc, "/b/d/e"));
    assert_null(at(doc, "/c"));
    /* not a pointer this scanner takes */
    assert_null(at(doc, "a"));
    assert_null(at(doc, "/b//c"));
    assert_null(at(doc, "/b~1c"));
    assert_null(at(doc, "/a/b/c/d/e/f/g/h/i"));
    assert_null(at("{}", "/a"));
    assert_null(at("[{\"a\":1}]", "/a"));
    const char *s;
    size_t n;
    assert_true(jsonscan_string(doc, strlen(doc), "/j", &s, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(s, "end", 3);
    assert_false(jsonscan_string(doc, strlen(doc), "/a", &s, &n)); /* a number */
}

/* Text that is not JSON, or cut short, is "absent", never read past its end. */
static void test_broken_text(void **state)
{
    (void)state;
    static const char *const broken[] = {"", "{", "{\"a\"", "{\"a\":", "{\"a\":\"x", "{\"b\":[1,2,\"a\":1",
                                         "{\"b\":{\"c\":1}", "{\"b\" 1,\"a\":1}", "{\"b\":1 \"a\":1}", "{a:1}",
                                         "{\"b\":\"\\\"}\",\"a\""};
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        /* a copy of exactly the text's length: ASan sees any read past it */
        size_t n = strlen(broken[i]);
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, broken[i], n);
        const char *p;
        size_t len;
        if (jsonscan_pointer(copy, n, "/a", &p, &len))
            fail_msg("\"%s\": /a found in text that is not JSON", broken[i]);
        free(copy);
    }
    /* a member found before the break is found */
    const char *p;
    size_t len;
    assert_true(jsonscan_pointer("{\"a\":12,\"b\":", 12, "/a", &p, &len));
    assert_int_equal(len, 2);
}

/* Every member of every object in doc (recursively): the scanner agrees with jansson. */
static size_t agree(const char *text, size_t len, const json_t *v, char *ptr, size_t plen)
{
    size_t checked = 0;
    if (!json_is_object(v))
        return 0;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m)
    {
        if (strchr(k, '~') || strchr(k, '/') || !*k || plen + 1 + strlen(k) >= 512 || plen > 100)
            continue;
        size_t nl = plen + (size_t)snprintf(ptr + plen, 512 - plen, "/%s", k);
        const char *p;
        size_t n;
        if (!jsonscan_pointer(text, len, ptr, &p, &n))
            fail_msg("%s: not found by the scanner", ptr);
        json_t *got = json_loadb(p, n, JSON_DECODE_ANY, NULL);
        if (!got || !json_equal(got, m))
            fail_msg("%s: the scanner read \"%.*s\"", ptr, (int)(n > 200 ? 200 : n), p);
        json_decref(got);
        checked += 1 + agree(text, len, m, ptr, nl);
        ptr[plen] = '\0';
    }
    return checked;
}

static void test_agrees_with_jansson_on_fixtures(void **state)
{
    (void)state;
    static const char *const dirs[] = {"amiko/valid", "booking/valid", "card_activity/valid", "riverty/valid"};
    size_t files = 0, members = 0;
    for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/%s", FIXTURES_DIR, dirs[d]);
        DIR *dh = opendir(dir);
        if (!dh)
            continue;
        struct dirent *e;
        while ((e = readdir(dh))) {
            size_t nl = strlen(e->d_name);
            if (nl < 6 || strcmp(e->d_name + nl - 5, ".json"))
                continue;
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            json_t *doc = json_load_file(path, 0, NULL);
            if (!doc)
                continue;
            /* as written (with its whitespace) and as the store keeps it (compact) */
            char *compact = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
            char *pretty = json_dumps(doc, JSON_INDENT(3));
            char ptr[512] = "";
            assert_non_null(compact);
            assert_non_null(pretty);
            members += agree(compact, strlen(compact), doc, ptr, 0);
            members += agree(pretty, strlen(pretty), doc, ptr, 0);
            free(compact);
            free(pretty);
            json_decref(doc);
            files++;
        }
        closedir(dh);
    }
    if (files < 4 || members < 100)
        fail_msg("only %zu fixtures and %zu members checked", files, members);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_broken_text),
        cmocka_unit_test(test_agrees_with_jansson_on_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
