/* The PostgreSQL migration runner (pgmigrate.h). */
#include "pgmigrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/log.h"
#include "pgconninfo.h"
#include "pgerr.h"

static const char CREATE_TABLE[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";

/* Runs sql (params: text, may be 0) and checks it gives want (PGRES_EMPTY_QUERY: any
 * success, for a migration's body, which may be only a comment); the result is cleared
 * unless out takes it. On failure why says libpq's reason; a lost session is dropped. */
static ih_status run(struct pgconn *c, const char *sql, int nparams, const char *const *params, ExecStatusType want,
                     PGresult **out, char *why, size_t whylen)
{
    PGconn *pq = pgconn_pq(c);
    if (!pq) {
        snprintf(why, whylen, "not connected");
        return IH_EIO;
    }
    PGresult *r = nparams ? PQexecParams(pq, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(pq, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == want || (want == PGRES_EMPTY_QUERY && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return IH_OK;
    }
    pgconninfo_clean(PQerrorMessage(pq), NULL, NULL, why, whylen);
    ih_status rc = IH_EIO;
    if (pgerr_is_lost(pq, r))
        pgconn_lost(c, PQerrorMessage(pq));
    else
        rc = pgerr_status(PQresultErrorField(r, PG_DIAG_SQLSTATE));
    PQclear(r);
    return rc == IH_OK ? IH_EIO : rc;
}

static ih_status current_version(struct pgconn *c, int *v, char *why, size_t whylen)
{
    PGresult *r = NULL;
    ih_status rc = run(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL, PGRES_TUPLES_OK, &r,
                       why, whylen);
    if (rc == IH_OK) {
        *v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    return rc;
}

static ih_status apply_one(struct pgconn *c, const struct migration *m, char *why, size_t whylen)
{
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *const params[] = {version, m->name};
    ih_status rc = run(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, why, whylen);
    if (rc == IH_OK)
        rc = run(c, m->sql, 0, NULL, PGRES_EMPTY_QUERY, NULL, why, whylen);
    if (rc == IH_OK)
        rc = run(c, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, params, PGRES_COMMAND_OK,
                 NULL, why, whylen);
    if (rc == IH_OK)
        rc = run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, why, whylen);
    if (rc != IH_OK && pgconn_pq(c)) {
        char ignored[64];
        (void)run(c, "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, NULL, ignored, sizeof(ignored));
    }
    return rc;
}

/* Applies the migrations after the current version; the advisory lock is held. */
static ih_status apply_locked(struct pgconn *c, const struct migration *list, size_t n, int *from, int *to,
                              char *err, size_t errlen)
{
    char why[512];
    int v = 0;
    ih_status rc = run(c, CREATE_TABLE, 0, NULL, PGRES_COMMAND_OK, NULL, why, sizeof(why));
    if (rc == IH_OK)
        rc = current_version(c, &v, why, sizeof(why));
    if (rc != IH_OK) {
        snprintf(err, errlen, "cannot read the schema version of %s: %s", pgconn_display(c), why);
        return rc;
    }
    int latest = n ? list[n - 1].version : 0;
    *from = *to = v;
    if (v > latest) {
        snprintf(err, errlen,
                 "database %s has schema version %d, newer than this issuerhookd knows (%d): "
                 "run the issuerhookd that wrote it, or restore a backup made before the upgrade",
                 pgconn_display(c), v, latest);
        return IH_ENEWER;
    }
    for (size_t i = 0; i < n; i++) {
        const struct migration *m = &list[i];
        if (m->version <= v)
            continue;
        if ((rc = apply_one(c, m, why, sizeof(why))) != IH_OK) {
            snprintf(err, errlen, "migration %04d_%s failed: %s", m->version, m->name, why);
            return rc;
        }
        char vbuf[16];
        snprintf(vbuf, sizeof(vbuf), "%04d", m->version);
        log_msg(LOG_INFO, "migration applied", "version", vbuf, "name", m->name, "database", pgconn_display(c),
                NULL);
        *to = m->version;
    }
    return IH_OK;
}

ih_status pgmigrate_apply_list(struct pgconn *c, const struct migration *list, size_t n, int *from, int *to,
                               char *err, size_t errlen)
{
    char why[512], timeouts[2][32] = {"0", "0"};
    PGresult *r = NULL;
    const char *const key[] = {PGMIGRATE_LOCK_KEY};
    *from = *to = 0;
    /* another node may hold the lock for as long as its migrations take: no timeouts */
    ih_status rc = run(c, "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')", 0, NULL,
                       PGRES_TUPLES_OK, &r, why, sizeof(why));
    if (rc == IH_OK) {
        snprintf(timeouts[0], sizeof(timeouts[0]), "%s", PQgetvalue(r, 0, 0));
        snprintf(timeouts[1], sizeof(timeouts[1]), "%s", PQgetvalue(r, 0, 1));
        PQclear(r);
        rc = run(c, "SET statement_timeout = 0; SET lock_timeout = 0", 0, NULL, PGRES_COMMAND_OK, NULL, why,
                 sizeof(why));
    }
    if (rc == IH_OK)
        rc = run(c, "SELECT pg_advisory_lock($1::bigint)", 1, key, PGRES_TUPLES_OK, NULL, why, sizeof(why));
    if (rc != IH_OK) {
        snprintf(err, errlen, "cannot lock %s for migrations: %s", pgconn_display(c), why);
        return rc;
    }
    rc = apply_locked(c, list, n, from, to, err, errlen);
    const char *const restore[] = {PGMIGRATE_LOCK_KEY, timeouts[0], timeouts[1]};
    ih_status urc = run(c,
                        "SELECT pg_advisory_unlock($1::bigint), set_config('statement_timeout', $2, false),"
                        " set_config('lock_timeout', $3, false)",
                        3, restore, PGRES_TUPLES_OK, NULL, why, sizeof(why));
    if (rc == IH_OK && urc != IH_OK) {
        snprintf(err, errlen, "cannot unlock %s after migrations: %s", pgconn_display(c), why);
        rc = urc;
    }
    return rc;
}

ih_status pgmigrate_apply(struct pgconn *c, int *from, int *to, char *err, size_t errlen)
{
    return pgmigrate_apply_list(c, migrations_postgresql, migrations_postgresql_count, from, to, err, errlen);
}
