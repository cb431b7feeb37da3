/* A store_event inside the writer's transaction: insert-or-find by (source, idem_key),
 * replay vs conflict by the payload's hash, a domain event's serial against its entity's. */
#include <stdbool.h>

#include "internal.h"

static const char SQL_FIND[] =
    "SELECT payload_sha256, response_status, response_body FROM records WHERE source = ?1 AND idem_key = ?2";
static const char SQL_DUP[] =
    "UPDATE records SET duplicates = duplicates + 1, last_duplicate_at = ?3 WHERE source = ?1 AND idem_key = ?2";
static const char SQL_INSERT[] =
    "INSERT INTO records (source, idem_key, payload_sha256, type, tracing_id, received_at, occurred_at,"
    " payload, response_status, response_body, entity_type, entity_id, serial, serial_anomaly)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    " ON CONFLICT (source, idem_key) DO NOTHING";
static const char SQL_SERIAL_GET[] =
    "SELECT last_serial FROM entity_serials WHERE entity_type = ?1 AND entity_id = ?2";
static const char SQL_SERIAL_PUT[] =
    "INSERT INTO entity_serials (entity_type, entity_id, last_serial) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (entity_type, entity_id) DO UPDATE SET last_serial = max(last_serial, excluded.last_serial)";

/* Looks for an earlier record with the same key. *found false when none. */
static ih_status find_existing(struct writer_txn *t, struct store_event *ev, bool *found)
{
    enum answer_match m;
    ih_status rc = txn_first_answer(t, SQL_FIND, ev->source, ev->key, ev->hash, &m, &ev->stored_status,
                                    &ev->stored_response);
    *found = m != ANSWER_NONE;
    if (rc != IH_OK || m == ANSWER_NONE)
        return rc;
    if (m == ANSWER_DIFFERENT) {
        ev->outcome = EVENTS_CONFLICT;
        return IH_OK;
    }
    ev->outcome = EVENTS_REPLAY;
    sqlite3_stmt *st = txn_stmt(t, SQL_DUP);
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, ev->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ev->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ev->received_ms);
    return sqlite3_step(st) == SQLITE_DONE ? IH_OK : db_fail(t->conn);
}

/* Compares the serial with the entity's highest so far and records the new one. */
static ih_status track_serial(struct writer_txn *t, struct store_event *ev)
{
    sqlite3_stmt *st = txn_stmt(t, SQL_SERIAL_GET);
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, ev->entity_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ev->entity_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    ev->serial_last = -1;
    ev->serial_note = EVENTS_SERIAL_NONE;
    if (rc == SQLITE_ROW) {
        ev->serial_last = sqlite3_column_int64(st, 0);
        if (ev->serial <= ev->serial_last)
            ev->serial_note = EVENTS_SERIAL_STALE;
        else if (ev->serial > ev->serial_last + 1)
            ev->serial_note = EVENTS_SERIAL_GAP;
    } else if (rc != SQLITE_DONE) {
        return db_fail(t->conn);
    }
    st = txn_stmt(t, SQL_SERIAL_PUT);
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, ev->entity_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ev->entity_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ev->serial);
    return sqlite3_step(st) == SQLITE_DONE ? IH_OK : db_fail(t->conn);
}

/* Inserts the record unless its key exists; *inserted says which. */
static ih_status insert(struct writer_txn *t, struct store_event *ev, bool *inserted)
{
    static const char *const notes[] = {NULL, "stale", "gap"};
    sqlite3_stmt *st = txn_stmt(t, SQL_INSERT);
    if (!st)
        return db_fail(t->conn);
    sqlite3_bind_text(st, 1, ev->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ev->key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, ev->hash, CRYPTO_SHA256_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ev->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ev->tracing_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, ev->received_ms);
    if (ev->occurred_ms >= 0)
        sqlite3_bind_int64(st, 7, ev->occurred_ms);
    sqlite3_bind_text(st, 8, ev->payload, (int)ev->payload_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, (int)ev->status);
    sqlite3_bind_text(st, 10, ev->response, -1, SQLITE_STATIC);
    if (ev->has_serial) {
        sqlite3_bind_text(st, 11, ev->entity_type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, ev->entity_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 13, ev->serial);
        if (notes[ev->serial_note])
            sqlite3_bind_text(st, 14, notes[ev->serial_note], -1, SQLITE_STATIC);
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_fail(t->conn);
    *inserted = sqlite3_changes(t->conn) > 0;
    if (*inserted) {
        ev->outcome = EVENTS_INSERTED;
        ev->seq = sqlite3_last_insert_rowid(t->conn);
    }
    return IH_OK;
}

ih_status sqlite_events_apply(struct writer_txn *t, struct store_event *ev)
{
    bool found = false, inserted = false;
    ih_status rc;
    if (!ev->has_serial) {
        /* the common case first: a new record is one statement */
        if ((rc = insert(t, ev, &inserted)) != IH_OK || inserted)
            return rc;
        return find_existing(t, ev, &found);
    }
    /* a domain event: its serial is judged against the entity's before it is stored */
    if ((rc = find_existing(t, ev, &found)) != IH_OK || found)
        return rc;
    if ((rc = track_serial(t, ev)) != IH_OK)
        return rc;
    return insert(t, ev, &inserted);
}
