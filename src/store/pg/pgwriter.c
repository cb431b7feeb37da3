/* The PostgreSQL side of the writer (the shared part is src/store/writer.c): the write
 * connection, brought up by doing what is left (connect, migrate, read synchronous_commit,
 * a test write), and a batch as one pipeline (pgbatch.c): BEGIN, each job's function call,
 * COMMIT, in one round trip; a lost connection fails the whole batch (IH_EIO: 503 with
 * Retry-After) and the shared writer's backoff brings it back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuerhook/log.h"
#include "issuerhook/metrics.h"
#include "pgerr.h"
#include "pginternal.h"
#include "pgmigrate.h"
#include "pgsettings.h"
#include "pgstmts.h"

struct backend_writer {
    struct pgstore *s;
    struct pgconn *c;
    struct pg_keys keys; /* the keycheck store on the write connection */
    /* a batch's calls, grown to the largest batch seen and kept */
    size_t cap;
    struct pgbatch_call *calls;
    struct pg_job_params *params;
    struct writer_job **jobs;
};

/* A session that cannot write: a standby (in recovery) or default_transaction_read_only.
 * Not fatal: the writer tries again (a failover may be under way). */
static ih_status check_writable(struct pgconn *c, struct store_error *e)
{
    PGresult *r = NULL;
    ih_status rc = pg_exec_sql(c, "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean",
                               0, NULL, &r, e, "the migrations");
    bool ro = rc == IH_OK && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (rc == IH_OK && ro) {
        pg_error(e, "25006", "the database is read-only (a standby, or default_transaction_read_only is on)",
                 "the migrations");
        rc = IH_EIO;
    }
    return rc;
}

/* The feed orders rows by the id of the transaction that wrote them: every new row must
 * get a larger one than every stored row. A database restored with pg_dump into another
 * cluster keeps its rows' ids while the new cluster counts from its own, maybe lower:
 * new rows would sort before the old ones and a ledger worker's watermark would pass
 * them for ever. Refused at start (fatal), saying what to do. */
static ih_status check_txids(struct pgconn *c, struct store_error *e)
{
    PGresult *r = NULL;
    ih_status rc = pg_exec_sql(c,
                               "SELECT (SELECT max(txid) FROM records)::text,"
                               " pg_snapshot_xmax(pg_current_snapshot())::text,"
                               " (SELECT max(txid) FROM records) >= pg_snapshot_xmax(pg_current_snapshot())",
                               0, NULL, &r, e, "checking transaction ids");
    bool behind = rc == IH_OK && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    if (behind) {
        char msg[sizeof(e->msg)];
        snprintf(msg, sizeof(msg),
                 "the stored records were written by transactions up to id %s, but this server's next "
                 "transaction id is %s (a pg_dump restored into another cluster?): new records would sort "
                 "before them in the feed and ledger workers would skip them. Move the cluster's transaction "
                 "id counter past %s (pg_resetwal --epoch and --next-transaction-id, server stopped) before "
                 "starting issuerhookd",
                 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
        pg_error(e, "55000", msg, "checking transaction ids"); /* object_not_in_prerequisite_state */
        e->fatal = true;
        rc = IH_EINVAL;
    }
    PQclear(r);
    return rc;
}

/* The migrations, once per store: a newer schema, or one the server refuses to create,
 * cannot be helped by trying again (fatal). */
static ih_status migrate(struct pgstore *s, struct pgconn *c, struct store_error *e)
{
    char err[sizeof(e->msg)];
    int from = 0, to = 0;
    ih_status rc = check_writable(c, e);
    if (rc != IH_OK)
        return rc;
    rc = pgmigrate_apply(c, &from, &to, err, sizeof(err));
    if (rc == IH_OK) {
        if ((rc = check_txids(c, e)) == IH_OK)
            s->base.schema_version = to;
        return rc;
    }
    bool lost = pgconn_pq(c) == NULL;
    pg_error(e, lost ? NULL : "XX000", err, "the migrations");
    e->fatal = rc == IH_ENEWER || (!lost && rc != IH_EBUSY);
    e->status = IH_EIO;
    return rc;
}

/* A server that refuses writes (a standby, a read-only setting): the session is closed so
 * that the next try opens a new one, which may reach the new primary after a failover
 * and takes the database's settings as they are then. */
static void drop_if_read_only(struct pgconn *c, const struct store_error *e)
{
    char s[6];
    pg_error_sqlstate(e, s);
    if (strcmp(s, "25006") == 0)
        pgconn_reset(c);
}

ih_status pg_prepare(struct pgstore *s, struct pgconn *c, bool probe, struct store_error *e)
{
    char why[256];
    memset(e, 0, sizeof(*e));
    if (pgconn_open(c, why, sizeof(why)) != IH_OK) {
        pg_error(e, "08001", why, "connecting"); /* sqlclient_unable_to_establish_sqlconnection */
        return IH_EIO;
    }
    ih_status rc;
    if (s->base.schema_version == 0 && (rc = migrate(s, c, e)) != IH_OK) {
        drop_if_read_only(c, e);
        return rc;
    }
    if (!s->durability_checked) {
        char v[16];
        bool unsafe = false;
        s->durability_checked = pgsettings_check_durability(c, v, &unsafe) == IH_OK; /* warns when unsafe */
    }
    if (!probe)
        return IH_OK;
    if ((rc = pg_exec(c, &pgstmts_probe, 0, NULL, NULL, NULL, NULL, e, "a test write")) != IH_OK)
        drop_if_read_only(c, e);
    return rc;
}

ih_status pg_writer_attach(struct store *st, struct backend_writer **out)
{
    struct pgstore *s = pg_of(st);
    struct backend_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return IH_ENOMEM;
    w->s = s;
    w->c = s->wr; /* the writer owns the write connection from now on */
    s->wr = NULL;
    w->keys = (struct pg_keys){.s = s, .c = w->c};
    *out = w;
    return IH_OK;
}

void pg_writer_detach(struct backend_writer *w)
{
    if (!w)
        return;
    if (!w->s->wr)
        w->s->wr = w->c; /* handed back: store_close closes it */
    else
        pgconn_free(w->c);
    free(w->calls);
    free(w->params);
    free(w->jobs);
    free(w);
}

bool pg_writer_connected(struct backend_writer *w)
{
    return pgconn_pq(w->c) != NULL;
}

ih_status pg_writer_prepare(struct backend_writer *w, bool probe, struct store_error *e)
{
    return pg_prepare(w->s, w->c, probe, e);
}

void pg_writer_keycheck_store(struct backend_writer *w, struct keycheck_store *out)
{
    pg_keys_store(&w->keys, out);
}

static bool grow(struct backend_writer *w, size_t n)
{
    if (n <= w->cap)
        return true;
    struct pgbatch_call *c = calloc(n, sizeof(*c));
    struct pg_job_params *p = calloc(n, sizeof(*p));
    struct writer_job **j = calloc(n, sizeof(*j));
    if (!c || !p || !j) {
        free(c);
        free(p);
        free(j);
        return false;
    }
    free(w->calls);
    free(w->params);
    free(w->jobs);
    w->calls = c;
    w->params = p;
    w->jobs = j;
    w->cap = n;
    return true;
}

/* A call that failed alone: its job fails, said in the log with the server's message; a
 * failure the server would give any job (a full disk, a read-only server) also marks the
 * store failing (*e: the first one; state.c says it). */
static void failed_call(struct backend_writer *w, struct writer_job *j, const struct pgbatch_call *call,
                        struct store_error *e, bool *store_err)
{
    ih_status st = pgerr_status(call->sqlstate);
    struct store_error je;
    pg_error(&je, call->sqlstate[0] ? call->sqlstate : "XX000", call->error, "a write");
    j->rc = st == IH_OK ? IH_EIO : st;
    j->fail_kind = pg_backend.error_kind(&je);
    if (pg_sqlstate_store_wide(call->sqlstate)) {
        if (!*store_err)
            *e = je;
        *store_err = true;
        return;
    }
    char text[400];
    pg_backend.error_text(&je, text, sizeof(text));
    log_msg(LOG_ERROR, "a write failed on its own: it answers 503 and nothing of it is stored", "database",
            w->s->display, "reason", text, NULL);
}

/* The calls of up to max jobs from *next on into w (jobs that cannot have one fail at
 * once); their number. *next: the first job after them. */
static size_t build(struct backend_writer *w, struct writer_job **next, size_t max)
{
    size_t k = 0;
    struct writer_job *j = *next;
    for (; j && k < max; j = j->next) {
        memset(&w->params[k], 0, sizeof(w->params[k]));
        ih_status rc = pg_job_call(j, w->s->node, &w->params[k], &w->calls[k]);
        if (rc != IH_OK) {
            j->rc = rc;
            j->fail_kind = rc == IH_ENOMEM ? "nomem" : "io";
            pg_job_params_clear(&w->params[k]);
            continue;
        }
        w->jobs[k++] = j;
    }
    *next = j;
    return k;
}

static void clear(struct backend_writer *w, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        pgbatch_call_clear(&w->calls[i]);
        pg_job_params_clear(&w->params[i]);
    }
}

/* One transaction of k calls; false when none of it can be known stored (*e says why). */
static bool run_chunk(struct backend_writer *w, size_t k, struct store_error *e, bool *store_err)
{
    struct pgbatch_stats st = {0};
    ih_status rc = pgbatch_run(w->c, w->calls, k, &st);
    for (unsigned i = 0; i < st.round_trips; i++)
        metrics_inc(M_STORE_ROUND_TRIPS, "postgresql");
    if (rc != IH_OK) { /* lost, down, or refused whole: nothing of it is acknowledged */
        pg_error(e, rc == IH_EIO ? NULL : rc == IH_ENOMEM ? "53200" : "XX000",
                 rc == IH_EIO ? pgconn_why(w->c) : w->calls[0].error, "a batch");
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        struct writer_job *j = w->jobs[i];
        if (w->calls[i].status != PGBATCH_OK) {
            failed_call(w, j, &w->calls[i], e, store_err);
            continue;
        }
        j->rc = pg_job_result(j, w->calls[i].res);
        if (j->rc != IH_OK)
            j->fail_kind = j->rc == IH_ENOMEM ? "nomem" : "io";
    }
    return true;
}

/* A batch is one transaction, or (past PGBATCH_MAX jobs) one per PGBATCH_MAX: when a later
 * one fails as a whole, the earlier ones stand and its jobs fail (the store failing). */
enum batch_end pg_writer_run(struct backend_writer *w, struct writer_job *batch, size_t n, struct store_error *e)
{
    size_t chunk = n < PGBATCH_MAX ? n : PGBATCH_MAX;
    if (!grow(w, chunk)) {
        pg_error(e, "53200", "out of memory for a batch", "a batch");
        return BATCH_FAILED;
    }
    bool store_err = false, first = true;
    for (struct writer_job *next = batch; next; first = false) {
        struct writer_job *from = next;
        size_t k = build(w, &next, chunk);
        bool ok = k == 0 || run_chunk(w, k, e, &store_err);
        clear(w, k);
        if (ok)
            continue;
        if (first && !next)
            return BATCH_FAILED; /* the whole batch */
        for (struct writer_job *j = from; j != next; j = j->next)
            if (j->rc == IH_OK) {
                j->rc = e->status;
                j->fail_kind = "io";
            }
        store_err = true;
    }
    if (store_err)
        drop_if_read_only(w->c, e);
    return store_err ? BATCH_COMMITTED_FAILING : BATCH_COMMITTED;
}
