/* The statements of pgstmts.h. */
#include "pgstmts.h"

const struct pgstmt pgstmts_put_record = {
    "ih_put_record", "SELECT * FROM ih_put_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"};

const struct pgstmt pgstmts_booking_request = {
    "ih_booking_request", "SELECT * FROM ih_booking_request($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"};

const struct pgstmt pgstmts_booking_result = {
    "ih_booking_result",
    "SELECT * FROM ih_booking_result($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"};

const struct pgstmt pgstmts_card_batch = {"ih_card_batch",
                                          "SELECT * FROM ih_card_batch($1, $2, $3, $4, $5, $6, $7)"};

const struct pgstmt pgstmts_outbox_mark = {"ih_outbox_mark",
                                           "SELECT ih_outbox_mark($1, $2, $3, $4, $5, $6, $7)"};

const struct pgstmt pgstmts_outbox_claim = {"ih_outbox_claim", "SELECT * FROM ih_outbox_claim($1, $2, $3)"};

const struct pgstmt pgstmts_feed = {
    "ih_feed",
    "SELECT seq, txid, source, type, tracing_id, payload, coalesce(occurred_at, received_at) FROM records"
    " WHERE (txid, seq) > ($1::xid8, $2::bigint) AND txid < pg_snapshot_xmin(pg_current_snapshot())"
    " ORDER BY txid, seq LIMIT $3"};

/* ---- the daemon's reads ---- */

/* A scan's rows with the payload only within the limit and the byte budget (pgstmts.h). */
#define SCAN_ROWS()                                                                                        \
    "SELECT seq, txid, source, type, tracing_id, CASE WHEN row_number() OVER w <= $3::bigint AND"              \
    " sum(octet_length(payload)) OVER w - octet_length(payload) < $4::bigint THEN payload END AS payload,"     \
    " coalesce(occurred_at, received_at) AS at FROM records"
#define SCAN_END(order)                                                                                        \
    " WINDOW w AS (ORDER BY " order " ROWS UNBOUNDED PRECEDING) ORDER BY " order " LIMIT $3::bigint + 1"

const struct pgstmt pgstmts_feed_scan = {
    "ih_feed_scan", SCAN_ROWS() " WHERE (txid, seq) > ($1::xid8, $2::bigint)"
                                " AND txid < pg_snapshot_xmin(pg_current_snapshot())" SCAN_END("txid, seq")};

#define AT "coalesce(occurred_at, received_at)"
#define IN_RANGE " WHERE " AT " >= $1::bigint AND " AT " < $2::bigint"
const struct pgstmt pgstmts_feed_time_asc = {"ih_feed_time_asc",
                                             SCAN_ROWS() IN_RANGE SCAN_END(AT " ASC, seq ASC")};
const struct pgstmt pgstmts_feed_time_desc = {"ih_feed_time_desc",
                                              SCAN_ROWS() IN_RANGE SCAN_END(AT " DESC, seq DESC")};
const struct pgstmt pgstmts_feed_time_asc_after = {
    "ih_feed_time_asc_after",
    SCAN_ROWS() IN_RANGE " AND (" AT ", seq) > ($5::bigint, $6::bigint)" SCAN_END(AT " ASC, seq ASC")};
const struct pgstmt pgstmts_feed_time_desc_after = {
    "ih_feed_time_desc_after",
    SCAN_ROWS() IN_RANGE " AND (" AT ", seq) < ($5::bigint, $6::bigint)" SCAN_END(AT " DESC, seq DESC")};

const struct pgstmt pgstmts_ping = {"ih_ping", "SELECT max(seq) AS seq FROM records"};

const struct pgstmt pgstmts_probe = {
    "ih_probe", "INSERT INTO store_probe (id, probed_at) VALUES (1,"
                " to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
                " ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"};

/* bookings b, its request record r, its latest callback o */
#define VIEW                                                                                                   \
    "SELECT b.status, b.issuer_booking_id, b.failure_reason, b.failure_code, b.amiko_booking_id AS id,"        \
    " r.payload AS request, b.tracing_id, b.record_seq AS seq, b.created_at, b.updated_at, o.state AS cb_state," \
    " o.attempts AS cb_attempts, o.next_attempt_at AS cb_next_at, o.delivered_at AS cb_delivered_at,"          \
    " o.last_status AS cb_last_status, o.last_error AS cb_last_error"                                          \
    " FROM bookings b JOIN records r ON r.seq = b.record_seq"                                                  \
    " LEFT JOIN outbox o ON o.id = (SELECT max(x.id) FROM outbox x WHERE x.amiko_booking_id = b.amiko_booking_id)"
const struct pgstmt pgstmts_booking_get = {"ih_booking_get", VIEW " WHERE b.amiko_booking_id = $1"};
const struct pgstmt pgstmts_booking_list = {
    "ih_booking_list",
    VIEW " WHERE b.status = $1 AND b.record_seq > $2::bigint ORDER BY b.record_seq LIMIT $3::bigint"};

const struct pgstmt pgstmts_outbox_stats = {
    "ih_outbox_stats",
    "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending') AS pending,"
    " (SELECT count(*) FROM outbox WHERE state = 'dead') AS dead,"
    " (SELECT count(*) FROM outbox WHERE state = 'delivered') AS delivered,"
    " (SELECT min(greatest(next_attempt_at, coalesce(lease_until, 0))) FROM outbox WHERE state = 'pending')"
    " AS next_due"};

const struct pgstmt pgstmts_pankey_current = {"ih_pankey_current",
                                              "SELECT key_id, fingerprint, since FROM pan_keys WHERE is_current"};
const struct pgstmt pgstmts_pankey_newest = {"ih_pankey_newest",
                                             "SELECT pan_key_id FROM card_activities ORDER BY seq DESC LIMIT 1"};
const struct pgstmt pgstmts_pankey_find = {
    "ih_pankey_find", "SELECT count(*) AS n, coalesce(min(seq), 0) AS first_seq, coalesce(max(seq), 0) AS last_seq"
                      " FROM card_activities WHERE pan_token = $2 AND pan_key_id = $1"};
