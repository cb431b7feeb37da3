/* The harness's look into a daemon's store, on SQLite (sqlite3, the file) or PostgreSQL
 * (libpq, the database's Unix socket as the cluster's superuser), and the few places the
 * two differ: feed positions, the store's name in /health, a lock that stops writes. */
#include "harness.h"
#include "harness_internal.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/migrate.h"
#include "pgtmp.h"

/* SQLite's functions the tests' SQL uses, for the harness's PostgreSQL sessions only (a
 * schema of their own, on their search_path; the daemon never sees it). json_extract
 * answers text, as ->> does (compare numbers through CAST; true and false are 1 and 0,
 * as SQLite gives them); instr is strpos; zeroblob(n) is n zero bytes. */
static const char COMPAT_SQL[] =
    "CREATE SCHEMA ih_test_compat;"
    "CREATE FUNCTION ih_test_compat.json_extract(doc text, path text) RETURNS text"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT CASE json_typeof(v) WHEN 'boolean' THEN (v::text = 'true')::int::text"
    " ELSE v #>> '{}' END FROM (SELECT doc::json #> string_to_array(substr(path, 3), '.') AS v) x $$;"
    "CREATE FUNCTION ih_test_compat.instr(hay text, needle text) RETURNS integer"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT strpos(hay, needle) $$;"
    "CREATE FUNCTION ih_test_compat.zeroblob(n integer) RETURNS bytea"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT decode(repeat('00', n), 'hex') $$;";

/* A session on d's PostgreSQL database (NULL, said on stderr, when it cannot connect). */
static PGconn *pg_open(const struct daemon *d, bool readonly)
{
    const struct pgtmp *pg = harness_pg(d);
    if (!pg) {
        fprintf(stderr, "harness: no PostgreSQL database for this daemon\n");
        return NULL;
    }
    char ci[800];
    snprintf(ci, sizeof(ci),
             "%s application_name=ih_test options='-c search_path=public,ih_test_compat -c lock_timeout=5000%s'",
             pg->socket_conninfo, readonly ? " -c default_transaction_read_only=on" : "");
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot connect to %s: %s", pg->socket_conninfo, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

bool harness_pg_compat(const struct daemon *d)
{
    return db_exec(d, COMPAT_SQL);
}

/* The first ncols columns of up to cap rows into out (row-major), as integers (NULL: -1);
 * the number of rows, or -1 on error or more than cap rows. cap 0: the first row alone,
 * whatever follows it (1 when there is one). */
static long pg_rows(const struct daemon *d, const char *sql, long long *out, size_t ncols, size_t cap)
{
    PGconn *c = pg_open(d, true);
    if (!c)
        return -1;
    PGresult *r = PQexec(c, sql);
    long n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && (size_t)PQnfields(r) >= ncols &&
        (cap == 0 || (size_t)PQntuples(r) <= cap)) {
        n = cap == 0 && PQntuples(r) > 1 ? 1 : PQntuples(r);
        for (long i = 0; i < n; i++)
            for (size_t k = 0; k < ncols; k++)
                out[(size_t)i * ncols + k] =
                    PQgetisnull(r, (int)i, (int)k) ? -1 : strtoll(PQgetvalue(r, (int)i, (int)k), NULL, 10);
    } else {
        fprintf(stderr, "db(%s): %s%s\n", sql, PQresultErrorMessage(r),
                PQresultStatus(r) == PGRES_TUPLES_OK ? "(more rows or fewer columns than asked for)" : "");
    }
    PQclear(r);
    PQfinish(c);
    return n;
}

static long sqlite_rows(const struct daemon *d, const char *sql, long long *out, size_t ncols, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_open_v2(d->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && (size_t)sqlite3_column_count(st) >= ncols) {
            int rc;
            size_t room = cap ? cap : 1;
            for (n = 0; (rc = sqlite3_step(st)) == SQLITE_ROW && (size_t)n < room; n++)
                for (size_t k = 0; k < ncols; k++)
                    out[(size_t)n * ncols + k] = sqlite3_column_type(st, (int)k) == SQLITE_NULL
                                                     ? -1
                                                     : sqlite3_column_int64(st, (int)k);
            if (cap == 0 && (rc == SQLITE_ROW || rc == SQLITE_DONE))
                rc = SQLITE_DONE; /* the first row is all that is asked for */
            if (rc != SQLITE_DONE)
                n = -1; /* an error, or more rows than cap */
        }
        if (n < 0)
            fprintf(stderr, "db(%s): %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static long db_rows(const struct daemon *d, const char *sql, long long *out, size_t ncols, size_t cap)
{
    return test_backend() == TEST_POSTGRESQL ? pg_rows(d, sql, out, ncols, cap)
                                             : sqlite_rows(d, sql, out, ncols, cap);
}

long long db_scalar(const struct daemon *d, const char *sql)
{
    long long v = -1;
    return db_rows(d, sql, &v, 1, 0) >= 1 ? v : -1;
}

long db_column(const struct daemon *d, const char *sql, long long *out, size_t cap)
{
    return db_rows(d, sql, out, 1, cap);
}

static long pg_strings(const struct daemon *d, const char *sql, char ***out)
{
    PGconn *c = pg_open(d, true);
    if (!c)
        return -1;
    PGresult *r = PQexec(c, sql);
    long n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQnfields(r) >= 1 && (*out = calloc((size_t)PQntuples(r) + 1,
                                                                                     sizeof(char *)))) {
        for (n = 0; n < PQntuples(r); n++)
            (*out)[n] = strdup(PQgetvalue(r, (int)n, 0));
    } else {
        fprintf(stderr, "db_strings(%s): %s", sql, PQresultErrorMessage(r));
    }
    PQclear(r);
    PQfinish(c);
    return n;
}

static long sqlite_strings(const struct daemon *d, const char *sql, char ***out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;
    size_t cap = 1024;
    *out = NULL;
    if (sqlite3_open_v2(d->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && (*out = calloc(cap, sizeof(char *)))) {
        sqlite3_busy_timeout(db, 5000);
        int rc;
        for (n = 0; (rc = sqlite3_step(st)) == SQLITE_ROW; n++) {
            if ((size_t)n + 1 >= cap) {
                char **more = realloc(*out, 2 * cap * sizeof(char *));
                if (!more)
                    break;
                *out = more;
                cap *= 2;
            }
            const unsigned char *t = sqlite3_column_text(st, 0);
            (*out)[n] = strdup(t ? (const char *)t : "");
            (*out)[n + 1] = NULL;
        }
        if (rc != SQLITE_DONE)
            n = -1;
    }
    if (n < 0)
        fprintf(stderr, "db_strings(%s): %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

long db_strings(const struct daemon *d, const char *sql, char ***out)
{
    *out = NULL;
    long n = test_backend() == TEST_POSTGRESQL ? pg_strings(d, sql, out) : sqlite_strings(d, sql, out);
    if (n < 0 && *out) {
        for (char **p = *out; *p; p++)
            free(*p);
        free(*out);
        *out = NULL;
    }
    return n;
}

bool db_exec(const struct daemon *d, const char *sql)
{
    if (test_backend() == TEST_POSTGRESQL) {
        PGconn *c = pg_open(d, false);
        if (!c)
            return false;
        PGresult *r = PQexec(c, sql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "db_exec(%s): %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        return ok;
    }
    sqlite3 *db = NULL;
    char *msg = NULL;
    bool ok = false;
    if (sqlite3_open_v2(d->db, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        ok = sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK;
        if (!ok)
            fprintf(stderr, "db_exec(%s): %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    }
    sqlite3_free(msg);
    sqlite3_close(db);
    return ok;
}

/* ---- feed positions ---- */

bool watermark_pos(const char *wm, struct feed_pos *pos)
{
    return wm && feedparams_watermark_decode(wm, pos);
}

bool watermark_seq(const char *wm, int64_t *seq)
{
    struct feed_pos p;
    if (!watermark_pos(wm, &p))
        return false;
    *seq = p.b;
    return true;
}

void watermark_at(const struct daemon *d, int64_t seq, char out[FEED_TOKEN_MAX])
{
    char sql[160];
    long long row[2] = {-1, -1};
    if (test_backend() == TEST_POSTGRESQL)
        snprintf(sql, sizeof(sql), "SELECT txid::text::bigint, seq FROM records WHERE seq = %lld", (long long)seq);
    else
        snprintf(sql, sizeof(sql), "SELECT 0, seq FROM records WHERE seq = %lld", (long long)seq);
    if (db_rows(d, sql, row, 2, 1) != 1) {
        fprintf(stderr, "harness: no record %lld for a watermark\n", (long long)seq);
        row[0] = 0; /* a watermark of no record: the test's assertions will say so */
        row[1] = seq;
    }
    feedparams_watermark_encode((struct feed_pos){row[0], row[1]}, out);
}

long long db_feed_last_seq(const struct daemon *d)
{
    return db_scalar(d, test_backend() == TEST_POSTGRESQL
                            ? "SELECT coalesce((SELECT seq FROM records ORDER BY txid DESC, seq DESC LIMIT 1), 0)"
                            : "SELECT coalesce(max(seq), 0) FROM records");
}

/* ---- the store's words and locks ---- */

size_t store_migrations(int *latest)
{
    bool pg = test_backend() == TEST_POSTGRESQL;
    const struct migration *m = pg ? migrations_postgresql : migrations_sqlite;
    size_t n = pg ? migrations_postgresql_count : migrations_sqlite_count;
    *latest = n ? m[n - 1].version : 0;
    return n;
}

const char *store_health_check(void)
{
    return test_backend() == TEST_POSTGRESQL ? "postgresql:responseTime" : "sqlite:responseTime";
}

bool store_has_disk_check(void)
{
    return test_backend() == TEST_SQLITE;
}

const struct store_busy *store_busy(void)
{
    static const struct store_busy sqlite = {503, "database is locked", "the store cannot take writes",
                                             "the store takes writes again"};
    static const struct store_busy pg = {200, NULL, "a write failed on its own", NULL};
    return test_backend() == TEST_POSTGRESQL ? &pg : &sqlite;
}

struct db_session {
    sqlite3 *lite;
    PGconn *pg;
};

struct db_session *db_session_open(const struct daemon *d)
{
    struct db_session *s = calloc(1, sizeof(*s));
    bool ok = false;
    if (s && test_backend() == TEST_POSTGRESQL) {
        ok = (s->pg = pg_open(d, false)) != NULL;
    } else if (s) {
        ok = sqlite3_open(d->db, &s->lite) == SQLITE_OK;
        if (ok)
            sqlite3_busy_timeout(s->lite, 5000);
    }
    if (!ok) {
        db_session_close(s);
        return NULL;
    }
    return s;
}

bool db_session_exec(struct db_session *s, const char *sql)
{
    if (s->pg) {
        PGresult *r = PQexec(s->pg, sql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            fprintf(stderr, "db_session_exec(%s): %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        return ok;
    }
    char *msg = NULL;
    bool ok = sqlite3_exec(s->lite, sql, NULL, NULL, &msg) == SQLITE_OK;
    if (!ok)
        fprintf(stderr, "db_session_exec(%s): %s\n", sql, msg ? msg : sqlite3_errmsg(s->lite));
    sqlite3_free(msg);
    return ok;
}

void db_session_close(struct db_session *s)
{
    if (!s)
        return;
    PQfinish(s->pg);
    sqlite3_close(s->lite);
    free(s);
}

struct store_lock {
    struct db_session *s;
};

struct store_lock *store_lock_writes(const struct daemon *d)
{
    struct store_lock *l = calloc(1, sizeof(*l));
    /* PostgreSQL: EXCLUSIVE conflicts with the ROW EXCLUSIVE every INSERT takes; reads go on */
    const char *sql = test_backend() == TEST_POSTGRESQL ? "BEGIN; LOCK TABLE records IN EXCLUSIVE MODE"
                                                         : "BEGIN IMMEDIATE";
    if (!l || !(l->s = db_session_open(d)) || !db_session_exec(l->s, sql)) {
        store_unlock(l);
        return NULL;
    }
    return l;
}

void store_unlock(struct store_lock *l)
{
    if (!l)
        return;
    if (l->s)
        (void)db_session_exec(l->s, "ROLLBACK");
    db_session_close(l->s);
    free(l);
}

/* ---- before a scan of the store's files ---- */

/* Every text, json and bytea column of the daemon's tables kept uncompressed from now on. */
static const char UNCOMPRESSED_SQL[] =
    "DO $$ DECLARE c record; BEGIN"
    " FOR c IN SELECT table_name, column_name FROM information_schema.columns"
    "  WHERE table_schema = 'public' AND data_type IN ('text', 'json', 'jsonb', 'bytea') LOOP"
    "  EXECUTE format('ALTER TABLE public.%I ALTER COLUMN %I SET STORAGE EXTERNAL', c.table_name, c.column_name);"
    " END LOOP; END $$;";

bool store_scan_prepare(const struct daemon *d)
{
    return test_backend() == TEST_SQLITE || db_exec(d, UNCOMPRESSED_SQL);
}
