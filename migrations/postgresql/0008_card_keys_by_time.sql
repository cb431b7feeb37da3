-- PostgreSQL twin of migrations/sqlite/0008_card_keys_by_time.sql: a card item's record key is
-- "<occurredAt in ms since the epoch, 13 digits>-<hex SHA-256 of the tokenized item>"
-- (src/store/cards.c, cards_item_key); the keys stored before are rewritten the same way, so
-- that a batch retried across the upgrade is still recognised. ih_card_batch and
-- ih_put_record take the key as given: nothing else changes.
UPDATE records SET idem_key = CASE WHEN length(occurred_at::text) >= 13 THEN occurred_at::text
                                   ELSE lpad(occurred_at::text, 13, '0') END || '-' || idem_key
WHERE source = 'apiture.card_activity' AND occurred_at IS NOT NULL AND occurred_at >= 0
  AND idem_key ~ '^[0-9a-f]{64}$';
