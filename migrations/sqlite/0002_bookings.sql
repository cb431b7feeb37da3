-- Bookings: the request is also a record (source 'amiko.booking', idem_key the
-- amikoBookingId) so idempotency and the feed work as for every other record; this
-- table holds the booking's life: pending -> completed | failed.
CREATE TABLE bookings (
    amiko_booking_id  TEXT    PRIMARY KEY,        -- lower case UUID
    record_seq        INTEGER NOT NULL REFERENCES records(seq),
    status            TEXT    NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    tracing_id        TEXT    NOT NULL,           -- of the booking request; sent with the callback
    issuer_booking_id TEXT,
    failure_reason    TEXT,
    failure_code      TEXT,
    result_sha256     BLOB,                       -- canonical result body: same again is 200, other 409
    created_at        INTEGER NOT NULL,           -- ms since the epoch
    updated_at        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX bookings_by_status ON bookings (status, record_seq);

-- Booking status callbacks to Amiko, written in the same transaction as the state
-- change and delivered by the dispatcher thread (at least once, retried with backoff).
CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY,
    amiko_booking_id  TEXT    NOT NULL REFERENCES bookings(amiko_booking_id),
    body              TEXT    NOT NULL,
    tracing_id        TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,           -- ms since the epoch
    last_status       INTEGER,                    -- HTTP status of the last attempt (NULL: no answer)
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    delivered_at      INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_booking ON outbox (amiko_booking_id);
