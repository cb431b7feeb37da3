/* A card activity batch on SQLite: every item a record plus its tokens, and the
 * Idempotency-Key's answer, all in the job's savepoint (all or nothing). */
#include <stdbool.h>

#include "internal.h"

static const char SQL_IDEM_GET[] =
    "SELECT request_sha256, status, body FROM idempotency_keys WHERE scope = ?1 AND key = ?2";
static const char SQL_IDEM_PUT[] =
    "INSERT INTO idempotency_keys (scope, key, request_sha256, status, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_CARD[] =
    "INSERT INTO card_activities (seq, pan_token, pan_lead, pan_last4, pan_key_id, tax_id_token)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/* true when the key was seen before (outcome set). */
static ih_status idem_lookup(struct writer_txn *t, struct card_batch_job *b, bool *seen)
{
    enum answer_match m;
    ih_status rc = txn_first_answer(t, SQL_IDEM_GET, b->idem_scope, b->idem_key, b->request_hash, &m,
                                    &b->stored_status, &b->stored_response);
    *seen = m != ANSWER_NONE;
    if (m != ANSWER_NONE)
        b->outcome = m == ANSWER_SAME ? CARDS_IDEM_REPLAY : CARDS_IDEM_CONFLICT;
    return rc;
}

static ih_status store_item(struct writer_txn *t, struct card_batch_job *b, struct card_item *it)
{
    ih_status rc = sqlite_events_apply(t, &it->ev);
    if (rc != IH_OK)
        return rc;
    if (it->ev.outcome == EVENTS_REPLAY) {
        b->duplicates++; /* the same item again: counted on its record, nothing new */
        return IH_OK;
    }
    if (it->ev.outcome != EVENTS_INSERTED)
        return IH_EIO; /* the key is the payload's hash: a conflict cannot happen */
    sqlite3_stmt *st = txn_stmt(t, SQL_CARD);
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_int64(st, 1, it->ev.seq);
    sqlite3_bind_text(st, 2, it->pan.token, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, it->pan.lead, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, it->pan.last4, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, it->pan.key_id, -1, SQLITE_STATIC);
    if (it->has_tax_id)
        sqlite3_bind_text(st, 6, it->tax_id_token, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_fail(t->conn);
    b->inserted++;
    return IH_OK;
}

ih_status sqlite_card_batch_apply(struct writer_txn *t, struct card_batch_job *b)
{
    ih_status rc;
    bool seen = false;
    b->inserted = b->duplicates = 0;
    if (b->has_idem && ((rc = idem_lookup(t, b, &seen)) != IH_OK || seen))
        return rc;
    /* all items or none: any failure fails the job, and the writer rolls its
     * savepoint back */
    for (size_t i = 0; i < b->n; i++)
        if ((rc = store_item(t, b, &b->items[i])) != IH_OK)
            return rc;
    b->outcome = CARDS_STORED;
    if (!b->has_idem)
        return IH_OK;
    sqlite3_stmt *st = txn_stmt(t, SQL_IDEM_PUT);
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, b->idem_scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b->idem_key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, b->request_hash, CRYPTO_SHA256_LEN, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, (int)b->status);
    sqlite3_bind_text(st, 5, b->response ? b->response : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, b->n ? b->items[0].ev.received_ms : 0);
    return sqlite3_step(st) == SQLITE_DONE ? IH_OK : db_fail(t->conn);
}
