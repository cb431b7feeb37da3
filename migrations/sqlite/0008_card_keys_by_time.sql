-- A card item's record key gets its occurredAt in front: "<ms since the epoch, 13 digits>-<hex
-- SHA-256 of the tokenized item>" (src/store/cards.c, cards_item_key), so that the items of a
-- batch, which happened at about the same time, go into a few pages at the end of the
-- (source, idem_key) index instead of one random page each. The hash alone still decides what
-- is a repeat. The keys stored before are rewritten the same way, so that a batch sent before
-- the upgrade and retried after it is still recognised item by item; an item without a time
-- (occurred_at NULL: before 1970) keeps the hash alone, as cards_item_key makes it.
-- PostgreSQL's 0008 does the same.
UPDATE records SET idem_key = printf('%013d-', occurred_at) || idem_key
WHERE source = 'apiture.card_activity' AND occurred_at IS NOT NULL AND occurred_at >= 0
  AND length(idem_key) = 64 AND idem_key NOT GLOB '*[^0-9a-f]*';
