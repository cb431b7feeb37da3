/* Unit tests of the PAN key check at start (include/issuerhook/keycheck.h): the decision
 * against a store that only keeps records (here a fake one, so every case and a race can
 * be set up), then the SQLite store (store/pankeys.c) on a real database file. */
#include "testutil.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issuerhook/store.h"
#include "issuerhook/keycheck.h"
#include "issuerhook/migrate.h"
#include "issuerhook/pankeys.h"

static char root[64], dbfile[128], key_a[128], key_b[128], key_c[128];

static void put_key(const char *path, unsigned char fill)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 32; i++)
        fputc(fill + i, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0400), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/ihkc.XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char keys[96];
    snprintf(keys, sizeof(keys), "%s/keys", root);
    snprintf(dbfile, sizeof(dbfile), "%s/data/issuerhook.db", root);
    snprintf(key_a, sizeof(key_a), "%s/a.key", keys);
    snprintf(key_b, sizeof(key_b), "%s/b.key", keys);
    snprintf(key_c, sizeof(key_c), "%s/c.key", keys);
    if (mkdir(keys, 0700))
        return -1;
    put_key(key_a, 1);
    put_key(key_b, 2);
    put_key(key_c, 3);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd);
}

/* current key file, previous list (may be NULL) */
static struct tokenizer *keys(const char *current, const char *previous)
{
    char err[600];
    struct tokenizer *t = NULL;
    struct tokenizer_options o = {.key_file = current, .previous = previous, .db_path = dbfile};
    if (tokenizer_load(&o, &t, err, sizeof(err)) != IH_OK)
        fail_msg("%s", err);
    return t;
}

/* ---- the decision, against a fake store ---- */

struct fake {
    bool has;
    struct keycheck_record cur;
    char retired[4][TOKENIZE_KEY_ID_LEN + 1];
    size_t nretired;
    bool has_token;
    char token_key[TOKENIZE_KEY_ID_LEN + 1];
    int replaces;
    const char *sneak_in; /* a fingerprint another node records before our first replace */
};

static ih_status f_current(void *arg, struct keycheck_record *out, bool *found)
{
    struct fake *f = arg;
    *found = f->has;
    if (f->has)
        *out = f->cur;
    return IH_OK;
}

static ih_status f_replace(void *arg, const struct keycheck_record *expected, const struct keycheck_record *next,
                           int64_t now_ms, bool *applied)
{
    struct fake *f = arg;
    f->replaces++;
    if (f->sneak_in) { /* the other node wins the race */
        f->has = true;
        snprintf(f->cur.fingerprint, sizeof(f->cur.fingerprint), "%s", f->sneak_in);
        f->sneak_in = NULL;
    }
    *applied = f->has == (expected != NULL) && (!f->has || strcmp(f->cur.fingerprint, expected->fingerprint) == 0);
    if (!*applied)
        return IH_OK;
    if (f->has)
        snprintf(f->retired[f->nretired++], TOKENIZE_KEY_ID_LEN + 1, "%s", f->cur.key_id);
    f->cur = *next;
    f->cur.since_ms = now_ms;
    f->has = true;
    return IH_OK;
}

static ih_status f_newest(void *arg, char out[TOKENIZE_KEY_ID_LEN + 1], bool *found)
{
    struct fake *f = arg;
    *found = f->has_token;
    snprintf(out, TOKENIZE_KEY_ID_LEN + 1, "%s", f->token_key);
    return IH_OK;
}

static ih_status verify(struct tokenizer *t, struct fake *f, char *err, size_t errlen)
{
    struct keycheck_store s = {.arg = f, .current = f_current, .replace = f_replace, .newest_token_key = f_newest};
    err[0] = '\0';
    return keycheck_verify(t, &s, 1700000000000, err, errlen);
}

static void test_first_start_records_then_the_same_key_starts(void **state)
{
    (void)state;
    struct fake f = {0};
    char err[600];
    struct tokenizer *a = keys(key_a, NULL);
    assert_int_equal(verify(a, &f, err, sizeof(err)), IH_OK);
    assert_true(f.has);
    assert_string_equal(f.cur.key_id, tokenizer_key_id(a, 0));
    assert_string_equal(f.cur.fingerprint, tokenizer_fingerprint(a, 0));
    assert_int_equal(f.replaces, 1);
    assert_int_equal(verify(a, &f, err, sizeof(err)), IH_OK);
    assert_int_equal(f.replaces, 1); /* nothing to write */
    tokenizer_free(a);
}

static void test_another_key_is_refused(void **state)
{
    (void)state;
    struct fake f = {0};
    char err[600];
    struct tokenizer *a = keys(key_a, NULL), *b = keys(key_b, NULL);
    assert_int_equal(verify(a, &f, err, sizeof(err)), IH_OK);
    assert_int_equal(verify(b, &f, err, sizeof(err)), IH_ECONFLICT);
    assert_contains(err, tokenizer_key_id(a, 0));
    assert_contains(err, tokenizer_key_id(b, 0));
    assert_contains(err, "Restore that key file");
    assert_contains(err, "ISSUERHOOK_PAN_KEY_PREVIOUS");
    assert_string_equal(f.cur.key_id, tokenizer_key_id(a, 0)); /* unchanged */
    assert_int_equal(f.replaces, 1);
    tokenizer_free(a);
    tokenizer_free(b);
}

static void test_rotation_and_back(void **state)
{
    (void)state;
    struct fake f = {0};
    char err[600];
    struct tokenizer *a = keys(key_a, NULL), *b = keys(key_b, "a.key"), *a_again = keys(key_a, "b.key");
    assert_int_equal(verify(a, &f, err, sizeof(err)), IH_OK);
    /* B with A as previous: the new key is recorded, A retired */
    assert_int_equal(verify(b, &f, err, sizeof(err)), IH_OK);
    assert_string_equal(f.cur.key_id, tokenizer_key_id(b, 0));
    assert_int_equal(f.nretired, 1);
    assert_string_equal(f.retired[0], tokenizer_key_id(a, 0));
    /* A alone is refused now: B's tokens would be lost */
    assert_int_equal(verify(a, &f, err, sizeof(err)), IH_ECONFLICT);
    /* A with B as previous: back to A */
    assert_int_equal(verify(a_again, &f, err, sizeof(err)), IH_OK);
    assert_string_equal(f.cur.key_id, tokenizer_key_id(a, 0));
    tokenizer_free(a);
    tokenizer_free(b);
    tokenizer_free(a_again);
}

/* A database from before fingerprints were recorded: its newest token names its key. */
static void test_tokens_before_fingerprints(void **state)
{
    (void)state;
    char err[600];
    struct tokenizer *a = keys(key_a, NULL), *b = keys(key_b, "a.key"), *c = keys(key_c, NULL);
    struct fake f = {.has_token = true};
    snprintf(f.token_key, sizeof(f.token_key), "%s", tokenizer_key_id(a, 0));
    assert_int_equal(verify(c, &f, err, sizeof(err)), IH_ECONFLICT);
    assert_contains(err, tokenizer_key_id(a, 0));
    assert_contains(err, "no configured key has that id");
    assert_false(f.has);
    assert_int_equal(verify(b, &f, err, sizeof(err)), IH_OK); /* a previous key made them */
    assert_string_equal(f.cur.key_id, tokenizer_key_id(b, 0));
    struct fake g = {.has_token = true};
    snprintf(g.token_key, sizeof(g.token_key), "%s", tokenizer_key_id(a, 0));
    assert_int_equal(verify(a, &g, err, sizeof(err)), IH_OK);
    tokenizer_free(a);
    tokenizer_free(b);
    tokenizer_free(c);
}

/* Two nodes start at once on an empty store: the second decides against what the first
 * recorded. */
static void test_race_on_an_empty_store(void **state)
{
    (void)state;
    char err[600];
    struct tokenizer *a = keys(key_a, NULL), *b = keys(key_b, NULL);
    struct fake f = {.sneak_in = tokenizer_fingerprint(a, 0)};
    snprintf(f.cur.key_id, sizeof(f.cur.key_id), "%s", tokenizer_key_id(a, 0));
    assert_int_equal(verify(b, &f, err, sizeof(err)), IH_ECONFLICT);
    assert_int_equal(f.replaces, 1);
    struct fake g = {.sneak_in = tokenizer_fingerprint(a, 0)};
    snprintf(g.cur.key_id, sizeof(g.cur.key_id), "%s", tokenizer_key_id(a, 0));
    assert_int_equal(verify(a, &g, err, sizeof(err)), IH_OK); /* the same key: fine */
    tokenizer_free(a);
    tokenizer_free(b);
}

/* ---- the SQLite store ---- */

static long long scalar(const char *sql)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(dbfile, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static ih_status verify_db(struct tokenizer *t, char *err, size_t errlen)
{
    struct store *db = NULL;
    struct store_options o = {.busy_timeout_ms = 1000};
    assert_int_equal(store_open(dbfile, &o, &db, err, errlen), IH_OK); /* migrates */
    struct keycheck_store s;
    pankeys_store(db, &s);
    ih_status rc = keycheck_verify(t, &s, 1700000000000, err, errlen);
    store_close(db);
    return rc;
}

static void test_sqlite_store(void **state)
{
    (void)state;
    char err[600], sql[256];
    struct tokenizer *a = keys(key_a, NULL), *b = keys(key_b, "a.key"), *c = keys(key_c, NULL);
    assert_int_equal(verify_db(a, err, sizeof(err)), IH_OK);
    assert_int_equal(verify_db(a, err, sizeof(err)), IH_OK);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pan_keys WHERE is_current = 1 AND key_id = '%s' AND "
             "fingerprint = '%s' AND retired_at IS NULL", tokenizer_key_id(a, 0), tokenizer_fingerprint(a, 0));
    assert_int_equal(scalar(sql), 1);
    assert_int_equal(scalar("SELECT count(*) FROM pan_keys"), 1);
    assert_int_equal(verify_db(c, err, sizeof(err)), IH_ECONFLICT); /* a restore with a lost key */
    assert_contains(err, tokenizer_key_id(a, 0));
    assert_int_equal(verify_db(b, err, sizeof(err)), IH_OK); /* rotation */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pan_keys WHERE is_current = 0 AND key_id = '%s' AND "
             "retired_at IS NOT NULL", tokenizer_key_id(a, 0));
    assert_int_equal(scalar(sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pan_keys WHERE is_current = 1 AND key_id = '%s'",
             tokenizer_key_id(b, 0));
    assert_int_equal(scalar(sql), 1);
    /* the key itself is nowhere in the file */
    FILE *f = fopen(key_a, "rb");
    unsigned char k[32];
    assert_int_equal(fread(k, 1, 32, f), 32);
    fclose(f);
    f = fopen(dbfile, "rb");
    static unsigned char file[1 << 20];
    size_t n = fread(file, 1, sizeof(file), f);
    fclose(f);
    assert_null(memmem(file, n, k, sizeof(k)));
    tokenizer_free(a);
    tokenizer_free(b);
    tokenizer_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_start_records_then_the_same_key_starts),
        cmocka_unit_test(test_another_key_is_refused),
        cmocka_unit_test(test_rotation_and_back),
        cmocka_unit_test(test_tokens_before_fingerprints),
        cmocka_unit_test(test_race_on_an_empty_store),
        cmocka_unit_test(test_sqlite_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
