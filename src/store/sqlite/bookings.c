/* Bookings on SQLite: a request and its pending row, a result with the state change,
 * the result's record and the callback's outbox row in one job, and the reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

/* Reads status, issuer_booking_id, failure_reason, failure_code from columns at..at+3. */
static ih_status read_state(sqlite3_stmt *st, int at, struct booking_state *s)
{
    booking_state_clear(s);
    if (!booking_status_parse((const char *)sqlite3_column_text(st, at), &s->status))
        return IH_EIO;
    s->issuer_booking_id = col_dup(st, at + 1);
    s->failure_reason = col_dup(st, at + 2);
    s->failure_code = col_dup(st, at + 3);
    return IH_OK;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static const char SQL_STATE[] =
    "SELECT status, issuer_booking_id, failure_reason, failure_code, result_sha256, tracing_id"
    " FROM bookings WHERE amiko_booking_id = ?1";
static const char SQL_NEW[] =
    "INSERT INTO bookings (amiko_booking_id, record_seq, status, tracing_id, created_at, updated_at)"
    " VALUES (?1, ?2, 'pending', ?3, ?4, ?4)";
static const char SQL_RESULT[] =
    "UPDATE bookings SET status = ?2, issuer_booking_id = ?3, failure_reason = ?4, failure_code = ?5,"
    " result_sha256 = ?6, updated_at = ?7 WHERE amiko_booking_id = ?1";
static const char SQL_OUTBOX[] =
    "INSERT INTO outbox (amiko_booking_id, body, tracing_id, next_attempt_at, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?4)";

ih_status sqlite_booking_request_apply(struct writer_txn *t, struct booking_request_job *b)
{
    ih_status rc = sqlite_events_apply(t, &b->ev);
    if (rc != IH_OK || b->ev.outcome == EVENTS_CONFLICT)
        return rc;
    snprintf(b->state.id, sizeof(b->state.id), "%.36s", b->ev.key);
    sqlite3_stmt *st;
    if (b->ev.outcome == EVENTS_INSERTED) {
        if (!(st = txn_stmt(t, SQL_NEW)))
            return db_fail(t->conn);
        sqlite3_bind_text(st, 1, b->ev.key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, b->ev.seq);
        sqlite3_bind_text(st, 3, b->ev.tracing_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, b->ev.received_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            return db_fail(t->conn);
        b->state.status = BOOKING_PENDING;
        return IH_OK;
    }
    /* a replay answers the booking's current state */
    if (!(st = txn_stmt(t, SQL_STATE)))
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, b->ev.key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_fail(t->conn);
    return read_state(st, 0, &b->state);
}

ih_status sqlite_booking_result_apply(struct writer_txn *t, struct booking_result_job *r)
{
    const char *id = r->rec.key;
    sqlite3_stmt *st = txn_stmt(t, SQL_STATE);
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_DONE) {
        r->outcome = BOOKING_RESULT_NOT_FOUND;
        return IH_OK;
    }
    if (sr != SQLITE_ROW)
        return db_fail(t->conn);
    snprintf(r->state.id, sizeof(r->state.id), "%.36s", id);
    ih_status rc = read_state(st, 0, &r->state);
    if (rc != IH_OK)
        return rc;
    if (r->state.status != BOOKING_PENDING) {
        const void *h = sqlite3_column_blob(st, 4);
        bool same = h && sqlite3_column_bytes(st, 4) == CRYPTO_SHA256_LEN &&
                    memcmp(h, r->rec.hash, CRYPTO_SHA256_LEN) == 0;
        if (!same) {
            r->outcome = BOOKING_RESULT_CONFLICT;
            return IH_OK;
        }
        r->outcome = BOOKING_RESULT_SAME;
        return sqlite_events_apply(t, &r->rec); /* counts the duplicate on the result's record */
    }
    char tracing[EVENTS_TRACING_MAX + 1];
    snprintf(tracing, sizeof(tracing), "%s", (const char *)sqlite3_column_text(st, 5));
    /* pending -> completed | failed, the result's record, and the callback, together */
    if (!(st = txn_stmt(t, SQL_RESULT)))
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, booking_status_name(r->status), -1, SQLITE_STATIC);
    bind_opt(st, 3, r->issuer_booking_id);
    bind_opt(st, 4, r->failure_reason);
    bind_opt(st, 5, r->failure_code);
    sqlite3_bind_blob(st, 6, r->rec.hash, CRYPTO_SHA256_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->rec.received_ms);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_fail(t->conn);
    if ((rc = sqlite_events_apply(t, &r->rec)) != IH_OK)
        return rc;
    if (r->rec.outcome != EVENTS_INSERTED)
        return IH_EIO; /* a result record without a result: inconsistent, refuse */
    if (!(st = txn_stmt(t, SQL_OUTBOX)))
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->callback_body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, tracing, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, r->rec.received_ms);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_fail(t->conn);
    r->outcome = BOOKING_RESULT_APPLIED;
    booking_state_clear(&r->state);
    r->state.status = r->status;
    r->state.issuer_booking_id = r->issuer_booking_id ? strdup(r->issuer_booking_id) : NULL;
    r->state.failure_reason = r->failure_reason ? strdup(r->failure_reason) : NULL;
    r->state.failure_code = r->failure_code ? strdup(r->failure_code) : NULL;
    return IH_OK;
}

/* bookings b, its request record r, its latest callback o */
#define VIEW_COLUMNS                                                                                        \
    "b.status, b.issuer_booking_id, b.failure_reason, b.failure_code, b.amiko_booking_id, r.payload,"      \
    " b.tracing_id, b.record_seq, b.created_at, b.updated_at, o.state, o.attempts, o.next_attempt_at,"     \
    " o.delivered_at, o.last_status, o.last_error"                                                          \
    " FROM bookings b JOIN records r ON r.seq = b.record_seq"                                               \
    " LEFT JOIN outbox o ON o.id = (SELECT max(id) FROM outbox WHERE amiko_booking_id = b.amiko_booking_id)"

static ih_status read_view(sqlite3_stmt *st, struct booking_view *v)
{
    memset(v, 0, sizeof(*v));
    ih_status rc = read_state(st, 0, &v->state);
    snprintf(v->state.id, sizeof(v->state.id), "%s", (const char *)sqlite3_column_text(st, 4));
    v->request = col_dup(st, 5);
    snprintf(v->tracing_id, sizeof(v->tracing_id), "%s", (const char *)sqlite3_column_text(st, 6));
    v->seq = sqlite3_column_int64(st, 7);
    v->created_at = sqlite3_column_int64(st, 8);
    v->updated_at = sqlite3_column_int64(st, 9);
    v->has_callback = sqlite3_column_type(st, 10) != SQLITE_NULL;
    if (v->has_callback) {
        snprintf(v->callback_state, sizeof(v->callback_state), "%s", (const char *)sqlite3_column_text(st, 10));
        v->attempts = (long)sqlite3_column_int64(st, 11);
        v->next_attempt_at = sqlite3_column_int64(st, 12);
        v->delivered_at = sqlite3_column_int64(st, 13);
        v->last_status = (long)sqlite3_column_int64(st, 14);
        v->last_error = col_dup(st, 15);
    }
    if (rc == IH_OK && !v->request)
        rc = IH_ENOMEM;
    if (rc != IH_OK)
        booking_view_clear(v);
    return rc;
}

ih_status sqlite_bookings_get(struct store *s, const char *id, struct booking_view *out)
{
    struct db *db = db_of(s);
    sqlite3 *c = db_read_acquire(db);
    sqlite3_stmt *st = NULL;
    ih_status rc;
    if (!c)
        return IH_EIO;
    if (sqlite3_prepare_v2(c, "SELECT " VIEW_COLUMNS " WHERE b.amiko_booking_id = ?1", -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(c);
        goto done;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int sr = sqlite3_step(st);
    rc = sr == SQLITE_ROW ? read_view(st, out) : sr == SQLITE_DONE ? IH_ENOTFOUND : db_fail(c);
done:
    sqlite3_finalize(st);
    db_read_release(db, c);
    return rc;
}

ih_status sqlite_bookings_list(struct store *s, enum booking_status status, int64_t after, size_t max,
                               struct booking_view **out, size_t *n)
{
    struct db *db = db_of(s);
    *out = NULL;
    *n = 0;
    struct booking_view *v = calloc(max ? max : 1, sizeof(*v));
    if (!v)
        return IH_ENOMEM;
    sqlite3 *c = db_read_acquire(db);
    sqlite3_stmt *st = NULL;
    ih_status rc = IH_OK;
    if (!c) {
        free(v);
        return IH_EIO;
    }
    if (sqlite3_prepare_v2(c, "SELECT " VIEW_COLUMNS " WHERE b.status = ?1 AND b.record_seq > ?2"
                              " ORDER BY b.record_seq LIMIT ?3", -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(c);
        goto done;
    }
    sqlite3_bind_text(st, 1, booking_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    int sr = SQLITE_DONE;
    while (rc == IH_OK && *n < max && (sr = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = read_view(st, &v[*n])) == IH_OK)
            (*n)++;
    if (rc == IH_OK && *n < max && sr != SQLITE_DONE)
        rc = db_fail(c);
done:
    sqlite3_finalize(st);
    db_read_release(db, c);
    if (rc != IH_OK) {
        for (size_t i = 0; i < *n; i++)
            booking_view_clear(&v[i]);
        free(v);
        *n = 0;
        return rc;
    }
    *out = v;
    return IH_OK;
}
