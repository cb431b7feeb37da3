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

/* ---- what the daemon reads (src/store/pg/pgreads.c, pgfeed.c, pgkeys.c) ---- */

/* The feed's scans as the daemon runs them: pgstmts_feed's rows, at most limit + 1 (the
 * last one only says there is more), each row's payload NULL past the first limit rows
 * and once the rows before it hold budget bytes (the first row always has its own), so
 * that a scan holds a bounded amount of text whatever the rows' sizes. Rows: seq, txid,
 * source, type, tracing_id, payload, at (occurred, else received).
 * Commit order: wm_txid, wm_seq, limit, budget. */
#define PGSTMTS_FEED_SCAN_NPARAMS 4
extern const struct pgstmt pgstmts_feed_scan;
/* occurredAt order, from <= at < to, ascending or descending, after the cursor (at, seq)
 * or from the start: from, to, limit, budget[, cur_at, cur_seq]. */
#define PGSTMTS_FEED_TIME_NPARAMS 4
#define PGSTMTS_FEED_TIME_CURSOR_NPARAMS 6
extern const struct pgstmt pgstmts_feed_time_asc, pgstmts_feed_time_desc;
extern const struct pgstmt pgstmts_feed_time_asc_after, pgstmts_feed_time_desc_after;

/* Health: a real query. */
extern const struct pgstmt pgstmts_ping;
/* A committed test write (store_probe). */
extern const struct pgstmt pgstmts_probe;

/* A booking as GET /bookings/{id} shows it: id. Rows: status, issuer_booking_id,
 * failure_reason, failure_code, id, request, tracing_id, seq, created_at, updated_at,
 * cb_state (NULL: no callback), cb_attempts, cb_next_at, cb_delivered_at, cb_last_status,
 * cb_last_error. */
extern const struct pgstmt pgstmts_booking_get;
/* The same, a page: status, after (record seq), limit. */
extern const struct pgstmt pgstmts_booking_list;

/* The outbox's counts: pending, dead, delivered, next_due (the earliest time a pending row
 * can be claimed: its next attempt, or the end of its lease; NULL: none). */
extern const struct pgstmt pgstmts_outbox_stats;

/* The PAN keys: the current one (key_id, fingerprint, since); the key id of the newest
 * card token (pan_key_id); a token's rows: key_id, token -> n, first_seq, last_seq. */
extern const struct pgstmt pgstmts_pankey_current, pgstmts_pankey_newest, pgstmts_pankey_find;

#endif
