/* The SQLite side of the PAN key check: the pan_keys table, and lookups of stored card
 * tokens (pankeys.h is the neutral face). */
#include "issuerhook/pankeys.h"

#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char SQL_CURRENT[] = "SELECT key_id, fingerprint, since FROM pan_keys WHERE is_current = 1";
static const char SQL_RETIRE[] = "UPDATE pan_keys SET is_current = 0, retired_at = ?1 WHERE is_current = 1";
static const char SQL_PUT[] =
    "INSERT INTO pan_keys (key_id, fingerprint, is_current, since) VALUES (?1, ?2, 1, ?3)"
    " ON CONFLICT (key_id) DO UPDATE SET fingerprint = excluded.fingerprint, is_current = 1,"
    " since = excluded.since, retired_at = NULL";
static const char SQL_NEWEST[] = "SELECT pan_key_id FROM card_activities ORDER BY seq DESC LIMIT 1";
static const char SQL_FIND[] =
    "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM card_activities"
    " WHERE pan_token = ?2 AND pan_key_id = ?1";

static void copy_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", s ? (const char *)s : "");
}

static int read_current(sqlite3 *c, struct keycheck_record *out, bool *found)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, SQL_CURRENT, -1, &st, NULL);
    *found = false;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        copy_text(st, 0, out->key_id, sizeof(out->key_id));
        copy_text(st, 1, out->fingerprint, sizeof(out->fingerprint));
        out->since_ms = sqlite3_column_int64(st, 2);
        *found = true;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reads go through a read connection: the write connection is not there while the
 * store cannot take writes (a daemon starting on a full disk still checks its key). */
static ih_status current(void *arg, struct keycheck_record *out, bool *found)
{
    struct db *db = arg;
    sqlite3 *c = db_read_acquire(db);
    *found = false;
    if (!c)
        return IH_EIO;
    int rc = read_current(c, out, found);
    ih_status st = rc == SQLITE_OK ? IH_OK : db_fail(c);
    db_read_release(db, c);
    return st;
}

static int exec_bound(sqlite3 *c, const char *sql, const struct keycheck_record *next, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        if (next) {
            sqlite3_bind_text(st, 1, next->key_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, next->fingerprint, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, now_ms);
        } else {
            sqlite3_bind_int64(st, 1, now_ms);
        }
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Compare-and-set in one IMMEDIATE transaction: another process (a second daemon on the
 * same file, by mistake) cannot slip between the read and the write. */
static ih_status replace(void *arg, const struct keycheck_record *expected, const struct keycheck_record *next,
                         int64_t now_ms, bool *applied)
{
    struct db *db = arg;
    sqlite3 *c = db->wr;
    struct keycheck_record rec;
    bool found = false;
    *applied = false;
    if (!c)
        return IH_EIO; /* the store cannot take writes (yet) */
    int rc = sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = read_current(c, &rec, &found);
    if (rc == SQLITE_OK && found == (expected != NULL) &&
        (!found || strcmp(rec.fingerprint, expected->fingerprint) == 0)) {
        if ((rc = exec_bound(c, SQL_RETIRE, NULL, now_ms)) == SQLITE_OK &&
            (rc = exec_bound(c, SQL_PUT, next, now_ms)) == SQLITE_OK)
            *applied = true;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ih_status st = db_fail(c);
        sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
        *applied = false;
        return st;
    }
    return IH_OK;
}

static ih_status newest_token_key(void *arg, char out[TOKENIZE_KEY_ID_LEN + 1], bool *found)
{
    struct db *db = arg;
    sqlite3 *c = db_read_acquire(db);
    sqlite3_stmt *st = NULL;
    *found = false;
    if (!c)
        return IH_EIO;
    int rc = sqlite3_prepare_v2(c, SQL_NEWEST, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        copy_text(st, 0, out, TOKENIZE_KEY_ID_LEN + 1);
        *found = true;
    }
    sqlite3_finalize(st);
    ih_status ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? IH_OK : db_fail(c);
    db_read_release(db, c);
    return ret;
}

/* ---- the same on the writer's own connection ---- */

static ih_status txn_current(void *arg, struct keycheck_record *out, bool *found)
{
    struct writer_txn *t = arg;
    if (!t->conn)
        return IH_EIO;
    return read_current(t->conn, out, found) == SQLITE_OK ? IH_OK : db_fail(t->conn);
}

static ih_status txn_replace(void *arg, const struct keycheck_record *expected, const struct keycheck_record *next,
                             int64_t now_ms, bool *applied)
{
    struct writer_txn *t = arg;
    struct db shim = {.wr = t->conn}; /* replace() only uses the write connection */
    return replace(&shim, expected, next, now_ms, applied);
}

static ih_status txn_newest(void *arg, char out[TOKENIZE_KEY_ID_LEN + 1], bool *found)
{
    struct writer_txn *t = arg;
    sqlite3_stmt *st = NULL;
    *found = false;
    if (!t->conn)
        return IH_EIO;
    int rc = sqlite3_prepare_v2(t->conn, SQL_NEWEST, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        copy_text(st, 0, out, TOKENIZE_KEY_ID_LEN + 1);
        *found = true;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? IH_OK : db_fail(t->conn);
}

void sqlite_pankeys_txn(struct writer_txn *txn, struct keycheck_store *out)
{
    *out = (struct keycheck_store){.arg = txn, .current = txn_current, .replace = txn_replace,
                                   .newest_token_key = txn_newest};
}

void sqlite_pankeys_store(struct store *s, struct keycheck_store *out)
{
    *out = (struct keycheck_store){.arg = db_of(s), .current = current, .replace = replace,
                                   .newest_token_key = newest_token_key};
}

ih_status sqlite_find_token(struct store *s, const char *key_id, const char *token, long long *count,
                             long long *first_seq, long long *last_seq)
{
    struct db *db = db_of(s);
    sqlite3 *c = db_read_acquire(db);
    sqlite3_stmt *st = NULL;
    ih_status rc = IH_EIO;
    *count = *first_seq = *last_seq = 0;
    if (!c)
        return IH_EIO;
    if (sqlite3_prepare_v2(c, SQL_FIND, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *count = sqlite3_column_int64(st, 0);
            *first_seq = sqlite3_column_int64(st, 1);
            *last_seq = sqlite3_column_int64(st, 2);
            rc = IH_OK;
        } else {
            rc = db_fail(c);
        }
    }
    sqlite3_finalize(st);
    db_read_release(db, c);
    return rc;
}
