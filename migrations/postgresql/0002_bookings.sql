-- PostgreSQL twin of migrations/0002_bookings.sql: bookings and the callback outbox, with the
-- functions that do what src/store/bookings.c and outbox.c do on SQLite. The outbox also has
-- a lease (lease_owner, lease_until) so that several nodes deliver each callback one at a
-- time: a node claims due rows with FOR UPDATE SKIP LOCKED and only the lease owner may mark
-- an attempt; a node that dies leaves its rows to another once the lease has passed.
CREATE TABLE bookings (
    amiko_booking_id  text    PRIMARY KEY,        -- lower case UUID
    record_seq        bigint  NOT NULL REFERENCES records(seq),
    status            text    NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    tracing_id        text    NOT NULL,           -- of the booking request; sent with the callback
    issuer_booking_id text,
    failure_reason    text,
    failure_code      text,
    result_sha256     bytea,                      -- canonical result body: same again is 200, other 409
    created_at        bigint  NOT NULL,           -- ms since the epoch
    updated_at        bigint  NOT NULL
);
CREATE INDEX bookings_by_status ON bookings (status, record_seq);

CREATE TABLE outbox (
    id                bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    amiko_booking_id  text    NOT NULL REFERENCES bookings(amiko_booking_id),
    body              text    NOT NULL,
    tracing_id        text    NOT NULL,
    state             text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   bigint  NOT NULL,           -- ms since the epoch
    last_status       integer,                    -- HTTP status of the last attempt (NULL: no answer)
    last_error        text,
    created_at        bigint  NOT NULL,
    delivered_at      bigint,
    lease_owner       text,                       -- the node delivering it (hostname:pid:random)
    lease_until       bigint                      -- ms, database clock; NULL: not claimed
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_booking ON outbox (amiko_booking_id);

-- POST /bookings (bookings_apply_request): the booking's record, and on insert a pending
-- booking; a replay answers the booking's current state; a conflict stores nothing.
CREATE FUNCTION ih_booking_request(p_source text, p_key text, p_hash bytea, p_type text, p_tracing text,
    p_received bigint, p_occurred bigint, p_payload text, p_status integer, p_response text,
    OUT outcome text, OUT seq bigint, OUT stored_status integer, OUT stored_response text,
    OUT status text, OUT issuer_booking_id text, OUT failure_reason text, OUT failure_code text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT p.outcome, p.seq, p.stored_status, p.stored_response
      INTO outcome, seq, stored_status, stored_response
      FROM ih_put_record(p_source, p_key, p_hash, p_type, p_tracing, p_received, p_occurred, p_payload,
                         p_status, p_response, NULL, NULL, NULL) p;
    IF outcome = 'conflict' THEN
        RETURN;
    END IF;
    IF outcome = 'inserted' THEN
        INSERT INTO bookings (amiko_booking_id, record_seq, status, tracing_id, created_at, updated_at)
        VALUES (p_key, seq, 'pending', p_tracing, p_received, p_received);
        status := 'pending';
        RETURN;
    END IF;
    SELECT b.status, b.issuer_booking_id, b.failure_reason, b.failure_code
      INTO status, issuer_booking_id, failure_reason, failure_code
      FROM bookings b WHERE b.amiko_booking_id = p_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % has a record but no booking row', p_key;
    END IF;
END $$;

-- POST /bookings/{id}/result (bookings_apply_result). The booking's row lock serialises
-- results across nodes. Outcome: 'applied' (pending -> p_new_status, the result's record and
-- the callback's outbox row written together; outbox_id set), 'same' (the same result again:
-- the duplicate counted on the result's record, rec_* its answer), 'conflict' (another result
-- already: nothing changes) or 'not_found'. status .. failure_code: the booking's state after.
-- The result's record is (p_source, p_id).
CREATE FUNCTION ih_booking_result(p_id text, p_new_status text, p_issuer_booking_id text,
    p_failure_reason text, p_failure_code text, p_callback_body text,
    p_source text, p_hash bytea, p_type text, p_tracing text, p_received bigint, p_occurred bigint,
    p_payload text, p_status integer, p_response text,
    OUT outcome text, OUT status text, OUT issuer_booking_id text, OUT failure_reason text,
    OUT failure_code text, OUT rec_outcome text, OUT rec_seq bigint, OUT rec_stored_status integer,
    OUT rec_stored_response text, OUT outbox_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    result_hash bytea;
    booking_tracing text;
BEGIN
    SELECT b.status, b.issuer_booking_id, b.failure_reason, b.failure_code, b.result_sha256, b.tracing_id
      INTO status, issuer_booking_id, failure_reason, failure_code, result_hash, booking_tracing
      FROM bookings b WHERE b.amiko_booking_id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    IF status <> 'pending' THEN
        IF result_hash IS DISTINCT FROM p_hash THEN
            outcome := 'conflict';
            RETURN;
        END IF;
        outcome := 'same';
        SELECT p.outcome, p.seq, p.stored_status, p.stored_response
          INTO rec_outcome, rec_seq, rec_stored_status, rec_stored_response
          FROM ih_put_record(p_source, p_id, p_hash, p_type, p_tracing, p_received, p_occurred, p_payload,
                             p_status, p_response, NULL, NULL, NULL) p;
        RETURN;
    END IF;
    UPDATE bookings b SET status = p_new_status, issuer_booking_id = p_issuer_booking_id,
           failure_reason = p_failure_reason, failure_code = p_failure_code, result_sha256 = p_hash,
           updated_at = p_received
     WHERE b.amiko_booking_id = p_id;
    SELECT p.outcome, p.seq, p.stored_status, p.stored_response
      INTO rec_outcome, rec_seq, rec_stored_status, rec_stored_response
      FROM ih_put_record(p_source, p_id, p_hash, p_type, p_tracing, p_received, p_occurred, p_payload,
                         p_status, p_response, NULL, NULL, NULL) p;
    IF rec_outcome <> 'inserted' THEN
        RAISE EXCEPTION 'booking % got a result whose record was already there (%)', p_id, rec_outcome;
    END IF;
    INSERT INTO outbox AS o (amiko_booking_id, body, tracing_id, next_attempt_at, created_at)
    VALUES (p_id, p_callback_body, booking_tracing, p_received, p_received)
    RETURNING o.id INTO outbox_id;
    outcome := 'applied';
    status := p_new_status;
    issuer_booking_id := p_issuer_booking_id;
    failure_reason := p_failure_reason;
    failure_code := p_failure_code;
END $$;

-- The dispatcher's claim: up to p_max pending rows due now and not leased by a live lease,
-- oldest first, leased to p_node for p_lease_ms. Rows another claimer holds are skipped, not
-- waited for. "Now" is the database's clock, so the nodes' clocks cannot break a lease.
CREATE FUNCTION ih_outbox_claim(p_node text, p_lease_ms bigint, p_max integer)
RETURNS TABLE (id bigint, amiko_booking_id text, body text, tracing_id text, attempts integer,
               lease_until bigint)
LANGUAGE sql AS $$
    WITH now AS MATERIALIZED (
        SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms
    ), due AS MATERIALIZED (
        SELECT d.id FROM outbox d, now
         WHERE d.state = 'pending' AND d.next_attempt_at <= now.ms
           AND (d.lease_until IS NULL OR d.lease_until <= now.ms)
         ORDER BY d.next_attempt_at, d.id
         LIMIT p_max
         FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE outbox o SET lease_owner = p_node, lease_until = now.ms + p_lease_ms
      FROM due, now
     WHERE o.id = due.id
    RETURNING o.id, o.amiko_booking_id, o.body, o.tracing_id, o.attempts, o.lease_until
$$;

-- One delivery attempt (outbox_apply_mark): p_what 'delivered' | 'retry' | 'dead'. Applied
-- only to a pending row leased to p_node, and clears the lease; returns whether it applied
-- (false: another node owns the row now, or it is no longer pending). p_http_status NULL: no
-- answer; p_error NULL: none.
CREATE FUNCTION ih_outbox_mark(p_id bigint, p_node text, p_what text, p_at bigint, p_next_at bigint,
    p_http_status integer, p_error text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF p_what = 'delivered' THEN
        UPDATE outbox o SET state = 'delivered', attempts = o.attempts + 1, delivered_at = p_at,
               last_status = p_http_status, last_error = NULL, lease_owner = NULL, lease_until = NULL
         WHERE o.id = p_id AND o.state = 'pending' AND o.lease_owner = p_node;
    ELSIF p_what = 'retry' THEN
        UPDATE outbox o SET attempts = o.attempts + 1, next_attempt_at = p_next_at,
               last_status = p_http_status, last_error = p_error, lease_owner = NULL, lease_until = NULL
         WHERE o.id = p_id AND o.state = 'pending' AND o.lease_owner = p_node;
    ELSIF p_what = 'dead' THEN
        UPDATE outbox o SET state = 'dead', attempts = o.attempts + 1, last_status = p_http_status,
               last_error = p_error, lease_owner = NULL, lease_until = NULL
         WHERE o.id = p_id AND o.state = 'pending' AND o.lease_owner = p_node;
    ELSE
        RAISE EXCEPTION 'ih_outbox_mark: unknown mark %', p_what;
    END IF;
    RETURN FOUND;
END $$;
