/* Unit tests of strict JSON parsing, canonical hashing and string escaping
 * (include/issuerhook/jsonutil.h). */
#include "testutil.h"

#include "issuerhook/crypto.h"
#include "issuerhook/jsonutil.h"

/* ---- helpers ---- */

static ih_status parse_n(const char *buf, size_t len, json_t **out, struct jsonutil_error *err)
{
    memset(err, 0, sizeof(*err));
    *out = (json_t *)0x1; /* must be reset to NULL on failure */
    return jsonutil_parse_strict(buf, len, out, NULL, err);
}

/* text is accepted; returns the parsed value (caller owns it). */
#define assert_parses(text) tu_assert_parses((text), strlen(text), __FILE__, __LINE__)
/* text is refused with IH_EINVAL and a message; *out stays NULL. Returns the message. */
#define assert_refused(text, err) tu_assert_refused((text), strlen(text), (err), __FILE__, __LINE__)
#define assert_refused_n(buf, len, err) tu_assert_refused((buf), (len), (err), __FILE__, __LINE__)

static json_t *tu_assert_parses(const char *buf, size_t len, const char *file, int line)
{
    json_t *v;
    struct jsonutil_error err;
    if (parse_n(buf, len, &v, &err) != IH_OK || !v) {
        print_error("refused (%s): %.*s\n", err.message, (int)(len > 80 ? 80 : len), buf);
        _fail(file, line);
    }
    return v;
}

static const char *tu_assert_refused(const char *buf, size_t len, struct jsonutil_error *err, const char *file,
                                     int line)
{
    json_t *v;
    ih_status rc = parse_n(buf, len, &v, err);
    if (rc != IH_EINVAL || v != NULL || err->message[0] == '\0') {
        print_error("expected IH_EINVAL with a message, got %d \"%s\" for: %.*s\n", (int)rc, err->message,
                    (int)(len > 80 ? 80 : len), buf);
        if (rc == IH_OK)
            json_decref(v);
        _fail(file, line);
    }
    return err->message;
}

/* n nested arrays: "[[...]]". Caller frees. */
static char *nested_arrays(size_t n, const char *inner)
{
    size_t il = strlen(inner);
    char *s = malloc(2 * n + il + 1);
    assert_non_null(s);
    memset(s, '[', n);
    memcpy(s + n, inner, il);
    memset(s + n + il, ']', n);
    s[2 * n + il] = '\0';
    return s;
}

/* n nested objects: {"a":{"a":...{}}}. Caller frees. */
static char *nested_objects(size_t n)
{
    char *s = malloc(6 * n + 1);
    assert_non_null(s);
    size_t l = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        memcpy(s + l, "{\"a\":", 5);
        l += 5;
    }
    memcpy(s + l, "{}", 2);
    l += 2;
    memset(s + l, '}', n - 1);
    l += n - 1;
    s[l] = '\0';
    return s;
}

/* ---- parsing ---- */

static void test_parse_accepts_a_document(void **state)
{
    (void)state;
    json_t *v = assert_parses("{\"a\": [1, 2.5, \"x\", true, null], \"b\": {\"c\": -3}}");
    assert_true(json_is_object(v));
    assert_int_equal(json_array_size(json_object_get(v, "a")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "b"), "c")), -3);
    json_decref(v);

    /* any JSON value, and white space around it */
    const char *ok[] = {"42", "\"s\"", "null", "[]", " \t{}\r\n", "{}\n", "\"\\u00e9\""};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        json_decref(assert_parses(ok[i]));
}

static void test_parse_reads_only_len_bytes(void **state)
{
    (void)state;
    const char buf[] = "{\"a\":1}garbage";
    json_t *v = tu_assert_parses(buf, 7, __FILE__, __LINE__);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
}

static void test_duplicate_keys_refused(void **state)
{
    (void)state;
    struct jsonutil_error err;
    assert_contains(assert_refused("{\"a\": 1, \"a\": 2}", &err), "duplicate");
    assert_contains(assert_refused("{\"x\": {\"a\": 1, \"b\": 2, \"a\": 1}}", &err), "duplicate");
    /* the same key in two different objects is fine */
    json_decref(assert_parses("{\"a\": {\"a\": 1}, \"b\": [{\"a\": 1}, {\"a\": 2}]}"));
}

static void test_trailing_garbage_refused(void **state)
{
    (void)state;
    struct jsonutil_error err;
    assert_contains(assert_refused("{} x", &err), "after the JSON value");
    assert_refused("{}{}", &err);
    assert_refused("1 2", &err);
    assert_refused("[1]]", &err);
    assert_refused_n("{}\0", 3, &err); /* a NUL byte after the value */
}

static void test_invalid_utf8_refused(void **state)
{
    (void)state;
    struct jsonutil_error err;
    assert_contains(assert_refused("\"\xff\"", &err), "UTF-8");
    assert_refused("\"\xc0\xaf\"", &err);         /* overlong "/" */
    assert_refused("\"\xe2\x82\"", &err);         /* truncated "€" */
    assert_refused("\"\xed\xa0\x80\"", &err);     /* an encoded surrogate */
    assert_refused("{\"k\xfe\": 1}", &err);       /* in a key */
    assert_refused("\"\\ud800\"", &err);          /* a lone surrogate escape */
    json_decref(assert_parses("\"\xe2\x82\xac \xf0\x9f\x98\x80\""));
}

static void test_nul_character_refused(void **state)
{
    (void)state;
    struct jsonutil_error err;
    assert_contains(assert_refused("\"a\\u0000b\"", &err), "NUL");
    assert_refused("{\"a\\u0000\": 1}", &err);
    assert_refused_n("\"a\0b\"", 5, &err); /* a raw NUL byte in a string */
    assert_refused_n("[1\0]", 4, &err);     /* and after a number (which jansson let through) */
}

static void test_empty_input_refused(void **state)
{
    (void)state;
    struct jsonutil_error err;
    assert_refused("", &err);
    assert_refused(" \n\t", &err);
}

static void test_depth_64_accepted_65_refused_arrays(void **state)
{
    (void)state;
    struct jsonutil_error err;
    char *s = nested_arrays(JSONUTIL_MAX_DEPTH, "");
    json_decref(assert_parses(s));
    free(s);

    s = nested_arrays(JSONUTIL_MAX_DEPTH + 1, "");
    assert_contains(assert_refused(s, &err), "nesting");
    free(s);

    s = nested_arrays(10000, ""); /* far deeper: refused by the pre-scan, no deep recursion */
    assert_refused(s, &err);
    free(s);
}

static void test_depth_64_accepted_65_refused_objects(void **state)
{
    (void)state;
    struct jsonutil_error err;
    char *s = nested_objects(JSONUTIL_MAX_DEPTH);
    json_decref(assert_parses(s));
    free(s);

    s = nested_objects(JSONUTIL_MAX_DEPTH + 1);
    assert_contains(assert_refused(s, &err), "nesting");
    free(s);

    /* mixed: 32 arrays around 33 objects */
    char *inner = nested_objects(JSONUTIL_MAX_DEPTH / 2 + 1);
    s = nested_arrays(JSONUTIL_MAX_DEPTH / 2, inner);
    assert_refused(s, &err);
    free(s);
    free(inner);
}

static void test_depth_is_per_nesting_not_per_bracket(void **state)
{
    (void)state;
    /* 100 sibling arrays, each at depth 2 */
    char buf[512];
    size_t l = 0;
    buf[l++] = '[';
    for (int i = 0; i < 100; i++) {
        memcpy(buf + l, i ? ",[]" : "[]", i ? 3 : 2);
        l += i ? 3 : 2;
    }
    buf[l++] = ']';
    buf[l] = '\0';
    json_decref(assert_parses(buf));
}

static void test_brackets_inside_strings_do_not_count(void **state)
{
    (void)state;
    struct jsonutil_error err;
    /* depth 64 with a string full of brackets inside */
    char *s = nested_arrays(JSONUTIL_MAX_DEPTH, "\"[[[[{{{{ ]]]] }}}}[[[[\"");
    json_decref(assert_parses(s));
    free(s);

    /* an escaped quote does not end the string */
    s = nested_arrays(JSONUTIL_MAX_DEPTH, "\"\\\"[[[[[[[[\"");
    json_decref(assert_parses(s));
    free(s);

    /* an escaped backslash does end it: the brackets after it do count */
    char *deep = nested_arrays(JSONUTIL_MAX_DEPTH, "");
    char buf[1024];
    snprintf(buf, sizeof(buf), "[\"\\\\\", %s]", deep);
    assert_contains(assert_refused(buf, &err), "nesting");
    free(deep);
}

/* The message says what and where, never quoting the input (it may hold a card number). */
static void test_error_message_never_quotes_the_input(void **state)
{
    (void)state;
    struct jsonutil_error err;
    const char *bad[] = {
        "{\"pan\":\"4111111111111111\",}",
        "{\"pan\":\"4111111111111111\",\"pan\":\"4111111111111111\"}",
        "{\"pan\":\"4111111111111111\xff\"}",
        "{\"pan\":4111111111111111x}",
        "{\"pan\":\"4111111111111111",
        "{\"pan\":41111111111111111111111111111}",
        "{\"pan\":\"4111111111111111\\u0000\"}",
        "{\"pan\":\"4111111111111111\"} 4111111111111111",
        "4111111111111111 4111111111111111",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *msg = assert_refused(bad[i], &err);
        assert_not_contains(msg, "4111");
        assert_not_contains(msg, "pan");
        assert_contains(msg, "line 1");
    }
    char *s = nested_arrays(JSONUTIL_MAX_DEPTH + 1, "\"4111111111111111\"");
    assert_not_contains(assert_refused(s, &err), "4111");
    free(s);
}

static void test_error_message_gives_the_position(void **state)
{
    (void)state;
    struct jsonutil_error err;
    assert_contains(assert_refused("{\"a\": 1,\n \"a\": 2}", &err), "line 2");
    char *s = nested_arrays(JSONUTIL_MAX_DEPTH + 1, "");
    assert_contains(assert_refused(s, &err), "line 1, column 65");
    free(s);
}

/* ---- canonical form and hash ---- */

static char *canonical(const char *text)
{
    json_t *v = tu_json(text);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(jsonutil_canonical(v, NULL, 0, &out, &len), IH_OK);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    json_decref(v);
    return out;
}

static void hash_of(const char *text, unsigned char h[CRYPTO_SHA256_LEN])
{
    json_t *v = tu_json(text);
    assert_int_equal(jsonutil_canonical_hash(v, NULL, 0, h, NULL, NULL), IH_OK);
    json_decref(v);
}

#define assert_same_hash(a, b) assert_true(same_hash((a), (b)))
#define assert_different_hash(a, b) assert_false(same_hash((a), (b)))

static bool same_hash(const char *a, const char *b)
{
    unsigned char ha[CRYPTO_SHA256_LEN], hb[CRYPTO_SHA256_LEN];
    hash_of(a, ha);
    hash_of(b, hb);
    return memcmp(ha, hb, sizeof(ha)) == 0;
}

static void test_canonical_text_is_compact_and_sorted(void **state)
{
    (void)state;
    char *s = canonical("{ \"b\" : 1,\n  \"a\" : [ true , null , { \"d\" : \"x\" , \"c\" : 2.5 } ] }");
    assert_string_equal(s, "{\"a\":[true,null,{\"c\":2.5,\"d\":\"x\"}],\"b\":1}");
    free(s);

    /* byte order: upper case before "_" before lower case */
    s = canonical("{\"a\": 1, \"_\": 2, \"B\": 3, \"aa\": 4, \"A\": 5}");
    assert_string_equal(s, "{\"A\":5,\"B\":3,\"_\":2,\"a\":1,\"aa\":4}");
    free(s);

    /* arrays keep their order */
    s = canonical("[3, 1, 2]");
    assert_string_equal(s, "[3,1,2]");
    free(s);
}

static void test_hash_ignores_key_order_and_white_space(void **state)
{
    (void)state;
    assert_same_hash("{\"a\":1,\"b\":[1,2],\"c\":{\"x\":true,\"y\":null}}",
                     "{ \"c\" : { \"y\" : null , \"x\" : true } ,\n\t\"b\" : [ 1 , 2 ] , \"a\" : 1 }");
    /* the same string, escaped or not */
    assert_same_hash("{\"s\":\"\\u00e9\\/\"}", "{\"s\":\"\xc3\xa9/\"}");
}

static void test_hash_changes_with_any_value(void **state)
{
    (void)state;
    const char *base = "{\"a\":1,\"b\":[1,2],\"c\":{\"x\":true}}";
    assert_different_hash(base, "{\"a\":2,\"b\":[1,2],\"c\":{\"x\":true}}");
    assert_different_hash(base, "{\"a\":\"1\",\"b\":[1,2],\"c\":{\"x\":true}}");
    assert_different_hash(base, "{\"a\":1,\"b\":[2,1],\"c\":{\"x\":true}}");
    assert_different_hash(base, "{\"a\":1,\"b\":[1,2],\"c\":{\"x\":false}}");
    assert_different_hash(base, "{\"a\":1,\"b\":[1,2],\"c\":{\"X\":true}}");
    assert_different_hash(base, "{\"a\":1,\"b\":[1,2],\"c\":{\"x\":true},\"d\":null}");
}

static void test_hash_is_sha256_of_the_canonical_text(void **state)
{
    (void)state;
    json_t *v = tu_json("{\"z\": {\"b\": 2, \"a\": 1}, \"y\": \"t\"}");
    unsigned char h[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN];
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(jsonutil_canonical_hash(v, NULL, 0, h, &text, &len), IH_OK);
    assert_string_equal(text, "{\"y\":\"t\",\"z\":{\"a\":1,\"b\":2}}");
    assert_int_equal(len, strlen(text));
    crypto_sha256(text, len, want);
    assert_memory_equal(h, want, sizeof(h));
    free(text);

    /* without text, the same hash */
    unsigned char h2[CRYPTO_SHA256_LEN];
    assert_int_equal(jsonutil_canonical_hash(v, NULL, 0, h2, NULL, NULL), IH_OK);
    assert_memory_equal(h, h2, sizeof(h));
    json_decref(v);
}

/* ---- escaping ---- */

static void test_escape_quotes_backslash_and_controls(void **state)
{
    (void)state;
    char buf[128];
    assert_int_equal(jsonutil_escape("plain text", buf, sizeof(buf)), 10);
    assert_string_equal(buf, "plain text");

    assert_int_equal(jsonutil_escape("a\"b\\c", buf, sizeof(buf)), 7);
    assert_string_equal(buf, "a\\\"b\\\\c");

    jsonutil_escape("\n\r\t\x01\x1f\x7f", buf, sizeof(buf));
    assert_string_equal(buf, "\\n\\r\\t\\u0001\\u001f\\u007f");

    /* UTF-8 passes through */
    jsonutil_escape("\xc3\xa9\xe2\x82\xac", buf, sizeof(buf));
    assert_string_equal(buf, "\xc3\xa9\xe2\x82\xac");

    assert_int_equal(jsonutil_escape("", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
}

static void test_escaped_text_is_valid_json(void **state)
{
    (void)state;
    const char *in = "say \"hi\"\\\n\x01\x7f end";
    char body[128], doc[160];
    jsonutil_escape(in, body, sizeof(body));
    snprintf(doc, sizeof(doc), "\"%s\"", body);
    json_t *v = tu_json(doc);
    assert_string_equal(json_string_value(v), in);
    json_decref(v);
}

static void test_escape_truncates_and_returns_the_needed_length(void **state)
{
    (void)state;
    char buf[8];

    memset(buf, 'X', sizeof(buf));
    assert_int_equal(jsonutil_escape("abcdefghij", buf, 4), 10);
    assert_string_equal(buf, "abc");
    assert_int_equal(buf[4], 'X'); /* nothing written past cap */

    /* an escape sequence is never cut in half */
    memset(buf, 'X', sizeof(buf));
    assert_int_equal(jsonutil_escape("ab\"cd", buf, 4), 6);
    assert_string_equal(buf, "ab");
    memset(buf, 'X', sizeof(buf));
    assert_int_equal(jsonutil_escape("a\x01z", buf, 6), 8);
    assert_string_equal(buf, "a");

    /* exactly fits: needed + 1 */
    assert_int_equal(jsonutil_escape("a\"b", buf, 5), 4);
    assert_string_equal(buf, "a\\\"b");
    assert_int_equal(jsonutil_escape("a\"b", buf, 4), 4);
    assert_string_equal(buf, "a\\\"");

    memset(buf, 'X', sizeof(buf));
    assert_int_equal(jsonutil_escape("abc", buf, 1), 3);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'X');

    /* cap 0: nothing written at all */
    memset(buf, 'X', sizeof(buf));
    assert_int_equal(jsonutil_escape("abc", buf, 0), 3);
    assert_int_equal(buf[0], 'X');
}

/* Decimals are written as sent (up to 15 significant digits), not as their nearest
 * binary double ("0.1", not "0.10000000000000001"). */
static void test_canonical_decimals(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"b\":6.1,\"a\":0.1,\"c\":123456.789}", 0, NULL);
    char *out;
    size_t len;
    assert_int_equal(jsonutil_canonical(v, NULL, 0, &out, &len), IH_OK);
    assert_string_equal(out, "{\"a\":0.1,\"b\":6.1,\"c\":123456.789}");
    free(out);
    json_decref(v);
}

/* ---- numbers as the sender wrote them ---- */

/* text parsed with its numbers, then its canonical form; caller frees. */
static char *canonical_exact(const char *text)
{
    json_t *v;
    struct jsonutil_numbers *nums;
    struct jsonutil_error err;
    assert_int_equal(jsonutil_parse_strict(text, strlen(text), &v, &nums, &err), IH_OK);
    char *out;
    size_t len;
    assert_int_equal(jsonutil_canonical(v, nums, strlen(text), &out, &len), IH_OK);
    assert_int_equal(len, strlen(out));
    json_decref(v);
    jsonutil_numbers_free(nums);
    return out;
}

static void test_canonical_keeps_numbers_as_written(void **state)
{
    (void)state;
    char *s = canonical_exact("{\"z\": 1000.0000000000001, \"b\": 1.50, \"c\": 1e3, \"d\": -0, \"e\": 9007199254740993,"
                              " \"f\": 0.1, \"g\": 1E-7, \"h\": [2.50, {\"x\": -1.0e+2}], \"i\": 12345678901234567890.5}");
    assert_string_equal(s, "{\"b\":1.50,\"c\":1e3,\"d\":-0,\"e\":9007199254740993,\"f\":0.1,\"g\":1E-7,"
                           "\"h\":[2.50,{\"x\":-1.0e+2}],\"i\":12345678901234567890.5,\"z\":1000.0000000000001}");
    free(s);
    /* a bare number, and numbers beside strings that look like numbers */
    s = canonical_exact("  3.14159265358979323846 ");
    assert_string_equal(s, "3.14159265358979323846");
    free(s);
    s = canonical_exact("[\"1.50\", 1.50, \"-\\\"2\", -2]");
    assert_string_equal(s, "[\"1.50\",1.50,\"-\\\"2\",-2]");
    free(s);
    /* more lexemes than the first room for them (256 bytes), growing a few times */
    char doc[8192], want[8192];
    size_t dn = 0, wn = 0;
    doc[dn++] = want[wn++] = '[';
    for (int i = 0; i < 400; i++) {
        dn += (size_t)snprintf(doc + dn, sizeof(doc) - dn, "%s %d.%02d0", i ? "," : "", i, i % 100);
        wn += (size_t)snprintf(want + wn, sizeof(want) - wn, "%s%d.%02d0", i ? "," : "", i, i % 100);
    }
    doc[dn++] = want[wn++] = ']';
    doc[dn] = want[wn] = '\0';
    s = canonical_exact(doc);
    assert_string_equal(s, want);
    free(s);
}

/* The case: two amounts that differ past the 15th digit are two payloads. */
static void test_numbers_past_15_digits_differ(void **state)
{
    (void)state;
    char *a = canonical_exact("{\"amount\":1000.0000000000001}"), *b = canonical_exact("{\"amount\":1000.0000000000002}");
    assert_string_not_equal(a, b);
    assert_string_equal(a, "{\"amount\":1000.0000000000001}");
    free(a);
    free(b);
    /* without the numbers' text, jansson's 15 digits: the same (what records held before) */
    assert_same_hash("{\"amount\":1000.0000000000001}", "{\"amount\":1000.0000000000002}");
}

/* A part of the tree keeps its numbers too; a number changed or added after parsing is
 * written as jansson writes it. */
static void test_lexemes_follow_the_nodes(void **state)
{
    (void)state;
    const char *text = "{\"items\": [{\"v\": 1.10, \"w\": 7}, {\"v\": 2.20}]}";
    json_t *v;
    struct jsonutil_numbers *nums;
    struct jsonutil_error err;
    assert_int_equal(jsonutil_parse_strict(text, strlen(text), &v, &nums, &err), IH_OK);
    json_t *item = json_array_get(json_object_get(v, "items"), 0);
    json_object_set_new(item, "pan", json_string("4111********1111"));
    char *out;
    size_t len;
    assert_int_equal(jsonutil_canonical(item, nums, 0, &out, &len), IH_OK);
    assert_string_equal(out, "{\"pan\":\"4111********1111\",\"v\":1.10,\"w\":7}");
    free(out);
    json_real_set(json_object_get(item, "v"), 3.5);
    json_object_set_new(item, "x", json_real(0.25));
    assert_int_equal(jsonutil_canonical(item, nums, 0, &out, &len), IH_OK);
    assert_string_equal(out, "{\"pan\":\"4111********1111\",\"v\":3.5,\"w\":7,\"x\":0.25}");
    free(out);
    json_decref(v);
    jsonutil_numbers_free(nums);
}

/* Without the numbers' text the writer is jansson's own SORT_KEYS | COMPACT output, byte for
 * byte, escapes included: a record stored before keeps its hash. */
static void test_writer_is_jansson_without_lexemes(void **state)
{
    (void)state;
    const char *docs[] = {
        "{\"s\":\"\\u0001\\u001f\\\"\\\\/\\b\\f\\n\\r\\t \\u007f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"\\u0002k\":[]}",
        "[1, -2, 3.5, 1e300, -0.000001, 123456.789, true, false, null, {}, [], \"\"]",
        "{\"b\":{\"d\":[{\"z\":1,\"a\":2}],\"c\":\"x\"},\"a\":0.1,\"B\":6.1,\"_\":null}",
        "\"just a string\"", "42", "1.5",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *v = tu_json(docs[i]);
        char *ours, *theirs = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        size_t len;
        assert_int_equal(jsonutil_canonical(v, NULL, 0, &ours, &len), IH_OK);
        assert_string_equal(ours, theirs);
        free(ours);
        free(theirs);
        json_decref(v);
    }
}

/* jsonutil_canonical_spans: a member found is where its value's text is; a member absent,
 * inserted where the spans say as the header says, gives the canonical form of the object
 * with it, whichever its place in key order (first, between, last, in an empty object). */
static void test_spans_find_and_place_members(void **state)
{
    (void)state;
    const char *docs[] = {
        "{}", "{\"m\":1}", "{\"b\":\"x\",\"d\":{\"pan\":\"inner\"},\"f\":[1,2]}",
        "{\"pan\":\"4242********4242\",\"customerId\":\"c\\\"1\",\"amount\":{\"value\":\"5.55\"},\"z\":null}",
        "{\"\\u0001\":true,\"a\":\"\xc3\xa9\",\"pa\":1,\"pan0\":2,\"customerI\":3,\"customerTaxIdx\":4}",
    };
    const char *keys[] = {"pan", "customerTaxId", "a", "zz", "\x01", "0"};
    const char *value = "\"tok\\\"en\"";
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            json_t *v = tu_json(docs[i]);
            struct jsonutil_span sp[2] = {{.key = keys[k]}, {.key = "b"}};
            char *text, *want;
            size_t len, wlen;
            assert_int_equal(jsonutil_canonical_spans(v, NULL, 0, sp, 2, &text, &len), IH_OK);
            assert_int_equal(jsonutil_canonical(v, NULL, 0, &want, &wlen), IH_OK);
            assert_string_equal(text, want); /* the same text as jsonutil_canonical's */
            free(want);
            json_t *m = json_object_get(v, keys[k]);
            assert_int_equal(sp[0].found, m != NULL);
            assert_int_equal(sp[1].found, json_object_get(v, "b") != NULL);
            if (m) {
                char *mt;
                size_t ml;
                assert_int_equal(jsonutil_canonical(m, NULL, 0, &mt, &ml), IH_OK);
                assert_int_equal(sp[0].end - sp[0].start, ml);
                assert_memory_equal(text + sp[0].start, mt, ml);
                free(mt);
                json_object_del(v, keys[k]);
                free(text);
                assert_int_equal(jsonutil_canonical_spans(v, NULL, 0, sp, 1, &text, &len), IH_OK);
                assert_false(sp[0].found);
            }
            /* insert keys[k]:value where the spans say, and compare with the object with it */
            assert_int_equal(sp[0].start, sp[0].end);
            char ek[16];
            assert_true(jsonutil_escape(keys[k], ek, sizeof(ek)) < sizeof(ek));
            char *spliced;
            bool lead = sp[0].start == 1;
            assert_true(asprintf(&spliced, "%.*s%s\"%s\":%s%s%s", (int)sp[0].start, text, lead ? "" : ",", ek, value,
                                 lead && text[1] != '}' ? "," : "", text + sp[0].start) > 0);
            json_object_set_new(v, keys[k], json_string("tok\"en"));
            assert_int_equal(jsonutil_canonical(v, NULL, 0, &want, &wlen), IH_OK);
            assert_string_equal(spliced, want);
            free(want);
            free(spliced);
            free(text);
            json_decref(v);
        }
    }
    json_t *arr = tu_json("[1]");
    char *text = (char *)"unchanged";
    struct jsonutil_span sp = {.key = "a"};
    size_t len;
    assert_int_equal(jsonutil_canonical_spans(arr, NULL, 0, &sp, 1, &text, &len), IH_EINVAL);
    assert_null(text);
    json_decref(arr);
}

/* ---- the parser against jansson's ---- */

/* jansson's verdict on a text, as the daemon parsed with it before jsonparse.c. */
static json_t *jansson_parse(const char *buf, size_t len)
{
    return json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

/* Both accept or both refuse buf; when both accept, the trees are equal. One difference
 * is known and on purpose: jansson skips a raw NUL byte that follows a number (its stream
 * takes the NUL it puts back for the end of its buffer), so "[1\0]" passes it. */
static void assert_agrees(const char *buf, size_t len)
{
    json_t *ours = NULL, *theirs = jansson_parse(buf, len);
    struct jsonutil_error err = {{0}};
    ih_status rc = jsonutil_parse_strict(buf, len, &ours, NULL, &err);
    if (rc != IH_OK && theirs && memchr(buf, '\0', len)) {
        json_decref(theirs);
        return;
    }
    if ((rc == IH_OK) != (theirs != NULL) || (ours && !json_equal(ours, theirs))) {
        print_error("jsonparse %s, jansson %s: ", rc == IH_OK ? "accepts" : err.message,
                    theirs ? "accepts" : "refuses");
        for (size_t i = 0; i < len && i < 200; i++)
            print_error((unsigned char)buf[i] >= 0x20 && (unsigned char)buf[i] < 0x7f ? "%c" : "\\x%02x",
                        (unsigned char)buf[i]);
        print_error("\n");
        fail();
    }
    assert_int_equal(rc == IH_OK || rc == IH_EINVAL, 1);
    json_decref(ours);
    json_decref(theirs);
}

static void test_parse_agrees_with_jansson(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{}", "[]", "0", "-0", "-0.0", "1e5", "1E+5", "1e-5", "1.5e400", "-1e400", "1e-400", "01", "1.", ".5",
        "-", "1.e5", "1e", "1e+", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "true", "truex", "tru", "nul", "null ", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\"1}",
        "{\"a\":}", "{1:2}", "\"\\u00e9\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"",
        "\"\\u12\"", "\"\\x\"", "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"", "\"a\tb\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xe0\x80\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xf0\x9f\x98\x80\"", "\xef\xbb\xbf{}", "[1 2]", "{\"a\":1 \"b\":2}", "[\"a\",\n\"b\"]",
        "{\"\\u0061\":1,\"a\":2}", "{\"\\u00e9\":1,\"\xc3\xa9\":2}", "[true,false,null]", " [ ] ", "[\"\\", "\"abc",
        "{\"a\":[{\"b\":[1,{\"c\":\"d\"}]}]}", "123abc", "[1e5x]", "\"\x7f\"", "[-]", "[--1]", "[+1]", "[0x10]",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        assert_agrees(texts[i], strlen(texts[i]));

    /* and some thousands of texts one, two or three edits away from real payloads */
    static const char *const bases[] = {
        "{\"header\":{\"version\":\"2026.1.0\",\"eventId\":\"00000000-0000-4000-8000-000000000000\","
        "\"generatedAt\":1700000000000},\"event\":{\"type\":\"case_created\",\"caseId\":\"0\",\"amount\":-12.50e2,"
        "\"list\":[1,2.5,true,false,null,\"\\u00e9\\n\"]}}",
        "{\"institutionId\":\"TIBURON\",\"items\":[{\"pan\":\"4242424242424242\",\"amount\":{\"value\":\"5555.55\"},"
        "\"merchant\":{\"name\":\"Caf\xc3\xa9 \\\"A\\\"\"},\"n\":[0,-0,1e-3,12345678901234567890123]}]}",
    };
    static const char alphabet[] = "{}[]:,\"\\u0123456789.eE+-tfnl \n\t\x00\x80\xc3\xa9\xed\xa0\xff\xf0";
    unsigned seed = 12345;
    char buf[512];
    for (int round = 0; round < 20000; round++) {
        const char *base = bases[round % 2];
        size_t len = strlen(base);
        memcpy(buf, base, len);
        int edits = 1 + round % 3;
        for (int e = 0; e < edits && len > 1; e++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            char c = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
            switch ((seed >> 4) % 3) {
            case 0: memmove(buf + at, buf + at + 1, len - at - 1); len--; break; /* delete */
            case 1: memmove(buf + at + 1, buf + at, len - at); buf[at] = c; len++; break; /* insert */
            default: buf[at] = c; /* replace */
            }
        }
        assert_agrees(buf, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_agrees_with_jansson),
        cmocka_unit_test(test_canonical_decimals),
        cmocka_unit_test(test_canonical_keeps_numbers_as_written),
        cmocka_unit_test(test_numbers_past_15_digits_differ),
        cmocka_unit_test(test_lexemes_follow_the_nodes),
        cmocka_unit_test(test_writer_is_jansson_without_lexemes),
        cmocka_unit_test(test_spans_find_and_place_members),
        cmocka_unit_test(test_parse_accepts_a_document),
        cmocka_unit_test(test_parse_reads_only_len_bytes),
        cmocka_unit_test(test_duplicate_keys_refused),
        cmocka_unit_test(test_trailing_garbage_refused),
        cmocka_unit_test(test_invalid_utf8_refused),
        cmocka_unit_test(test_nul_character_refused),
        cmocka_unit_test(test_empty_input_refused),
        cmocka_unit_test(test_depth_64_accepted_65_refused_arrays),
        cmocka_unit_test(test_depth_64_accepted_65_refused_objects),
        cmocka_unit_test(test_depth_is_per_nesting_not_per_bracket),
        cmocka_unit_test(test_brackets_inside_strings_do_not_count),
        cmocka_unit_test(test_error_message_never_quotes_the_input),
        cmocka_unit_test(test_error_message_gives_the_position),
        cmocka_unit_test(test_canonical_text_is_compact_and_sorted),
        cmocka_unit_test(test_hash_ignores_key_order_and_white_space),
        cmocka_unit_test(test_hash_changes_with_any_value),
        cmocka_unit_test(test_hash_is_sha256_of_the_canonical_text),
        cmocka_unit_test(test_escape_quotes_backslash_and_controls),
        cmocka_unit_test(test_escaped_text_is_valid_json),
        cmocka_unit_test(test_escape_truncates_and_returns_the_needed_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
