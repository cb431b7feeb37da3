/* The PAN key of the real daemon: refused where it would sit with the data or be readable
 * by others; taken from a systemd credentials folder; recorded by the database, which then
 * refuses another key; a rotation with the old key kept, and `issuerhookd pan-lookup`
 * finding a PAN's rows under both keys (the PAN read from stdin, never echoed back);
 * `issuerhookd backup` never copying a key; migration 0007 re-masking stored PANs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "issuerhook/crypto.h"
#include "issuerhook/migrate.h"

#define CARD_SECRET "card-adapter-key"
#define PAN_X "4111111111111111"
#define PAN_Y "5555555555554444"

static char keydir[64], card_key[200];
static const char *const CARD[] = {"Content-Type: application/json", "X-API-Key: " CARD_SECRET, NULL};

static int setup(void **state)
{
    (void)state;
    snprintf(keydir, sizeof(keydir), "/tmp/ihkeys.XXXXXX");
    key_line("CARD", CARD_SECRET, "cardAdapter/write", card_key, sizeof(card_key));
    return mkdtemp(keydir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", keydir);
    return system(cmd);
}

/* 32 bytes from fill into path, with mode; *id: its key id (hex of SHA-256, 8 bytes). */
static void make_key(const char *path, unsigned char fill, mode_t mode, char id[17])
{
    unsigned char k[32], h[32];
    for (int i = 0; i < 32; i++)
        k[i] = (unsigned char)(fill * 31 + i);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(k, 1, 32, f), 32);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
    if (id) {
        crypto_sha256(k, 32, h);
        crypto_hex(h, 8, id);
    }
}

static long post_card(const struct daemon *d, const char *pan)
{
    char body[700];
    snprintf(body, sizeof(body),
             "{\"institutionId\":\"TIBURON\",\"items\":[{\"customerId\":\"d1b95731fb029fec062c\",\"cardId\":\"ca0sf8ds0af\","
             "\"pan\":\"%s\",\"activityType\":\"approved\",\"reasonCode\":\"transactionOccurred\",\"reason\":\"ok\","
             "\"amount\":{\"value\":\"12.34\",\"currency\":\"USD\"},\"merchant\":{\"category\":\"shopping.other\","
             "\"name\":\"Amazon\",\"address\":{\"regionCode\":\"WA\",\"countryCode\":\"US\"}},"
             "\"occurredAt\":\"2024-10-01T07:00:00.000Z\",\"location\":\"onlineMerchant\"}]}",
             pan);
    struct http_resp r;
    assert_true(http_post(d, "/system/incomingCardActivity", CARD, body, strlen(body), &r));
    long st = r.status;
    http_resp_free(&r);
    return st;
}

/* A start that must fail: the daemon exits 1 and its log says why. */
static void assert_refused(const char *env, const char *why)
{
    char *out = NULL;
    assert_int_equal(daemon_run(env, "", &out), 1);
    if (!strstr(out, why))
        fail_msg("expected \"%s\" in: %s", why, out);
    free(out);
}

static void test_refuses_a_missing_key_or_one_open_to_others(void **state)
{
    (void)state;
    struct daemon d = {0};
    char db[800], env[1400], key[200];
    assert_true(daemon_prepare(&d));
    store_env(&d, db, sizeof(db));
    assert_refused(db, "no PAN key");
    /* readable by the group */
    snprintf(key, sizeof(key), "%s/pan.key", keydir);
    make_key(key, 1, 0640, NULL);
    snprintf(env, sizeof(env), "%s ISSUERHOOK_PAN_KEY_FILE=%s", db, key);
    assert_refused(env, "can be read or changed by group or others (mode 0640)");
    /* the development key and a real one are not mixed */
    assert_int_equal(chmod(key, 0400), 0);
    snprintf(env, sizeof(env), "%s ISSUERHOOK_PAN_KEY_FILE=%s ISSUERHOOK_PAN_KEY_DEVELOPMENT=true", db, key);
    assert_refused(env, "both set");
    unlink(key);
    daemon_cleanup(&d);
}

/* SQLite only: a PostgreSQL database has no folder of its own for a key to be in. */
static void test_refuses_a_key_with_the_data(void **state)
{
    (void)state;
    char db[200], env[900], key[200], dir[100];
    snprintf(dir, sizeof(dir), "%s/refuse", keydir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(db, sizeof(db), "%s/var/issuerhook.db", dir);
    /* in the database's folder, however it is named */
    snprintf(key, sizeof(key), "%s/var", dir);
    assert_int_equal(mkdir(key, 0700), 0);
    snprintf(key, sizeof(key), "%s/var/pan.key", dir);
    make_key(key, 1, 0400, NULL);
    snprintf(env, sizeof(env), "ISSUERHOOK_DB=%s ISSUERHOOK_PAN_KEY_FILE=%s/var/../var/pan.key", db, dir);
    assert_refused(env, "is in the database's folder");
}

/* pan-lookup with pan on stdin, env as daemon_run takes it; returns the output. */
static char *lookup(const char *env, const char *pan)
{
    char file[128], args[300], *out = NULL;
    snprintf(file, sizeof(file), "%s/pan.txt", keydir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", pan);
    fclose(f);
    snprintf(args, sizeof(args), "pan-lookup < '%s'", file);
    assert_int_equal(daemon_run(env, args, &out), 0);
    unlink(file);
    assert_null(strstr(out, pan)); /* never printed back */
    return out;
}

static void test_credential_rotation_and_lookup(void **state)
{
    (void)state;
    char creds[128], a[160], old[160], c[160], ida[17], idb[17], idc[17], sql[300];
    char ev_creds[200], ev_prev[64] = "ISSUERHOOK_PAN_KEY_PREVIOUS=pan-2025.key", env[1400];
    snprintf(creds, sizeof(creds), "%s/credentials", keydir);
    assert_int_equal(mkdir(creds, 0700), 0);
    snprintf(a, sizeof(a), "%s/pan.key", creds);
    make_key(a, 1, 0440, ida); /* systemd grants a credential by ACL: a group bit shows */
    snprintf(ev_creds, sizeof(ev_creds), "CREDENTIALS_DIRECTORY=%s", creds);
    /* the harness's own key setting unset: the key comes from the credentials folder */
    struct daemon d = {.extra_env = {card_key, ev_creds, "ISSUERHOOK_PAN_KEY_DEVELOPMENT=false",
                                     "ISSUERHOOK_PAN_KEY_FILE=", NULL}};
    assert_true(daemon_start(&d));
    assert_false(daemon_log_has(&d, "DEVELOPMENT PAN KEY", 0));
    assert_int_equal(post_card(&d, PAN_X), 200);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pan_keys WHERE is_current AND key_id = '%s'", ida);
    assert_int_equal(db_scalar(&d, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM card_activities WHERE pan_key_id = '%s'", ida);
    assert_int_equal(db_scalar(&d, sql), 1);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);

    /* rotation: the old key kept beside the new one, as a drop-in's LoadCredential= puts it */
    snprintf(old, sizeof(old), "%s/pan-2025.key", creds);
    assert_int_equal(rename(a, old), 0);
    make_key(a, 2, 0400, idb);
    d.extra_env[4] = ev_prev;
    d.extra_env[5] = NULL;
    assert_true(daemon_start(&d));
    assert_true(daemon_log_has(&d, "PAN key rotated", 0));
    assert_int_equal(post_card(&d, PAN_Y), 200);
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM pan_keys WHERE is_current AND key_id = '%s') + "
             "(SELECT count(*) FROM pan_keys WHERE NOT is_current AND key_id = '%s' AND retired_at IS NOT NULL)",
             idb, ida);
    assert_int_equal(db_scalar(&d, sql), 2);
    assert_int_equal(daemon_stop(&d, SIGTERM), 0);

    /* pan-lookup: each PAN's row under the key that made it */
    char db[800];
    store_env(&d, db, sizeof(db));
    snprintf(env, sizeof(env), "%s %s %s", db, ev_creds, ev_prev);
    char *out = lookup(env, PAN_X), want[120];
    snprintf(want, sizeof(want), "key %s (previous) token ", ida);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, ": 1 card activity, records.seq"));
    snprintf(want, sizeof(want), "key %s (current) token ", idb);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, ": no card activity"));
    free(out);
    out = lookup(env, "5555 5555 5555 4444");
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(strstr(out, want), ": 1 card activity"));
    free(out);
    assert_int_equal(daemon_run(env, "pan-lookup < /dev/null", &out), 1);
    free(out);

    /* the old key alone, or a third key: refused, naming the key the database expects */
    char only[1200];
    assert_int_equal(chmod(old, 0400), 0); /* out of the credentials folder, it must be 0400 */
    snprintf(only, sizeof(only), "%s ISSUERHOOK_PAN_KEY_FILE=%s", db, old);
    assert_refused(only, "is not the key this database's tokens are made with");
    snprintf(c, sizeof(c), "%s/other.key", keydir);
    make_key(c, 3, 0400, idc);
    snprintf(only, sizeof(only), "%s ISSUERHOOK_PAN_KEY_FILE=%s", db, c);
    assert_refused(only, idb);
    unlink(c);
    daemon_cleanup(&d);
}

/* What the store keeps holds the keys' ids, never a key: SQLite's files, or every file of
 * the PostgreSQL cluster; `issuerhookd backup` (SQLite's) copies no key either. */
static void stored_then_scanned(struct daemon *d, char *key, char id[17])
{
    snprintf(key, 160, "%s/secret.key", keydir);
    make_key(key, 4, 0400, id);
    assert_true(daemon_start(d));
    assert_int_equal(post_card(d, PAN_X), 200);
    assert_int_equal(daemon_stop(d, SIGTERM), 0);
}

static void key_bytes(unsigned char fill, char kb[32])
{
    for (int i = 0; i < 32; i++)
        kb[i] = (char)(fill * 31 + i);
}

static void test_store_holds_no_key(void **state)
{
    (void)state;
    char key[160], keyenv[200], id[17], kb[32];
    snprintf(keyenv, sizeof(keyenv), "ISSUERHOOK_PAN_KEY_FILE=%s/secret.key", keydir);
    struct daemon d = {.extra_env = {card_key, "ISSUERHOOK_PAN_KEY_DEVELOPMENT=false", keyenv, NULL},
                       .pg_private = true};
    stored_then_scanned(&d, key, id);
    struct scan_image *img = store_image_read(&d);
    assert_non_null(img);
    assert_true(scan_image_has(img, id, 16)); /* the control: the key's id is there */
    key_bytes(4, kb);
    assert_false(scan_image_has(img, kb, 32));
    scan_image_free(img);
    unlink(key);
    daemon_cleanup(&d);
}

/* SQLite only: `issuerhookd backup` copies SQLite's file (on PostgreSQL it refuses and
 * points to pg_dump and base backups). */
static void test_backup_holds_no_key(void **state)
{
    (void)state;
    char key[160], keyenv[200], id[17], kb[32], *out = NULL;
    snprintf(keyenv, sizeof(keyenv), "ISSUERHOOK_PAN_KEY_FILE=%s/secret.key", keydir);
    struct daemon d = {.extra_env = {card_key, "ISSUERHOOK_PAN_KEY_DEVELOPMENT=false", keyenv, NULL}};
    stored_then_scanned(&d, key, id);
    char dest[300], args[400], env[400];
    snprintf(dest, sizeof(dest), "%s/backup.db", d.dir);
    snprintf(args, sizeof(args), "backup '%s'", dest);
    snprintf(env, sizeof(env), "ISSUERHOOK_DB=%s", d.db);
    assert_int_equal(daemon_run(env, args, &out), 0);
    free(out);
    struct scan_image *img = scan_image_new();
    assert_true(scan_image_add(img, dest));
    assert_true(scan_image_has(img, id, 16));
    key_bytes(4, kb);
    assert_false(scan_image_has(img, kb, 32));
    scan_image_free(img);
    snprintf(args, sizeof(args), "find '%s' -name '*.key' | grep -q .", d.dir);
    assert_int_not_equal(system(args), 0);
    unlink(key);
    daemon_cleanup(&d);
}

/* ---- migration 0007 on a database of schema 4 ---- */

static void exec_sql(sqlite3 *c, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(c, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
}

/* A record and card row as schema 4 stored them: the first six digits shown. */
static void old_card_row(sqlite3 *c, int seq, const char *payload, const char *first6, const char *key_id)
{
    char *sql = sqlite3_mprintf(
        "INSERT INTO records (seq, source, idem_key, payload_sha256, type, tracing_id, received_at, payload,"
        " response_status, response_body) VALUES (%d, 'apiture.card_activity', 'k%d', x'00', 'approved', 't', 1, %Q,"
        " 200, '');"
        "INSERT INTO card_activities (seq, pan_token, pan_first6, pan_last4, pan_key_id) VALUES (%d, 'tok', %Q,"
        " '4242', %Q);",
        seq, seq, payload, seq, first6, key_id);
    exec_sql(c, sql);
    sqlite3_free(sql);
}

static void test_migration_masks_stored_pans(void **state)
{
    (void)state;
    struct daemon d = {0};
    char dir[100], env[400], *out = NULL;
    snprintf(dir, sizeof(dir), "%s/mig", keydir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(d.db, sizeof(d.db), "%s/issuerhook.db", dir);
    sqlite3 *c = NULL;
    assert_int_equal(sqlite3_open(d.db, &c), SQLITE_OK);
    exec_sql(c, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL DEFAULT '')");
    for (size_t i = 0; i < migrations_sqlite_count && migrations_sqlite[i].version <= 4; i++) {
        exec_sql(c, migrations_sqlite[i].sql);
        char *ins = sqlite3_mprintf("INSERT INTO schema_migrations (version, name) VALUES (%d, %Q)",
                                    migrations_sqlite[i].version, migrations_sqlite[i].name);
        exec_sql(c, ins);
        sqlite3_free(ins);
    }
    const char *p16 = "{\"amount\":{\"value\":1.50},\"merchant\":{\"name\":\"Caf\xc3\xa9 \\\"x\\\"\"},"
                      "\"pan\":\"424242******4242\",\"reason\":\"a\\u0001b\"}";
    old_card_row(c, 1, p16, "424242", "0123456789abcdef");
    old_card_row(c, 2, "{\"pan\":\"123456**4242\"}", "123456", "0123456789abcdef");
    sqlite3_close(c);

    snprintf(env, sizeof(env), "ISSUERHOOK_DB=%s", d.db);
    assert_int_equal(daemon_run(env, "migrate", &out), 0);
    free(out);
    /* the mask and pan_lead shortened; the rest of the evidence byte for byte the same */
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records WHERE seq = 1 AND payload = "
                                   "'{\"amount\":{\"value\":1.50},\"merchant\":{\"name\":\"Caf\xc3\xa9 \\\"x\\\"\"},"
                                   "\"pan\":\"4242********4242\",\"reason\":\"a\\u0001b\"}'"),
                     1);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM records WHERE seq = 2 AND payload = '{\"pan\":\"12******4242\"}'"),
                     1);
    assert_int_equal(db_scalar(&d, "SELECT count(*) FROM card_activities WHERE (seq = 1 AND pan_lead = '4242') OR "
                                   "(seq = 2 AND pan_lead = '12')"),
                     2);
    /* its tokens were made with a key this daemon does not have: refused */
    char dev[450];
    snprintf(dev, sizeof(dev), "ISSUERHOOK_DB=%s ISSUERHOOK_PAN_KEY_DEVELOPMENT=true", d.db);
    assert_refused(dev, "0123456789abcdef, and no configured key has that id");
}

int main(void)
{
    const struct ih_test tests[] = {
        IH_TEST(cmocka_unit_test(test_refuses_a_missing_key_or_one_open_to_others)),
        IH_SQLITE_TEST(cmocka_unit_test(test_refuses_a_key_with_the_data),
                       "a PostgreSQL database has no folder of its own for a key to be in"),
        IH_TEST(cmocka_unit_test(test_credential_rotation_and_lookup)),
        IH_TEST(cmocka_unit_test(test_store_holds_no_key)),
        IH_SQLITE_TEST(cmocka_unit_test(test_backup_holds_no_key),
                       "issuerhookd backup copies SQLite's file; PostgreSQL's are pg_dump and base backups"),
        IH_SQLITE_TEST(cmocka_unit_test(test_migration_masks_stored_pans),
                       "SQLite's migration 0007 re-masks PANs stored by schema 4; PostgreSQL's schema had the short "
                       "mask from its start"),
    };
    return IH_RUN_TESTS(tests, setup, teardown);
}
