-- PostgreSQL twin of migrations/sqlite/0003_card_activity.sql: card activities (tokens only, never a
-- clear PAN or tax id) and Idempotency-Key answers, with ih_card_batch, which stores a whole
-- batch all or nothing as src/store/cards.c does on SQLite.
CREATE TABLE card_activities (
    seq          bigint PRIMARY KEY REFERENCES records(seq),
    pan_token    text NOT NULL,   -- hex HMAC-SHA256 under the PAN key
    pan_lead     text NOT NULL,   -- the leading digits the mask shows (at most half of the PAN with the last four)
    pan_last4    text NOT NULL,
    pan_key_id   text NOT NULL,   -- which PAN key made the tokens (rotation)
    tax_id_token text             -- customerTaxId, tokenized the same way; NULL when absent
);
CREATE INDEX card_activities_by_pan ON card_activities (pan_token);

CREATE TABLE idempotency_keys (
    scope          text    NOT NULL,   -- route and caller
    key            text    NOT NULL,
    request_sha256 bytea   NOT NULL,
    status         integer NOT NULL,
    body           text    NOT NULL,
    created_at     bigint  NOT NULL,
    PRIMARY KEY (scope, key)
);

-- POST /card-activities (cards_apply_batch). p_items: a json array (json, not jsonb: every
-- string comes back as sent), one object per item:
--   {"source", "key", "hash" (hex), "type", "tracing_id", "received", "occurred" (or null),
--    "payload", "status", "response", "pan_token", "pan_lead", "pan_last4", "pan_key_id",
--    "tax_id_token" (or null)}
-- p_idem_key NULL: no Idempotency-Key. Outcome: 'stored' (inserted / duplicates: items new and
-- seen before), 'idem_replay' (stored_* is the first answer; nothing else happens) or
-- 'idem_conflict' (the key was used for another request: nothing stored). The key is claimed
-- first (INSERT ... ON CONFLICT waits for a twin in flight on another node), so one request
-- under a key is stored once. An item whose key holds another payload cannot happen (the key
-- is the item's hash) and raises: the whole batch fails, nothing of it is stored.
CREATE FUNCTION ih_card_batch(p_items json, p_idem_scope text, p_idem_key text, p_request_hash bytea,
    p_status integer, p_response text, p_received bigint,
    OUT outcome text, OUT stored_status integer, OUT stored_response text, OUT inserted integer,
    OUT duplicates integer)
LANGUAGE plpgsql AS $$
DECLARE
    it json;
    h bytea;
    rec record;
BEGIN
    inserted := 0;
    duplicates := 0;
    IF p_idem_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (scope, key, request_sha256, status, body, created_at)
        VALUES (p_idem_scope, p_idem_key, p_request_hash, p_status, coalesce(p_response, ''), p_received)
        ON CONFLICT (scope, key) DO NOTHING;
        IF NOT FOUND THEN
            SELECT k.request_sha256, k.status, k.body INTO h, stored_status, stored_response
              FROM idempotency_keys k WHERE k.scope = p_idem_scope AND k.key = p_idem_key;
            IF h IS DISTINCT FROM p_request_hash THEN
                outcome := 'idem_conflict';
                stored_status := NULL;
                stored_response := NULL;
            ELSE
                outcome := 'idem_replay';
            END IF;
            RETURN;
        END IF;
    END IF;
    FOR it IN SELECT e FROM json_array_elements(p_items) e LOOP
        SELECT * INTO rec FROM ih_put_record(it->>'source', it->>'key', decode(it->>'hash', 'hex'),
            it->>'type', it->>'tracing_id', (it->>'received')::bigint, (it->>'occurred')::bigint,
            it->>'payload', (it->>'status')::integer, it->>'response', NULL, NULL, NULL);
        IF rec.outcome = 'replay' THEN
            duplicates := duplicates + 1; -- the same item again: counted on its record
        ELSIF rec.outcome = 'inserted' THEN
            INSERT INTO card_activities (seq, pan_token, pan_lead, pan_last4, pan_key_id, tax_id_token)
            VALUES (rec.seq, it->>'pan_token', it->>'pan_lead', it->>'pan_last4', it->>'pan_key_id',
                    it->>'tax_id_token');
            inserted := inserted + 1;
        ELSE
            RAISE EXCEPTION 'card activity item % is stored with another payload', it->>'key';
        END IF;
    END LOOP;
    outcome := 'stored';
END $$;
