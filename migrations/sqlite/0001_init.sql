-- Every record the daemon acknowledged, in commit order (seq is the feed's order).
-- Idempotency lives here: UNIQUE(source, idem_key) plus the canonical payload hash
-- and the first answer decide replay versus conflict, in the writer's transaction.
CREATE TABLE records (
    seq               INTEGER PRIMARY KEY,
    source            TEXT    NOT NULL,          -- 'amiko.event', 'amiko.domain_event', ...
    idem_key          TEXT    NOT NULL,          -- e.g. header.eventId, lower case
    payload_sha256    BLOB    NOT NULL,          -- SHA-256 of the canonical JSON
    type              TEXT    NOT NULL,          -- event type as sent
    tracing_id        TEXT    NOT NULL,
    received_at       INTEGER NOT NULL,          -- ms since the epoch
    occurred_at       INTEGER,                   -- ms since the epoch, from the payload
    payload           TEXT    NOT NULL,          -- canonical JSON
    response_status   INTEGER NOT NULL,          -- the first answer, replayed verbatim
    response_body     TEXT    NOT NULL,
    duplicates        INTEGER NOT NULL DEFAULT 0, -- replays received after the first
    last_duplicate_at INTEGER,
    entity_type       TEXT,                      -- domain events
    entity_id         TEXT,
    serial            INTEGER,
    serial_anomaly    TEXT,                      -- NULL, 'stale' (<= last seen) or 'gap'
    UNIQUE (source, idem_key)
);

-- The highest serial stored per domain-event entity.
CREATE TABLE entity_serials (
    entity_type TEXT    NOT NULL,
    entity_id   TEXT    NOT NULL,
    last_serial INTEGER NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
) WITHOUT ROWID;
