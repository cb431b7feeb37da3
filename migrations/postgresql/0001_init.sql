-- PostgreSQL twin of migrations/0001_init.sql: the records and the domain-event serials,
-- and ih_put_record, the function that stores one record exactly once (what
-- src/store/events.c does on SQLite). Times are ms since the epoch (bigint), hashes bytea,
-- payloads and answers text kept exactly as sent.
--
-- The feed's position is (txid, seq), not seq alone: a seq is taken at insert but becomes
-- visible at commit, so with several writers seq order is not commit order. The feed reads
--   WHERE (txid, seq) > (wm_txid, wm_seq) AND txid < pg_snapshot_xmin(pg_current_snapshot())
--   ORDER BY txid, seq
-- Every transaction below the snapshot's xmin has ended and every later writer gets a larger
-- xid, so that set only grows at its end: a watermark is never passed by a later commit.
CREATE TABLE records (
    seq               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid              xid8    NOT NULL DEFAULT pg_current_xact_id(), -- the writing transaction
    source            text    NOT NULL,          -- 'amiko.event', 'amiko.domain_event', ...
    idem_key          text    NOT NULL,          -- e.g. header.eventId, lower case
    payload_sha256    bytea   NOT NULL,          -- SHA-256 of the canonical JSON
    type              text    NOT NULL,          -- event type as sent
    tracing_id        text    NOT NULL,
    received_at       bigint  NOT NULL,          -- ms since the epoch
    occurred_at       bigint,                    -- ms since the epoch, from the payload
    payload           text    NOT NULL,          -- canonical JSON
    response_status   integer NOT NULL,          -- the first answer, replayed verbatim
    response_body     text    NOT NULL,
    duplicates        bigint  NOT NULL DEFAULT 0, -- replays received after the first
    last_duplicate_at bigint,
    entity_type       text,                      -- domain events
    entity_id         text,
    serial            bigint,
    serial_anomaly    text,                      -- NULL, 'stale' (<= last seen) or 'gap'
    UNIQUE (source, idem_key)
);
CREATE INDEX records_feed ON records (txid, seq);

-- The highest serial stored per domain-event entity.
CREATE TABLE entity_serials (
    entity_type text   NOT NULL,
    entity_id   text   NOT NULL,
    last_serial bigint NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
);

-- The first answer stored under (source, key): 'replay' (same hash: the stored answer, and
-- the duplicate counted) or 'conflict' (another hash: nothing changes). Only called when the
-- record exists; it is never deleted, so a missing one is an error.
CREATE FUNCTION ih_record_answer(p_source text, p_key text, p_hash bytea, p_received bigint,
    OUT outcome text, OUT stored_status integer, OUT stored_response text)
LANGUAGE plpgsql AS $$
DECLARE
    h bytea;
BEGIN
    SELECT r.payload_sha256, r.response_status, r.response_body INTO h, stored_status, stored_response
      FROM records r WHERE r.source = p_source AND r.idem_key = p_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'record % % vanished', p_source, p_key;
    END IF;
    IF h IS DISTINCT FROM p_hash THEN
        outcome := 'conflict';
        stored_status := NULL;
        stored_response := NULL;
        RETURN;
    END IF;
    outcome := 'replay';
    UPDATE records r SET duplicates = r.duplicates + 1, last_duplicate_at = p_received
     WHERE r.source = p_source AND r.idem_key = p_key;
END $$;

-- Stores one record exactly once, as events_apply does. Outcome: 'inserted' (seq set),
-- 'replay' (stored_* is the first answer; duplicates counted) or 'conflict' (nothing stored).
-- A domain event (p_entity_type not NULL) is judged against its entity's highest serial under
-- that entity's row lock: serial_note NULL, 'stale' or 'gap', serial_last the highest before
-- it (-1: none). Uniqueness is the database's: in READ COMMITTED each statement sees what
-- other nodes committed, and INSERT ... ON CONFLICT waits for an in-flight twin, so the same
-- key sent to two nodes at once is stored once and both get the first answer.
-- No EXCEPTION block: expected outcomes are return values (see src/store/pg/PIPELINE.md).
CREATE FUNCTION ih_put_record(p_source text, p_key text, p_hash bytea, p_type text, p_tracing text,
    p_received bigint, p_occurred bigint, p_payload text, p_status integer, p_response text,
    p_entity_type text, p_entity_id text, p_serial bigint,
    OUT outcome text, OUT seq bigint, OUT stored_status integer, OUT stored_response text,
    OUT serial_note text, OUT serial_last bigint)
LANGUAGE plpgsql AS $$
DECLARE
    created boolean := false; -- this call made the entity's serial row
BEGIN
    serial_last := -1;
    IF p_entity_type IS NULL THEN
        -- the common case first: a new record is one statement
        INSERT INTO records AS r (source, idem_key, payload_sha256, type, tracing_id, received_at,
                                  occurred_at, payload, response_status, response_body)
        VALUES (p_source, p_key, p_hash, p_type, p_tracing, p_received, p_occurred, p_payload,
                p_status, p_response)
        ON CONFLICT (source, idem_key) DO NOTHING
        RETURNING r.seq INTO seq;
        IF FOUND THEN
            outcome := 'inserted';
        ELSE
            SELECT a.outcome, a.stored_status, a.stored_response INTO outcome, stored_status, stored_response
              FROM ih_record_answer(p_source, p_key, p_hash, p_received) a;
        END IF;
        RETURN;
    END IF;

    -- a domain event: an earlier record with its key answers without touching the serials
    PERFORM 1 FROM records r WHERE r.source = p_source AND r.idem_key = p_key;
    IF FOUND THEN
        SELECT a.outcome, a.stored_status, a.stored_response INTO outcome, stored_status, stored_response
          FROM ih_record_answer(p_source, p_key, p_hash, p_received) a;
        RETURN;
    END IF;
    -- the entity's row lock serialises its events across nodes
    INSERT INTO entity_serials AS s VALUES (p_entity_type, p_entity_id, p_serial)
    ON CONFLICT (entity_type, entity_id) DO NOTHING;
    created := FOUND;
    IF NOT created THEN
        SELECT s.last_serial INTO serial_last FROM entity_serials s
         WHERE s.entity_type = p_entity_type AND s.entity_id = p_entity_id FOR UPDATE;
        serial_note := CASE WHEN p_serial <= serial_last THEN 'stale'
                            WHEN p_serial > serial_last + 1 THEN 'gap' END;
        UPDATE entity_serials s SET last_serial = greatest(serial_last, p_serial)
         WHERE s.entity_type = p_entity_type AND s.entity_id = p_entity_id;
    END IF;
    INSERT INTO records AS r (source, idem_key, payload_sha256, type, tracing_id, received_at, occurred_at,
                              payload, response_status, response_body, entity_type, entity_id, serial,
                              serial_anomaly)
    VALUES (p_source, p_key, p_hash, p_type, p_tracing, p_received, p_occurred, p_payload, p_status,
            p_response, p_entity_type, p_entity_id, p_serial, serial_note)
    ON CONFLICT (source, idem_key) DO NOTHING
    RETURNING r.seq INTO seq;
    IF FOUND THEN
        outcome := 'inserted';
        RETURN;
    END IF;
    -- another node stored this key while this one waited: undo the serial, answer as it does
    IF created THEN
        DELETE FROM entity_serials s WHERE s.entity_type = p_entity_type AND s.entity_id = p_entity_id;
    ELSE
        UPDATE entity_serials s SET last_serial = serial_last
         WHERE s.entity_type = p_entity_type AND s.entity_id = p_entity_id;
    END IF;
    serial_note := NULL;
    serial_last := -1;
    SELECT a.outcome, a.stored_status, a.stored_response INTO outcome, stored_status, stored_response
      FROM ih_record_answer(p_source, p_key, p_hash, p_received) a;
END $$;
