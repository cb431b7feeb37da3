/* Unit tests of the crypto wrappers (include/issuerhook/crypto.h). */
#include "testutil.h"

#include "issuerhook/check.h"
#include "issuerhook/crypto.h"

static void sha256_hex(const char *data, size_t len, char out[2 * CRYPTO_SHA256_LEN + 1])
{
    unsigned char h[CRYPTO_SHA256_LEN];
    crypto_sha256(data, len, h);
    crypto_hex(h, sizeof(h), out);
}

static void test_sha256_known_vectors(void **state)
{
    (void)state;
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    /* FIPS 180-2 examples */
    sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(two_blocks, strlen(two_blocks), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* the length counts, not a NUL */
    sha256_hex("abc\0def", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_hex_is_lower_case_and_terminated(void **state)
{
    (void)state;
    const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(in) + 2];
    memset(out, 'X', sizeof(out));
    crypto_hex(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    assert_int_equal(out[2 * sizeof(in) + 1], 'X');

    crypto_hex(in, 0, out);
    assert_string_equal(out, "");
}

static void test_hex_unhex_round_trip(void **state)
{
    (void)state;
    unsigned char in[256], back[256];
    char hex[2 * sizeof(in) + 1];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)i;
    crypto_hex(in, sizeof(in), hex);
    assert_true(crypto_unhex(hex, back, sizeof(back)));
    assert_memory_equal(in, back, sizeof(in));

    /* upper case is read too */
    unsigned char two[2];
    assert_true(crypto_unhex("ABcd", two, 2));
    assert_int_equal(two[0], 0xab);
    assert_int_equal(two[1], 0xcd);
    assert_true(crypto_unhex("FfeE", two, 2));
    assert_int_equal(two[0], 0xff);
    assert_int_equal(two[1], 0xee);
}

static void test_unhex_rejects(void **state)
{
    (void)state;
    unsigned char out[4];
    assert_false(crypto_unhex("0011223", out, 4));   /* too short (odd) */
    assert_false(crypto_unhex("001122", out, 4));    /* too short */
    assert_false(crypto_unhex("", out, 4));
    assert_false(crypto_unhex("0011223344", out, 4)); /* too long */
    assert_false(crypto_unhex("001122330", out, 4)); /* one digit too many */
    assert_false(crypto_unhex("0011g233", out, 4));  /* non-hex */
    assert_false(crypto_unhex("001122 3", out, 4));
    assert_false(crypto_unhex("0x112233", out, 4));
    assert_false(crypto_unhex("-0112233", out, 4));
    assert_true(crypto_unhex("", out, 0));
}

static void test_uuid4_shape(void **state)
{
    (void)state;
    for (int n = 0; n < 64; n++) {
        char u[CRYPTO_UUID_STRLEN + 1];
        memset(u, 'X', sizeof(u));
        assert_int_equal(crypto_uuid4(u), IH_OK);
        assert_int_equal(strlen(u), 36);
        for (size_t i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                assert_int_equal(u[i], '-');
            else
                assert_non_null(strchr("0123456789abcdef", u[i])); /* lower-case hex */
        }
        assert_int_equal(u[14], '4');                   /* version 4 */
        assert_non_null(strchr("89ab", u[19]));         /* RFC 4122 variant */
        assert_true(check_is_uuid(u, strlen(u)));
    }
}

static void test_uuid4_values_differ(void **state)
{
    (void)state;
    char a[CRYPTO_UUID_STRLEN + 1], b[CRYPTO_UUID_STRLEN + 1];
    assert_int_equal(crypto_uuid4(a), IH_OK);
    assert_int_equal(crypto_uuid4(b), IH_OK);
    assert_string_not_equal(a, b);
}

static void test_random_fills_the_buffer(void **state)
{
    (void)state;
    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(crypto_random(a, sizeof(a)), IH_OK);
    assert_int_equal(crypto_random(b, sizeof(b)), IH_OK);
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_memory_not_equal(a, b, sizeof(a));
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(crypto_equal("abcdef", "abcdef", 6));
    assert_false(crypto_equal("abcdef", "abcdeg", 6));
    assert_false(crypto_equal("xbcdef", "abcdef", 6));
    assert_true(crypto_equal("abcdef", "abcxyz", 3)); /* only len bytes */
    assert_true(crypto_equal("a", "b", 0));
    const unsigned char x[] = {0x00, 0x80}, y[] = {0x00, 0x00};
    assert_false(crypto_equal(x, y, 2));
}

static void test_wipe(void **state)
{
    (void)state;
    unsigned char secret[16];
    memset(secret, 0x5a, sizeof(secret));
    crypto_wipe(secret, 8);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(secret[i], 0);
    assert_int_equal(secret[8], 0x5a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_vectors),
        cmocka_unit_test(test_hex_is_lower_case_and_terminated),
        cmocka_unit_test(test_hex_unhex_round_trip),
        cmocka_unit_test(test_unhex_rejects),
        cmocka_unit_test(test_uuid4_shape),
        cmocka_unit_test(test_uuid4_values_differ),
        cmocka_unit_test(test_random_fills_the_buffer),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
