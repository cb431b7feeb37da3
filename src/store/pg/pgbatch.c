/* The pipelined batch executor (pgbatch.h): builds the pipeline of a batch, reads what
 * each call got, and runs the batch again one call per transaction when one failed. */
#include "pgbatch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconninfo.h"
#include "pgerr.h"
#include "pgpipe.h"

static _Atomic unsigned long long g_batches, g_trips, g_reruns;

unsigned long long pgbatch_batches_total(void)
{
    return atomic_load(&g_batches);
}

unsigned long long pgbatch_round_trips_total(void)
{
    return atomic_load(&g_trips);
}

unsigned long long pgbatch_reruns_total(void)
{
    return atomic_load(&g_reruns);
}

void pgbatch_call_clear(struct pgbatch_call *call)
{
    PQclear(call->res);
    call->res = NULL;
}

static void set_all(struct pgbatch_call *calls, size_t n, enum pgbatch_status s, const char *error)
{
    for (size_t i = 0; i < n; i++) {
        pgbatch_call_clear(&calls[i]);
        calls[i].status = s;
        calls[i].sqlstate[0] = '\0';
        snprintf(calls[i].error, sizeof(calls[i].error), "%s", error);
    }
}

/* call failed with the error r (NULL: none known). */
static void fail_from(struct pgbatch_call *call, const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    pgbatch_call_clear(call);
    call->status = PGBATCH_FAILED;
    snprintf(call->sqlstate, sizeof(call->sqlstate), "%s", s ? s : "");
    pgconninfo_clean(m ? m : r ? PQresStatus(PQresultStatus(r)) : "no result", NULL, NULL, call->error,
                     sizeof(call->error));
}

static bool committed(PGresult *r)
{
    return r && PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0;
}

static void item_command(struct pgpipe_item *it, const char *sql)
{
    memset(it, 0, sizeof(*it));
    it->kind = PGPIPE_COMMAND;
    it->sql = sql;
}

static void item_sync(struct pgpipe_item *it)
{
    memset(it, 0, sizeof(*it));
    it->kind = PGPIPE_SYNC;
}

static void item_call(struct pgpipe_item *it, const struct pgbatch_call *call)
{
    memset(it, 0, sizeof(*it));
    it->kind = PGPIPE_CALL;
    it->name = call->stmt->name;
    it->nparams = call->nparams;
    it->values = call->values;
    it->lengths = call->lengths;
    it->formats = call->formats;
}

static void clear_items(struct pgpipe_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        PQclear(items[i].res);
        items[i].res = NULL;
    }
}

/* One round trip; a lost connection (on the way, or an answer saying so) fails every call. */
static ih_status round_trip(struct pgconn *c, struct pgpipe_item *items, size_t n, struct pgbatch_call *calls,
                            size_t ncalls, struct pgbatch_stats *st)
{
    PGconn *pq = pgconn_pq(c);
    char why[512];
    st->round_trips++;
    atomic_fetch_add(&g_trips, 1);
    int r = pgpipe_run(pq, items, n, pgconn_io_timeout_ms(c), why, sizeof(why));
    for (size_t i = 0; r == 0 && i < n; i++) {
        ExecStatusType s = PQresultStatus(items[i].res);
        if ((s == PGRES_FATAL_ERROR || s == PGRES_NONFATAL_ERROR) && pgerr_is_lost(pq, items[i].res)) {
            snprintf(why, sizeof(why), "%s", PQresultErrorMessage(items[i].res));
            clear_items(items, n);
            r = -1;
        }
    }
    if (r == 0)
        return IH_OK;
    pgconn_lost(c, why);
    char shown[256];
    pgconninfo_clean(why, NULL, NULL, shown, sizeof(shown));
    set_all(calls, ncalls, PGBATCH_LOST, shown);
    return IH_EIO;
}

/* The distinct statements of calls that c's session has not prepared; false when more
 * than fit. */
static bool to_prepare(struct pgconn *c, const struct pgbatch_call *calls, size_t n, const struct pgstmt **out,
                       size_t *np)
{
    *np = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pgstmt *s = calls[i].stmt;
        bool seen = pgconn_prepared(c, s);
        for (size_t k = 0; k < *np && !seen; k++)
            seen = out[k] == s;
        if (seen)
            continue;
        if (*np == PGCONN_STMT_MAX)
            return false;
        out[(*np)++] = s;
    }
    return true;
}

/* [PREPARE x np] BEGIN; calls; COMMIT; Sync. *rerun when a call (or the commit) failed. */
static ih_status run_together(struct pgconn *c, struct pgbatch_call *calls, size_t n, struct pgbatch_stats *st,
                              bool *rerun)
{
    const struct pgstmt *prep[PGCONN_STMT_MAX];
    size_t np = 0;
    *rerun = false;
    if (!to_prepare(c, calls, n, prep, &np)) {
        set_all(calls, n, PGBATCH_FAILED, "too many distinct statements in one batch");
        return IH_EINVAL;
    }
    size_t total = np + n + 3, at = 0;
    struct pgpipe_item *items = calloc(total, sizeof(*items));
    if (!items) {
        set_all(calls, n, PGBATCH_FAILED, "out of memory");
        return IH_ENOMEM;
    }
    for (size_t k = 0; k < np; k++, at++) {
        items[at].kind = PGPIPE_PREPARE;
        items[at].name = prep[k]->name;
        items[at].sql = prep[k]->sql;
    }
    item_command(&items[at++], "BEGIN");
    for (size_t i = 0; i < n; i++)
        item_call(&items[at++], &calls[i]);
    item_command(&items[at++], "COMMIT");
    item_sync(&items[at++]);
    ih_status rc = round_trip(c, items, total, calls, n, st);
    for (size_t k = 0; rc == IH_OK && k < np; k++) {
        if (PQresultStatus(items[k].res) != PGRES_COMMAND_OK) {
            for (size_t i = 0; i < n; i++)
                fail_from(&calls[i], items[k].res); /* nothing ran: the pipeline stopped here */
            goto done;
        }
        if (!pgconn_set_prepared(c, prep[k])) {
            set_all(calls, n, PGBATCH_FAILED, "too many prepared statements on one session");
            rc = IH_EINVAL;
            goto done;
        }
    }
    bool ok = rc == IH_OK && PQresultStatus(items[np].res) == PGRES_COMMAND_OK && committed(items[np + n + 1].res);
    for (size_t i = 0; ok && i < n; i++)
        ok = PQresultStatus(items[np + 1 + i].res) == PGRES_TUPLES_OK;
    for (size_t i = 0; ok && i < n; i++) {
        calls[i].status = PGBATCH_OK;
        calls[i].res = items[np + 1 + i].res;
        items[np + 1 + i].res = NULL;
    }
    *rerun = rc == IH_OK && !ok;
done:
    clear_items(items, total);
    free(items);
    return rc;
}

/* ROLLBACK (ends the aborted transaction the first pass left, or a failed call's), then
 * per call: ROLLBACK; BEGIN; call; COMMIT; Sync; and a last ROLLBACK; Sync. */
static ih_status run_singly(struct pgconn *c, struct pgbatch_call *calls, size_t n, struct pgbatch_stats *st)
{
    size_t total = 5 * n + 2;
    struct pgpipe_item *items = calloc(total, sizeof(*items));
    if (!items) {
        set_all(calls, n, PGBATCH_FAILED, "out of memory");
        return IH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        item_command(&items[5 * i], "ROLLBACK");
        item_command(&items[5 * i + 1], "BEGIN");
        item_call(&items[5 * i + 2], &calls[i]);
        item_command(&items[5 * i + 3], "COMMIT");
        item_sync(&items[5 * i + 4]);
    }
    item_command(&items[5 * n], "ROLLBACK");
    item_sync(&items[5 * n + 1]);
    ih_status rc = round_trip(c, items, total, calls, n, st);
    for (size_t i = 0; rc == IH_OK && i < n; i++) {
        PGresult *begin = items[5 * i + 1].res, *call = items[5 * i + 2].res, *commit = items[5 * i + 3].res;
        if (PQresultStatus(call) == PGRES_TUPLES_OK && committed(commit)) {
            calls[i].status = PGBATCH_OK;
            calls[i].res = call;
            items[5 * i + 2].res = NULL;
        } else {
            fail_from(&calls[i], PQresultStatus(begin) == PGRES_FATAL_ERROR  ? begin
                                 : PQresultStatus(call) == PGRES_FATAL_ERROR ? call
                                                                             : commit);
        }
    }
    clear_items(items, total);
    free(items);
    return rc;
}

ih_status pgbatch_run(struct pgconn *c, struct pgbatch_call *calls, size_t n, struct pgbatch_stats *out)
{
    struct pgbatch_stats st = {0};
    ih_status rc = IH_OK;
    bool rerun = false;
    for (size_t i = 0; i < n; i++) {
        calls[i].res = NULL;
        calls[i].status = PGBATCH_FAILED;
        calls[i].sqlstate[0] = calls[i].error[0] = '\0';
    }
    if (n == 0)
        goto done;
    if (n > PGBATCH_MAX) {
        set_all(calls, n, PGBATCH_FAILED, "batch too large");
        rc = IH_EINVAL;
        goto done;
    }
    atomic_fetch_add(&g_batches, 1);
    if (pgconn_ready(c) != IH_OK) {
        set_all(calls, n, PGBATCH_LOST, "the database is unavailable");
        rc = IH_EIO;
        goto done;
    }
    rc = run_together(c, calls, n, &st, &rerun);
    if (rc == IH_OK && rerun) {
        st.singly = true;
        atomic_fetch_add(&g_reruns, 1);
        rc = run_singly(c, calls, n, &st);
    }
done:
    if (out)
        *out = st;
    return rc;
}
