/* The PostgreSQL store's connections: each made with the store's timeouts, the read pool
 * (a connection per reader at a time, the feed's share bounded), and running one
 * statement on a connection: prepared on first use per session, a lost session noticed
 * and dropped so that the next use reconnects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconninfo.h"
#include "pgerr.h"
#include "pginternal.h"

ih_status pg_conn_new(struct pgstore *s, const char *conninfo, const char *password_file, const char *name,
                      struct pgconn **out, char *err, size_t errlen)
{
    struct pgconn_options o = {.conninfo = conninfo, .password_file = password_file,
                               .busy_timeout_ms = s->opt.busy_timeout_ms, .name = name};
    return pgconn_new(&o, out, err, errlen);
}

/* A free connection of slots [first, PG_READERS). */
static struct pgconn *acquire_from(struct pgstore *s, int first)
{
    pthread_mutex_lock(&s->rd_lock);
    for (;;) {
        for (int i = first; i < PG_READERS; i++) {
            if (s->rd_busy[i])
                continue;
            s->rd_busy[i] = true;
            pthread_mutex_unlock(&s->rd_lock);
            return s->rd[i];
        }
        pthread_cond_wait(&s->rd_free, &s->rd_lock);
    }
}

struct pgconn *pg_pool_acquire(struct pgstore *s, bool feed)
{
    return acquire_from(s, feed ? PG_READERS - PG_FEED_READERS : 0);
}

void pg_pool_release(struct pgstore *s, struct pgconn *c)
{
    pthread_mutex_lock(&s->rd_lock);
    for (int i = 0; i < PG_READERS; i++)
        if (s->rd[i] == c)
            s->rd_busy[i] = false;
    pthread_cond_broadcast(&s->rd_free); /* a waiter of either share may take it */
    pthread_mutex_unlock(&s->rd_lock);
}

/* r's outcome on c: IH_OK for rows or a command's answer; otherwise the failure (in *e),
 * with the session dropped when it is lost. */
static ih_status outcome(struct pgconn *c, PGresult *r, PGresult **out, struct store_error *e, const char *during)
{
    PGconn *pq = pgconn_pq(c);
    ExecStatusType st = PQresultStatus(r);
    if (r && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return IH_OK;
    }
    char why[256];
    const char *msg = r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(pq);
    pgconninfo_clean(msg, NULL, NULL, why, sizeof(why));
    bool lost = pgerr_is_lost(pq, r);
    const char *sqlstate = lost ? NULL : PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (e)
        pg_error(e, sqlstate ? sqlstate : lost ? NULL : "XX000", why, during);
    ih_status rc = lost ? IH_EIO : pgerr_status(sqlstate);
    if (lost)
        pgconn_lost(c, msg);
    PQclear(r);
    return rc == IH_OK ? IH_EIO : rc;
}

static ih_status ready(struct pgconn *c, PGresult **out, struct store_error *e, const char *during)
{
    if (out)
        *out = NULL;
    if (pgconn_ready(c) == IH_OK)
        return IH_OK;
    if (e)
        pg_error(e, "08001", pgconn_why(c), during);
    return IH_EIO;
}

ih_status pg_exec(struct pgconn *c, const struct pgstmt *stmt, int n, const char *const *values, const int *lengths,
                  const int *formats, PGresult **out, struct store_error *e, const char *during)
{
    ih_status rc = ready(c, out, e, during);
    if (rc != IH_OK)
        return rc;
    if (!pgconn_prepared(c, stmt)) {
        if ((rc = outcome(c, PQprepare(pgconn_pq(c), stmt->name, stmt->sql, 0, NULL), NULL, e, during)) != IH_OK)
            return rc;
        if (!pgconn_set_prepared(c, stmt)) {
            if (e)
                pg_error(e, "XX000", "too many prepared statements on one session", during);
            return IH_EINVAL; /* a bug */
        }
    }
    return outcome(c, PQexecPrepared(pgconn_pq(c), stmt->name, n, values, lengths, formats, 0), out, e, during);
}

ih_status pg_exec_sql(struct pgconn *c, const char *sql, int n, const char *const *values, PGresult **out,
                      struct store_error *e, const char *during)
{
    ih_status rc = ready(c, out, e, during);
    if (rc != IH_OK)
        return rc;
    return outcome(c, PQexecParams(pgconn_pq(c), sql, n, NULL, values, NULL, NULL, 0), out, e, during);
}

const char *pg_col(const PGresult *res, int row, const char *name)
{
    int i = PQfnumber(res, name);
    if (i < 0 || row >= PQntuples(res) || PQgetisnull(res, row, i))
        return NULL;
    return PQgetvalue(res, row, i);
}

int64_t pg_col_i64(const PGresult *res, int row, const char *name, int64_t dflt)
{
    const char *v = pg_col(res, row, name);
    if (!v)
        return dflt;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    return end && end != v && *end == '\0' ? (int64_t)x : dflt;
}

char *pg_col_dup(const PGresult *res, int row, const char *name)
{
    const char *v = pg_col(res, row, name);
    return strdup(v ? v : "");
}
