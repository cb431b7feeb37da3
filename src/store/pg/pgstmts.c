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
