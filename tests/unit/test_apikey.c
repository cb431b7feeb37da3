/* Unit tests of API keys (include/issuerhook/apikey.h) and scope names
 * (include/issuerhook/scope.h). */
#include "testutil.h"

#include "issuerhook/apikey.h"
#include "issuerhook/crypto.h"
#include "issuerhook/scope.h"

/* ---- helpers ---- */

static char err[256];

/* "sha256:<hex of SHA-256(secret)> scopes" into buf. */
static void value_for(const char *secret, const char *scopes, char *buf, size_t len)
{
    unsigned char h[CRYPTO_SHA256_LEN];
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    crypto_sha256(secret, strlen(secret), h);
    crypto_hex(h, sizeof(h), hex);
    snprintf(buf, len, "sha256:%s %s", hex, scopes);
}

/* value is refused with IH_EINVAL; returns the error (which never holds the value). */
#define parse_refused(name, value) tu_parse_refused((name), (value), __FILE__, __LINE__)

static const char *tu_parse_refused(const char *name, const char *value, const char *file, int line)
{
    struct apikey k;
    err[0] = '\0';
    ih_status rc = apikey_parse(name, value, &k, err, sizeof(err));
    if (rc != IH_EINVAL || err[0] == '\0') {
        print_error("expected IH_EINVAL with a message, got %d \"%s\" for %s\n", (int)rc, err, value);
        _fail(file, line);
    }
    /* the hash part of the value is never echoed */
    if (strncmp(value, "sha256:", 7) == 0 && strlen(value) >= 7 + 16) {
        char head[17];
        memcpy(head, value + 7, 16);
        head[16] = '\0';
        assert_not_contains(err, head);
    }
    return err;
}

/* A set of keys built from secrets; all with scope amiko:events except as given. */
static void add_key(struct apikey_set *set, const char *name, const char *secret, const char *scopes)
{
    char value[256];
    struct apikey k;
    value_for(secret, scopes, value, sizeof(value));
    assert_int_equal(apikey_parse(name, value, &k, err, sizeof(err)), IH_OK);
    assert_int_equal(apikey_set_add(set, &k), IH_OK);
}

/* ---- apikey_parse ---- */

static void test_parse_valid(void **state)
{
    (void)state;
    char value[256];
    struct apikey k;
    value_for("s3cret", "amiko:events,ledger:read", value, sizeof(value));
    assert_int_equal(apikey_parse("AMIKO", value, &k, err, sizeof(err)), IH_OK);
    assert_string_equal(k.name, "AMIKO");
    assert_int_equal(k.scopes, SCOPE_AMIKO_EVENTS | SCOPE_LEDGER_READ);
    unsigned char h[CRYPTO_SHA256_LEN];
    crypto_sha256("s3cret", 6, h);
    assert_memory_equal(k.hash, h, sizeof(h));

    /* upper-case hex and a tab before the scopes are fine too */
    char upper[256];
    snprintf(upper, sizeof(upper), "sha256:");
    for (size_t i = 7; i < 7 + 64; i++)
        upper[i] = (char)(value[i] >= 'a' && value[i] <= 'f' ? value[i] - 'a' + 'A' : value[i]);
    snprintf(upper + 71, sizeof(upper) - 71, "\tcardAdapter/write");
    assert_int_equal(apikey_parse("X", upper, &k, err, sizeof(err)), IH_OK);
    assert_memory_equal(k.hash, h, sizeof(h));
    assert_int_equal(k.scopes, SCOPE_CARD_ADAPTER_WRITE);
}

/* "subject=<DN>" after the scopes: the rest of the line, spaces inside kept. */
static void test_parse_subject(void **state)
{
    (void)state;
    char value[400];
    struct apikey k;
    value_for("s3cret", "amiko:events subject=CN=amiko prod,O=Amiko Ltd  ", value, sizeof(value));
    assert_int_equal(apikey_parse("AMIKO", value, &k, err, sizeof(err)), IH_OK);
    assert_int_equal(k.scopes, SCOPE_AMIKO_EVENTS);
    assert_string_equal(k.subject, "CN=amiko prod,O=Amiko Ltd");
    value_for("s3cret", "amiko:events", value, sizeof(value));
    assert_int_equal(apikey_parse("AMIKO", value, &k, err, sizeof(err)), IH_OK);
    assert_string_equal(k.subject, "");
    value_for("s3cret", "amiko:events subject=", value, sizeof(value));
    parse_refused("AMIKO", value);
    value_for("s3cret", "amiko:events ledger:read", value, sizeof(value)); /* a second word that is no subject */
    parse_refused("AMIKO", value);
    assert_non_null(strstr(err, "subject="));
}

static void test_parse_bad_prefix(void **state)
{
    (void)state;
    char value[256];
    value_for("s3cret", "amiko:events", value, sizeof(value));
    memcpy(value, "sha512", 6);
    parse_refused("AMIKO", value);
    memcpy(value, "SHA256", 6);
    parse_refused("AMIKO", value);
    parse_refused("AMIKO", "s3cret amiko:events");
    parse_refused("AMIKO", "");
}

static void test_parse_hash_length(void **state)
{
    (void)state;
    char value[256];
    value_for("s3cret", "amiko:events", value, sizeof(value));
    char shorter[256], longer[256];
    snprintf(shorter, sizeof(shorter), "%.70s amiko:events", value); /* 63 hex digits */
    snprintf(longer, sizeof(longer), "%.71sa amiko:events", value);  /* 65 hex digits */
    assert_contains(parse_refused("AMIKO", shorter), "64 hex");
    assert_contains(parse_refused("AMIKO", longer), "64 hex");
    parse_refused("AMIKO", "sha256: amiko:events");
}

static void test_parse_non_hex(void **state)
{
    (void)state;
    char value[256];
    value_for("s3cret", "amiko:events", value, sizeof(value));
    value[7 + 10] = 'g';
    assert_contains(parse_refused("AMIKO", value), "hex");
    value_for("s3cret", "amiko:events", value, sizeof(value));
    value[7 + 63] = '-';
    parse_refused("AMIKO", value);
}

static void test_parse_no_scopes(void **state)
{
    (void)state;
    char value[256];
    value_for("s3cret", "", value, sizeof(value)); /* "sha256:<hex> " */
    assert_contains(parse_refused("AMIKO", value), "scope");
    value[71] = '\0'; /* "sha256:<hex>" */
    assert_contains(parse_refused("AMIKO", value), "scope");
    value_for("s3cret", "  \t ", value, sizeof(value));
    parse_refused("AMIKO", value);
}

/* A scope list made only of separators ("sha256:<hex> ,") is a key with no scope:
 * refused, as apikey_generate refuses it. */
static void test_parse_separators_only_is_no_scopes(void **state)
{
    (void)state;
    char value[256];
    value_for("s3cret", ",", value, sizeof(value));
    assert_contains(parse_refused("AMIKO", value), "scope");
    value_for("s3cret", ",,", value, sizeof(value));
    parse_refused("AMIKO", value);
}

static void test_parse_unknown_scope(void **state)
{
    (void)state;
    char value[256];
    value_for("s3cret", "amiko:events,admin:all", value, sizeof(value));
    assert_contains(parse_refused("AMIKO", value), "admin:all");
    value_for("s3cret", "Amiko:Events", value, sizeof(value)); /* names are case-sensitive */
    assert_contains(parse_refused("AMIKO", value), "Amiko:Events");
}

static void test_parse_name_length(void **state)
{
    (void)state;
    char value[256], name[APIKEY_NAME_MAX + 1];
    struct apikey k;
    value_for("s3cret", "amiko:events", value, sizeof(value));
    parse_refused("", value);
    memset(name, 'N', APIKEY_NAME_MAX);
    name[APIKEY_NAME_MAX] = '\0';
    parse_refused(name, value);
    name[APIKEY_NAME_MAX - 1] = '\0'; /* the longest allowed */
    assert_int_equal(apikey_parse(name, value, &k, err, sizeof(err)), IH_OK);
    assert_string_equal(k.name, name);
}

/* ---- apikey_find ---- */

static void test_find_the_right_key_among_several(void **state)
{
    (void)state;
    struct apikey_set set = {0};
    add_key(&set, "AMIKO", "key-amiko", "amiko:events");
    add_key(&set, "LEDGER", "key-ledger", "ledger:read,ledger:write");
    add_key(&set, "RIVERTY", "key-riverty", "riverty:events");

    const struct apikey *k = apikey_find(&set, "key-ledger", strlen("key-ledger"));
    assert_ptr_equal(k, &set.keys[1]);
    assert_string_equal(k->name, "LEDGER");
    assert_int_equal(k->scopes, SCOPE_LEDGER_READ | SCOPE_LEDGER_WRITE);
    assert_ptr_equal(apikey_find(&set, "key-amiko", 9), &set.keys[0]);
    assert_ptr_equal(apikey_find(&set, "key-riverty", 11), &set.keys[2]);

    /* the length counts: a prefix or a longer string is another key */
    assert_null(apikey_find(&set, "key-ledger", 9));
    assert_null(apikey_find(&set, "key-ledger2", 11));

    apikey_set_clear(&set);
    assert_null(set.keys);
    assert_int_equal(set.n, 0);
}

static void test_find_wrong_or_empty_key(void **state)
{
    (void)state;
    struct apikey_set set = {0};
    assert_null(apikey_find(&set, "anything", 8)); /* empty set */
    add_key(&set, "AMIKO", "key-amiko", "amiko:events");
    add_key(&set, "LEDGER", "key-ledger", "ledger:read");
    assert_null(apikey_find(&set, "key-other", 9));
    assert_null(apikey_find(&set, "KEY-AMIKO", 9));
    assert_null(apikey_find(&set, "", 0));
    apikey_set_clear(&set);
}

/* ---- apikey_generate ---- */

static void test_generate(void **state)
{
    (void)state;
    char key[64], value[256];
    assert_int_equal(apikey_generate("amiko:events,amiko:bookings", key, sizeof(key), value, sizeof(value)), IH_OK);

    /* the key: "ihk_" and URL-safe characters */
    assert_memory_equal(key, "ihk_", 4);
    assert_true(strlen(key) >= 4 + 40);
    for (const char *p = key + 4; *p; p++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));

    /* the value: "sha256:" + SHA-256 of the key, then the scopes */
    assert_memory_equal(value, "sha256:", 7);
    unsigned char h[CRYPTO_SHA256_LEN];
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    crypto_sha256(key, strlen(key), h);
    crypto_hex(h, sizeof(h), hex);
    assert_memory_equal(value + 7, hex, 64);

    /* parsing the value back gives the scopes, and the key finds it */
    struct apikey k;
    assert_int_equal(apikey_parse("NEW", value, &k, err, sizeof(err)), IH_OK);
    assert_int_equal(k.scopes, SCOPE_AMIKO_EVENTS | SCOPE_AMIKO_BOOKINGS);
    struct apikey_set set = {0};
    assert_int_equal(apikey_set_add(&set, &k), IH_OK);
    assert_non_null(apikey_find(&set, key, strlen(key)));
    apikey_set_clear(&set);
}

static void test_generate_two_keys_differ(void **state)
{
    (void)state;
    char k1[64], k2[64], v1[256], v2[256];
    assert_int_equal(apikey_generate("ledger:read", k1, sizeof(k1), v1, sizeof(v1)), IH_OK);
    assert_int_equal(apikey_generate("ledger:read", k2, sizeof(k2), v2, sizeof(v2)), IH_OK);
    assert_string_not_equal(k1, k2);
    assert_string_not_equal(v1, v2);
}

static void test_generate_refuses_bad_scopes_and_small_buffers(void **state)
{
    (void)state;
    char key[64], value[256];
    assert_int_equal(apikey_generate("amiko:events,root", key, sizeof(key), value, sizeof(value)), IH_EINVAL);
    assert_int_equal(apikey_generate("", key, sizeof(key), value, sizeof(value)), IH_EINVAL);
    assert_int_equal(apikey_generate(",", key, sizeof(key), value, sizeof(value)), IH_EINVAL);
    assert_int_equal(apikey_generate("amiko:events", key, 10, value, sizeof(value)), IH_ETOOBIG);
    assert_int_equal(apikey_generate("amiko:events", key, sizeof(key), value, 40), IH_ETOOBIG);
}

/* ---- scopes ---- */

static void test_scope_names_round_trip(void **state)
{
    (void)state;
    static const struct {
        unsigned bit;
        const char *name;
    } all[] = {
        {SCOPE_AMIKO_EVENTS, "amiko:events"},       {SCOPE_AMIKO_BOOKINGS, "amiko:bookings"},
        {SCOPE_LEDGER_READ, "ledger:read"},         {SCOPE_LEDGER_WRITE, "ledger:write"},
        {SCOPE_CARD_ADAPTER_WRITE, "cardAdapter/write"}, {SCOPE_RIVERTY_EVENTS, "riverty:events"},
        {SCOPE_BANKING_ADMIN_READ, "bankingAdmin/read"},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_string_equal(scope_name(all[i].bit), all[i].name);
        assert_int_equal(scope_parse(all[i].name, strlen(all[i].name)), all[i].bit);
    }
    assert_null(scope_name(0));
    assert_null(scope_name(SCOPE_AMIKO_EVENTS | SCOPE_LEDGER_READ));
    assert_int_equal(scope_parse("amiko:event", 11), 0);
    assert_int_equal(scope_parse("amiko:events", 5), 0);
    assert_int_equal(scope_parse("", 0), 0);
}

static void test_scope_parse_list_separators(void **state)
{
    (void)state;
    unsigned mask = 0;
    char bad[32];
    assert_true(scope_parse_list("amiko:events,ledger:read", ",", false, &mask, bad, sizeof(bad)));
    assert_int_equal(mask, SCOPE_AMIKO_EVENTS | SCOPE_LEDGER_READ);

    assert_true(scope_parse_list("ledger:read ledger:write", " ", false, &mask, bad, sizeof(bad)));
    assert_int_equal(mask, SCOPE_LEDGER_READ | SCOPE_LEDGER_WRITE);

    /* both separators, runs of them, leading and trailing ones */
    assert_true(scope_parse_list(", amiko:events,, riverty:events ,", ", ", false, &mask, bad, sizeof(bad)));
    assert_int_equal(mask, SCOPE_AMIKO_EVENTS | SCOPE_RIVERTY_EVENTS);

    /* a space is part of the name when only "," separates */
    assert_false(scope_parse_list("amiko:events, ledger:read", ",", false, &mask, bad, sizeof(bad)));
    assert_string_equal(bad, " ledger:read");

    assert_true(scope_parse_list("", ",", false, &mask, bad, sizeof(bad)));
    assert_int_equal(mask, 0);
}

static void test_scope_parse_list_unknown(void **state)
{
    (void)state;
    unsigned mask = 12345;
    char bad[32];
    assert_false(scope_parse_list("openid amiko:events profile", " ", false, &mask, bad, sizeof(bad)));
    assert_string_equal(bad, "openid");

    assert_true(scope_parse_list("openid amiko:events profile", " ", true, &mask, bad, sizeof(bad)));
    assert_int_equal(mask, SCOPE_AMIKO_EVENTS);

    assert_true(scope_parse_list("openid profile", " ", true, &mask, bad, sizeof(bad)));
    assert_int_equal(mask, 0);

    /* a long unknown name is cut to fit bad */
    char small[8];
    assert_false(scope_parse_list("averyveryverylongscope", ",", false, &mask, small, sizeof(small)));
    assert_string_equal(small, "averyve");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_subject),
        cmocka_unit_test(test_parse_bad_prefix),
        cmocka_unit_test(test_parse_hash_length),
        cmocka_unit_test(test_parse_non_hex),
        cmocka_unit_test(test_parse_no_scopes),
        cmocka_unit_test(test_parse_separators_only_is_no_scopes),
        cmocka_unit_test(test_parse_unknown_scope),
        cmocka_unit_test(test_parse_name_length),
        cmocka_unit_test(test_find_the_right_key_among_several),
        cmocka_unit_test(test_find_wrong_or_empty_key),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_generate_two_keys_differ),
        cmocka_unit_test(test_generate_refuses_bad_scopes_and_small_buffers),
        cmocka_unit_test(test_scope_names_round_trip),
        cmocka_unit_test(test_scope_parse_list_separators),
        cmocka_unit_test(test_scope_parse_list_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
