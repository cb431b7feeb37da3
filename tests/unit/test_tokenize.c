/* Unit tests of the PAN keys and tokens (include/issuerhook/tokenize.h): where the key is
 * found, what is refused (a key others can read, a key beside the database), the
 * development key, previous keys, and the mask of 12 to 19 digit PANs. */
#include "testutil.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/crypto.h"
#include "issuerhook/tokenize.h"

static char root[64], db[128], keys[128], creds[128], secrets[128];

static void put_file(const char *path, size_t n, unsigned char fill, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)(fill + i * 7), f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/ihtok.XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(db, sizeof(db), "%s/data/issuerhook.db", root);
    snprintf(keys, sizeof(keys), "%s/keys", root);
    snprintf(creds, sizeof(creds), "%s/creds", root);
    snprintf(secrets, sizeof(secrets), "%s/secrets", root);
    char d[160];
    snprintf(d, sizeof(d), "%s/data", root);
    return mkdir(d, 0700) || mkdir(keys, 0700) || mkdir(creds, 0700) || mkdir(secrets, 0700);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd);
}

/* Loads with o; on failure returns NULL and err holds the reason. */
static struct tokenizer *load(const struct tokenizer_options *o, char *err, size_t errlen, ih_status *rc)
{
    struct tokenizer *t = NULL;
    err[0] = '\0';
    *rc = tokenizer_load(o, &t, err, errlen);
    assert_true((*rc == IH_OK) == (t != NULL));
    return t;
}

static struct tokenizer *load_file(const char *file)
{
    char err[600];
    ih_status rc;
    struct tokenizer_options o = {.key_file = file, .db_path = db};
    struct tokenizer *t = load(&o, err, sizeof(err), &rc);
    if (!t)
        fail_msg("%s: %s", file, err);
    return t;
}

static void test_mask_shows_at_most_half(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof(path), "%s/a.key", keys);
    put_file(path, 32, 1, 0400);
    struct tokenizer *t = load_file(path);
    static const char *const want[] = {
        "12******9012",        "12*******0123",       "123*******1234",      "123********2345",
        "1234********3456",    "1234*********4567",   "12345*********5678",  "12345**********6789"};
    const char *digits = "1234567890123456789";
    for (size_t n = 12; n <= 19; n++) {
        struct pan_token p;
        assert_int_equal(tokenizer_pan(t, digits, n, &p), IH_OK);
        assert_string_equal(p.masked, want[n - 12]);
        size_t shown = 0;
        for (const char *c = p.masked; *c; c++)
            shown += *c != '*';
        assert_true(shown * 2 <= n); /* never more than half */
        assert_true(strlen(p.lead) <= 6 && strncmp(p.lead, digits, strlen(p.lead)) == 0);
        assert_int_equal(strlen(p.lead) + 4, shown);
        assert_memory_equal(p.last4, digits + n - 4, 4);
        assert_int_equal(strlen(p.token), TOKENIZE_TOKEN_LEN);
        assert_string_equal(p.key_id, tokenizer_key_id(t, 0));
    }
    /* spaces and dashes are not digits; 11 or 20 digits are no PAN */
    struct pan_token a, b;
    assert_int_equal(tokenizer_pan(t, "4111 1111-1111 1111", 19, &a), IH_OK);
    assert_int_equal(tokenizer_pan(t, "4111111111111111", 16, &b), IH_OK);
    assert_string_equal(a.token, b.token);
    assert_string_equal(a.masked, "4111********1111");
    assert_int_equal(tokenizer_pan(t, "12345678901", 11, &a), IH_EINVAL);
    assert_int_equal(tokenizer_pan(t, "12345678901234567890", 20, &a), IH_EINVAL);
    tokenizer_free(t);
}

static void test_where_the_key_is_found(void **state)
{
    (void)state;
    char err[600], file[160], cred[160], secret[160];
    ih_status rc;
    snprintf(file, sizeof(file), "%s/explicit.key", keys);
    snprintf(cred, sizeof(cred), "%s/pan.key", creds);
    snprintf(secret, sizeof(secret), "%s/pan.key", secrets);
    put_file(file, 32, 10, 0600);
    put_file(cred, 32, 20, 0400);
    put_file(secret, 32, 30, 0400);
    struct tokenizer_options o = {.key_file = file, .db_path = db, .credentials_dir = creds, .secrets_dir = secrets};
    struct tokenizer *t = load(&o, err, sizeof(err), &rc);
    assert_string_equal(tokenizer_key_path(t, 0), file);
    tokenizer_free(t);
    o.key_file = "";
    t = load(&o, err, sizeof(err), &rc);
    assert_string_equal(tokenizer_key_path(t, 0), cred); /* systemd's credential first */
    tokenizer_free(t);
    o.credentials_dir = NULL;
    t = load(&o, err, sizeof(err), &rc);
    assert_string_equal(tokenizer_key_path(t, 0), secret); /* then Docker's secret */
    tokenizer_free(t);
    unlink(secret);
    assert_null(load(&o, err, sizeof(err), &rc));
    assert_int_equal(rc, IH_ENOTFOUND);
    assert_contains(err, "no PAN key");
    assert_contains(err, "LoadCredential=pan.key:");
    assert_contains(err, "ISSUERHOOK_PAN_KEY_FILE");
    unlink(cred);
    unlink(file);
}

static void test_refuses_a_key_others_can_read(void **state)
{
    (void)state;
    char err[600], file[160], cred[160];
    ih_status rc;
    snprintf(file, sizeof(file), "%s/open.key", keys);
    mode_t modes[] = {0640, 0604, 0620, 0644, 0660};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        put_file(file, 32, 1, modes[i]);
        struct tokenizer_options o = {.key_file = file, .db_path = db};
        assert_null(load(&o, err, sizeof(err), &rc));
        assert_contains(err, "group or others");
        assert_contains(err, "chmod 0400");
    }
    /* a systemd credential shows a group bit when systemd grants it by ACL */
    snprintf(cred, sizeof(cred), "%s/pan.key", creds);
    put_file(cred, 32, 1, 0440);
    struct tokenizer_options o = {.db_path = db, .credentials_dir = creds};
    struct tokenizer *t = load(&o, err, sizeof(err), &rc);
    assert_non_null(t);
    tokenizer_free(t);
    unlink(cred);
    unlink(file);
}

static void test_refuses_a_key_beside_the_database(void **state)
{
    (void)state;
    char err[600], in[160], below[200], dir[160], link[160];
    ih_status rc;
    snprintf(in, sizeof(in), "%s/data/pan.key", root);
    snprintf(dir, sizeof(dir), "%s/data/keys", root);
    snprintf(below, sizeof(below), "%s/pan.key", dir);
    snprintf(link, sizeof(link), "%s/link.key", keys);
    assert_int_equal(mkdir(dir, 0700), 0);
    put_file(in, 32, 1, 0400);
    put_file(below, 32, 1, 0400);
    assert_int_equal(symlink(in, link), 0);
    const char *bad[] = {in, below, link};
    for (size_t i = 0; i < 3; i++) {
        struct tokenizer_options o = {.key_file = bad[i], .db_path = db};
        assert_null(load(&o, err, sizeof(err), &rc));
        assert_contains(err, "in the database's folder");
        assert_contains(err, "move it out");
    }
    unlink(link);
    unlink(below);
    unlink(in);
    rmdir(dir);
}

static void test_key_sizes(void **state)
{
    (void)state;
    char err[600], file[160];
    ih_status rc;
    snprintf(file, sizeof(file), "%s/size.key", keys);
    struct tokenizer_options o = {.key_file = file, .db_path = db};
    put_file(file, 31, 1, 0400);
    assert_null(load(&o, err, sizeof(err), &rc));
    assert_contains(err, "fewer than 32 bytes");
    unlink(file);
    put_file(file, 1025, 1, 0400);
    assert_null(load(&o, err, sizeof(err), &rc));
    assert_contains(err, "more than 1024 bytes");
    unlink(file);
    put_file(file, 1024, 1, 0400);
    struct tokenizer *t = load(&o, err, sizeof(err), &rc);
    assert_non_null(t);
    tokenizer_free(t);
    unlink(file);
    o.key_file = "/nonexistent/pan.key";
    assert_null(load(&o, err, sizeof(err), &rc));
    assert_contains(err, "cannot open the PAN key /nonexistent/pan.key");
}

static void test_development_key(void **state)
{
    (void)state;
    char err[600], dev[160];
    ih_status rc;
    snprintf(dev, sizeof(dev), "%s/data/pan.dev.key", root);
    struct tokenizer_options o = {.db_path = db, .development = true};
    struct tokenizer *t = load(&o, err, sizeof(err), &rc);
    assert_non_null(t);
    assert_true(tokenizer_development(t));
    struct stat st;
    assert_int_equal(stat(dev, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    char id[TOKENIZE_KEY_ID_LEN + 1];
    snprintf(id, sizeof(id), "%s", tokenizer_key_id(t, 0));
    tokenizer_free(t);
    t = load(&o, err, sizeof(err), &rc); /* the same key at the next start */
    assert_string_equal(tokenizer_key_id(t, 0), id);
    tokenizer_free(t);
    o.key_file = "/etc/issuerhook/pan.key";
    assert_null(load(&o, err, sizeof(err), &rc));
    assert_contains(err, "both set");
    unlink(dev);
}

static void test_previous_keys(void **state)
{
    (void)state;
    char err[600], cur[160], old[160], other[160], list[400];
    ih_status rc;
    snprintf(cur, sizeof(cur), "%s/pan.key", keys);
    snprintf(old, sizeof(old), "%s/pan-2024.key", keys);
    snprintf(other, sizeof(other), "%s/data-other.key", root);
    put_file(cur, 32, 1, 0400);
    put_file(old, 32, 2, 0400);
    put_file(other, 48, 3, 0400);
    /* a bare name beside the current key, a path as it is, the current key again (once) */
    snprintf(list, sizeof(list), " pan-2024.key , %s,pan.key,", other);
    struct tokenizer_options o = {.key_file = cur, .previous = list, .db_path = db};
    struct tokenizer *t = load(&o, err, sizeof(err), &rc);
    assert_non_null(t);
    assert_int_equal(tokenizer_key_count(t), 3);
    assert_string_equal(tokenizer_key_path(t, 1), old);
    assert_string_equal(tokenizer_key_path(t, 2), other);
    struct pan_token p[3];
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(tokenizer_pan_under(t, i, "4111111111111111", 16, &p[i]), IH_OK);
        assert_string_equal(p[i].key_id, tokenizer_key_id(t, i));
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(p[i].token, p[j].token);
            assert_string_not_equal(p[i].key_id, p[j].key_id);
            assert_string_not_equal(tokenizer_fingerprint(t, i), tokenizer_fingerprint(t, j));
        }
    }
    struct pan_token now;
    assert_int_equal(tokenizer_pan(t, "4111111111111111", 16, &now), IH_OK);
    assert_string_equal(now.token, p[0].token); /* new tokens: the current key */
    assert_int_equal(tokenizer_pan_under(t, 3, "4111111111111111", 16, &now), IH_EINVAL);
    tokenizer_free(t);
    /* a previous key must pass the same checks */
    chmod(old, 0644);
    o.previous = "pan-2024.key";
    assert_null(load(&o, err, sizeof(err), &rc));
    assert_contains(err, old);
    o.previous = "missing.key";
    assert_null(load(&o, err, sizeof(err), &rc));
    assert_contains(err, "missing.key");
    unlink(cur);
    unlink(old);
    unlink(other);
}

/* The fingerprint is a function of the key alone, and reveals neither it nor its id. */
static void test_fingerprint(void **state)
{
    (void)state;
    char file[160], hex[2 * 32 + 1];
    unsigned char key[32], h[CRYPTO_SHA256_LEN];
    snprintf(file, sizeof(file), "%s/f.key", keys);
    put_file(file, 32, 5, 0400);
    FILE *f = fopen(file, "rb");
    assert_int_equal(fread(key, 1, 32, f), 32);
    fclose(f);
    struct tokenizer *a = load_file(file), *b = load_file(file);
    assert_string_equal(tokenizer_fingerprint(a, 0), tokenizer_fingerprint(b, 0));
    assert_int_equal(strlen(tokenizer_fingerprint(a, 0)), TOKENIZE_TOKEN_LEN);
    crypto_hex(key, 32, hex);
    assert_string_not_equal(tokenizer_fingerprint(a, 0), hex);
    crypto_sha256(key, 32, h);
    crypto_hex(h, 32, hex);
    assert_string_not_equal(tokenizer_fingerprint(a, 0), hex);
    assert_memory_equal(tokenizer_key_id(a, 0), hex, TOKENIZE_KEY_ID_LEN); /* the id: as before */
    tokenizer_free(a);
    tokenizer_free(b);
    unlink(file);
}

/* Tokens are HMAC-SHA256 as RFC 2104 defines it (tokenize.c keys SHA-256 itself): RFC
 * 4231's vectors for a key longer than a block, and OpenSSL's own HMAC for keys of every
 * size the daemon takes (32 bytes, a block, a block and one, 1024) and texts of a few
 * lengths. */
static void test_tokens_are_hmac_sha256(void **state)
{
    (void)state;
    char file[160], hex[2 * 32 + 1], want[2 * 32 + 1];
    snprintf(file, sizeof(file), "%s/hmac.key", keys);
    unsigned char key[1024];
    memset(key, 0xaa, 131);
    static const char *const rfc4231[][2] = {
        {"Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {"This is a test using a larger than block-size key and a larger than block-size data. The key needs to "
         "be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    FILE *f = fopen(file, "wb");
    assert_int_equal(fwrite(key, 1, 131, f), 131);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(file, 0400), 0);
    struct tokenizer *t = load_file(file);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(tokenizer_token(t, "", rfc4231[i][0], strlen(rfc4231[i][0]), hex), IH_OK);
        assert_string_equal(hex, rfc4231[i][1]);
    }
    tokenizer_free(t);
    unlink(file);
    static const size_t sizes[] = {32, 64, 65, 1024};
    static const char text[] = "4242424242424242 and then some text longer than one block of SHA-256, to be sure";
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t i = 0; i < sizes[s]; i++)
            key[i] = (unsigned char)(i * 31 + s);
        f = fopen(file, "wb");
        assert_int_equal(fwrite(key, 1, sizes[s], f), sizes[s]);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(file, 0400), 0);
        t = load_file(file);
        for (size_t n = 0; n < sizeof(text); n += 13) {
            unsigned char mac[32], msg[sizeof(text) + 8];
            size_t mlen = 0;
            memcpy(msg, "pan:", 4);
            memcpy(msg + 4, text, n);
            assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizes[s], msg, 4 + n, mac,
                                      sizeof(mac), &mlen));
            assert_int_equal(mlen, 32);
            crypto_hex(mac, 32, want);
            assert_int_equal(tokenizer_token(t, "pan:", text, n, hex), IH_OK);
            assert_string_equal(hex, want);
        }
        tokenizer_free(t);
        unlink(file);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_shows_at_most_half),
        cmocka_unit_test(test_where_the_key_is_found),
        cmocka_unit_test(test_refuses_a_key_others_can_read),
        cmocka_unit_test(test_refuses_a_key_beside_the_database),
        cmocka_unit_test(test_key_sizes),
        cmocka_unit_test(test_development_key),
        cmocka_unit_test(test_previous_keys),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_tokens_are_hmac_sha256),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
