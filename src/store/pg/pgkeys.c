/* The PostgreSQL side of the PAN key check (keycheck.h decides): the pan_keys table of
 * migrations/postgresql/0007, read and replaced on the pool or on the writer's connection,
 * and lookups of stored card tokens. One key for every node: the first node to start
 * records its key's fingerprint, and a node with another key refuses to start. */
#include <stdio.h>
#include <string.h>

#include "issuerhook/pankeys.h"
#include "pginternal.h"
#include "pgstmts.h"

/* k's connection: its own, or one of the pool (released by put). */
static struct pgconn *take(struct pg_keys *k)
{
    return k->c ? k->c : pg_pool_acquire(k->s, false);
}

static void put(struct pg_keys *k, struct pgconn *c)
{
    if (!k->c)
        pg_pool_release(k->s, c);
}

static void copy(const PGresult *r, const char *col, char *out, size_t cap)
{
    const char *v = pg_col(r, 0, col);
    snprintf(out, cap, "%s", v ? v : "");
}

static ih_status read_current(struct pgconn *c, struct keycheck_record *out, bool *found)
{
    PGresult *r = NULL;
    *found = false;
    ih_status rc = pg_exec(c, &pgstmts_pankey_current, 0, NULL, NULL, NULL, &r, NULL, "reading the PAN keys");
    if (rc == IH_OK && PQntuples(r) == 1) {
        copy(r, "key_id", out->key_id, sizeof(out->key_id));
        copy(r, "fingerprint", out->fingerprint, sizeof(out->fingerprint));
        out->since_ms = pg_col_i64(r, 0, "since", 0);
        *found = true;
    }
    PQclear(r);
    return rc;
}

static ih_status current(void *arg, struct keycheck_record *out, bool *found)
{
    struct pg_keys *k = arg;
    struct pgconn *c = take(k);
    ih_status rc = read_current(c, out, found);
    put(k, c);
    return rc;
}

/* Compare-and-set in one transaction that locks the table first: two nodes starting at
 * once on an empty database cannot both record a key. */
static ih_status replace_on(struct pgconn *c, const struct keycheck_record *expected,
                            const struct keycheck_record *next, int64_t now_ms, bool *applied)
{
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    const char *const put_v[] = {next->key_id, next->fingerprint, now}, *const retire_v[] = {now};
    struct keycheck_record rec;
    bool found = false;
    static const char DOING[] = "recording the PAN key";
    ih_status rc = pg_exec_sql(c, "BEGIN", 0, NULL, NULL, NULL, DOING);
    if (rc == IH_OK)
        rc = pg_exec_sql(c, "LOCK TABLE pan_keys IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL, NULL, DOING);
    if (rc == IH_OK)
        rc = read_current(c, &rec, &found);
    bool still = rc == IH_OK && found == (expected != NULL) &&
                 (!found || strcmp(rec.fingerprint, expected->fingerprint) == 0);
    if (still)
        rc = pg_exec_sql(c, "UPDATE pan_keys SET is_current = false, retired_at = $1::bigint WHERE is_current", 1,
                         retire_v, NULL, NULL, DOING);
    if (still && rc == IH_OK)
        rc = pg_exec_sql(c,
                         "INSERT INTO pan_keys (key_id, fingerprint, is_current, since)"
                         " VALUES ($1, $2, true, $3::bigint) ON CONFLICT (key_id) DO UPDATE SET"
                         " fingerprint = excluded.fingerprint, is_current = true, since = excluded.since,"
                         " retired_at = NULL",
                         3, put_v, NULL, NULL, DOING);
    if (rc == IH_OK)
        rc = pg_exec_sql(c, "COMMIT", 0, NULL, NULL, NULL, DOING);
    if (rc != IH_OK && pgconn_pq(c)) {
        ih_status ignored = pg_exec_sql(c, "ROLLBACK", 0, NULL, NULL, NULL, NULL);
        (void)ignored;
    }
    *applied = rc == IH_OK && still;
    return rc;
}

static ih_status replace(void *arg, const struct keycheck_record *expected, const struct keycheck_record *next,
                         int64_t now_ms, bool *applied)
{
    struct pg_keys *k = arg;
    struct pgconn *c = take(k);
    ih_status rc = replace_on(c, expected, next, now_ms, applied);
    put(k, c);
    return rc;
}

static ih_status newest_token_key(void *arg, char out[TOKENIZE_KEY_ID_LEN + 1], bool *found)
{
    struct pg_keys *k = arg;
    struct pgconn *c = take(k);
    PGresult *r = NULL;
    *found = false;
    ih_status rc = pg_exec(c, &pgstmts_pankey_newest, 0, NULL, NULL, NULL, &r, NULL, "reading the card tokens");
    put(k, c);
    if (rc == IH_OK && PQntuples(r) == 1) {
        copy(r, "pan_key_id", out, TOKENIZE_KEY_ID_LEN + 1);
        *found = true;
    }
    PQclear(r);
    return rc;
}

void pg_keys_store(struct pg_keys *k, struct keycheck_store *out)
{
    *out = (struct keycheck_store){
        .arg = k, .current = current, .replace = replace, .newest_token_key = newest_token_key};
}

void pg_keycheck_store(struct store *s, struct keycheck_store *out)
{
    pg_keys_store(&pg_of(s)->keys, out);
}

ih_status pg_find_token(struct store *st, const char *key_id, const char *token, long long *count,
                        long long *first_seq, long long *last_seq)
{
    struct pgstore *s = pg_of(st);
    const char *const v[] = {key_id, token};
    *count = *first_seq = *last_seq = 0;
    struct pgconn *c = pg_pool_acquire(s, false);
    PGresult *r = NULL;
    ih_status rc = pg_exec(c, &pgstmts_pankey_find, 2, v, NULL, NULL, &r, NULL, "looking a token up");
    pg_pool_release(s, c);
    if (rc == IH_OK && PQntuples(r) == 1) {
        *count = pg_col_i64(r, 0, "n", 0);
        *first_seq = pg_col_i64(r, 0, "first_seq", 0);
        *last_seq = pg_col_i64(r, 0, "last_seq", 0);
    } else if (rc == IH_OK) {
        rc = IH_EIO;
    }
    PQclear(r);
    return rc;
}
