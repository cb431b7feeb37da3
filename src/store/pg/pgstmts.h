/* Private to src/store/pg/: the prepared statements that call the job functions of
 * migrations/postgresql/ and read the feed; the one place in C that knows their parameter
 * order and result columns. Parameters are text except hashes (bytea, 32 bytes, sent in
 * binary: format 1). Outcomes are words, as the functions return them. */
#ifndef ISSUERHOOK_PGSTMTS_H
#define ISSUERHOOK_PGSTMTS_H

#include "pgconn.h"

/* ih_put_record: source, key, hash, type, tracing_id, received_ms, occurred_ms (NULL:
 * unknown), payload, status, response, entity_type, entity_id, serial (the last three
 * NULL unless a domain event). Row: outcome (inserted | replay | conflict), seq,
 * stored_status, stored_response, serial_note (NULL | stale | gap), serial_last. */
#define PGSTMTS_PUT_RECORD_NPARAMS 13
extern const struct pgstmt pgstmts_put_record;

/* ih_booking_request: the record's first ten parameters as above. Row: outcome, seq,
 * stored_status, stored_response, status, issuer_booking_id, failure_reason,
 * failure_code. */
#define PGSTMTS_BOOKING_REQUEST_NPARAMS 10
extern const struct pgstmt pgstmts_booking_request;

/* ih_booking_result: booking id (the result record's key), new status, issuer_booking_id,
 * failure_reason, failure_code, callback_body, then the result record's source, hash, type,
 * tracing_id, received_ms, occurred_ms, payload, status, response. Row: outcome (applied |
 * same | conflict | not_found), status, issuer_booking_id, failure_reason, failure_code,
 * rec_outcome, rec_seq, rec_stored_status, rec_stored_response, outbox_id. */
#define PGSTMTS_BOOKING_RESULT_NPARAMS 15
extern const struct pgstmt pgstmts_booking_result;

/* ih_card_batch: items (json, see the function), idem_scope, idem_key (NULL: none),
 * request_hash, status, response, received_ms. Row: outcome (stored | idem_replay |
 * idem_conflict), stored_status, stored_response, inserted, duplicates. */
#define PGSTMTS_CARD_BATCH_NPARAMS 7
extern const struct pgstmt pgstmts_card_batch;

/* ih_outbox_mark: id, node, what (delivered | retry | dead), at_ms, next_at_ms,
 * http_status (NULL: no answer), error (NULL: none). Row: applied (t | f). */
#define PGSTMTS_OUTBOX_MARK_NPARAMS 7
extern const struct pgstmt pgstmts_outbox_mark;

/* ih_outbox_claim: node, lease_ms, max. Rows: id, amiko_booking_id, body, tracing_id,
 * attempts, lease_until (database clock, ms). */
#define PGSTMTS_OUTBOX_CLAIM_NPARAMS 3
extern const struct pgstmt pgstmts_outbox_claim;

/* The feed in commit-safe order: rows after the watermark (txid, seq) that every
 * transaction still running can no longer precede (txid below the snapshot's xmin), in
 * (txid, seq) order: wm_txid, wm_seq, limit. Rows: seq, txid, source, type, tracing_id,
 * payload, occurred_or_received_ms. */
#define PGSTMTS_FEED_NPARAMS 3
extern const struct pgstmt pgstmts_feed;

#endif
