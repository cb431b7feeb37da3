/* Reads on the PostgreSQL store's pool: bookings as GET /bookings shows them, and the
 * callback outbox: claims under a lease (several nodes deliver one outbox, each row by one
 * node at a time) and its counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pginternal.h"
#include "pgstmts.h"

/* Column name of row `row` into out ("" for NULL). */
static void copy_col(const PGresult *res, int row, const char *name, char *out, size_t cap)
{
    const char *v = pg_col(res, row, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static ih_status read_view(const PGresult *res, int row, struct booking_view *v)
{
    memset(v, 0, sizeof(*v));
    copy_col(res, row, "id", v->state.id, sizeof(v->state.id));
    ih_status rc = booking_status_parse(pg_col(res, row, "status"), &v->state.status) ? IH_OK : IH_EIO;
    const char *s;
    if ((s = pg_col(res, row, "issuer_booking_id")))
        v->state.issuer_booking_id = strdup(s);
    if ((s = pg_col(res, row, "failure_reason")))
        v->state.failure_reason = strdup(s);
    if ((s = pg_col(res, row, "failure_code")))
        v->state.failure_code = strdup(s);
    v->request = pg_col_dup(res, row, "request");
    copy_col(res, row, "tracing_id", v->tracing_id, sizeof(v->tracing_id));
    v->seq = pg_col_i64(res, row, "seq", 0);
    v->created_at = pg_col_i64(res, row, "created_at", 0);
    v->updated_at = pg_col_i64(res, row, "updated_at", 0);
    const char *cb = pg_col(res, row, "cb_state");
    v->has_callback = cb != NULL;
    if (cb) {
        snprintf(v->callback_state, sizeof(v->callback_state), "%s", cb);
        v->attempts = (long)pg_col_i64(res, row, "cb_attempts", 0);
        v->next_attempt_at = pg_col_i64(res, row, "cb_next_at", 0);
        v->delivered_at = pg_col_i64(res, row, "cb_delivered_at", 0);
        v->last_status = (long)pg_col_i64(res, row, "cb_last_status", 0);
        if ((s = pg_col(res, row, "cb_last_error")) && !(v->last_error = strdup(s)))
            rc = IH_ENOMEM;
    }
    if (rc == IH_OK && !v->request)
        rc = IH_ENOMEM;
    if (rc != IH_OK)
        booking_view_clear(v);
    return rc;
}

ih_status pg_bookings_get(struct store *st, const char *id, struct booking_view *out)
{
    struct pgstore *s = pg_of(st);
    struct pgconn *c = pg_pool_acquire(s, false);
    PGresult *r = NULL;
    const char *const v[] = {id};
    ih_status rc = pg_exec(c, &pgstmts_booking_get, 1, v, NULL, NULL, &r, NULL, "reading a booking");
    pg_pool_release(s, c);
    if (rc == IH_OK)
        rc = PQntuples(r) == 1 ? read_view(r, 0, out) : IH_ENOTFOUND;
    PQclear(r);
    return rc;
}

ih_status pg_bookings_list(struct store *st, enum booking_status status, int64_t after, size_t max,
                           struct booking_view **out, size_t *n)
{
    struct pgstore *s = pg_of(st);
    *out = NULL;
    *n = 0;
    struct booking_view *views = calloc(max ? max : 1, sizeof(*views));
    if (!views)
        return IH_ENOMEM;
    char a[24], m[24];
    snprintf(a, sizeof(a), "%lld", (long long)after);
    snprintf(m, sizeof(m), "%zu", max);
    const char *const v[] = {booking_status_name(status), a, m};
    struct pgconn *c = pg_pool_acquire(s, false);
    PGresult *r = NULL;
    ih_status rc = pg_exec(c, &pgstmts_booking_list, 3, v, NULL, NULL, &r, NULL, "listing bookings");
    pg_pool_release(s, c);
    for (int i = 0; rc == IH_OK && i < PQntuples(r) && *n < max; i++)
        if ((rc = read_view(r, i, &views[*n])) == IH_OK)
            (*n)++;
    PQclear(r);
    if (rc != IH_OK) {
        for (size_t i = 0; i < *n; i++)
            booking_view_clear(&views[i]);
        free(views);
        *n = 0;
        return rc;
    }
    *out = views;
    return IH_OK;
}

static bool skipped(int64_t id, const int64_t *skip, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (skip[i] == id)
            return true;
    return false;
}

/* The rows come leased to this node (ih_outbox_claim: FOR UPDATE SKIP LOCKED, the
 * database's clock). A row this node is still delivering (in skip, its lease passed before
 * its mark) is left to that delivery: it stays leased to this node, which marks it. */
ih_status pg_outbox_claim(struct store *st, int64_t now_ms, unsigned lease_ms, const int64_t *skip, size_t nskip,
                          struct outbox_item *out, size_t max, size_t *n)
{
    struct pgstore *s = pg_of(st);
    (void)now_ms; /* the database's clock decides what is due and how long a lease lasts */
    *n = 0;
    if (max == 0)
        return IH_OK;
    char lease[24], m[24];
    snprintf(lease, sizeof(lease), "%u", lease_ms);
    snprintf(m, sizeof(m), "%zu", max);
    const char *const v[] = {s->node, lease, m};
    struct pgconn *c = pg_pool_acquire(s, false);
    PGresult *r = NULL;
    ih_status rc = pg_exec(c, &pgstmts_outbox_claim, PGSTMTS_OUTBOX_CLAIM_NPARAMS, v, NULL, NULL, &r, NULL,
                           "claiming callbacks");
    pg_pool_release(s, c);
    for (int i = 0; rc == IH_OK && i < PQntuples(r) && *n < max; i++) {
        int64_t id = pg_col_i64(r, i, "id", 0);
        if (skipped(id, skip, nskip))
            continue;
        struct outbox_item *it = &out[*n];
        memset(it, 0, sizeof(*it));
        it->id = id;
        copy_col(r, i, "amiko_booking_id", it->booking_id, sizeof(it->booking_id));
        copy_col(r, i, "tracing_id", it->tracing_id, sizeof(it->tracing_id));
        it->attempts = (long)pg_col_i64(r, i, "attempts", 0);
        if (!(it->body = pg_col_dup(r, i, "body")))
            rc = IH_ENOMEM;
        else
            (*n)++;
    }
    PQclear(r);
    if (rc != IH_OK) { /* none handed out: their leases pass, and they are claimed again */
        for (size_t i = 0; i < *n; i++)
            outbox_item_clear(&out[i]);
        *n = 0;
    }
    return rc;
}

ih_status pg_outbox_stats(struct store *st, struct outbox_stats *out)
{
    struct pgstore *s = pg_of(st);
    memset(out, 0, sizeof(*out));
    out->next_due = -1;
    struct pgconn *c = pg_pool_acquire(s, false);
    PGresult *r = NULL;
    ih_status rc = pg_exec(c, &pgstmts_outbox_stats, 0, NULL, NULL, NULL, &r, NULL, "counting callbacks");
    pg_pool_release(s, c);
    if (rc == IH_OK && PQntuples(r) == 1) {
        out->pending = (long)pg_col_i64(r, 0, "pending", 0);
        out->dead = (long)pg_col_i64(r, 0, "dead", 0);
        out->delivered = (long)pg_col_i64(r, 0, "delivered", 0);
        out->next_due = pg_col_i64(r, 0, "next_due", -1);
    } else if (rc == IH_OK) {
        rc = IH_EIO;
    }
    PQclear(r);
    return rc;
}
