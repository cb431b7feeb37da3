-- PostgreSQL twin of migrations/sqlite/0007_pan_key_fingerprints.sql: the PAN keys this
-- database's tokens are made with, by fingerprint (an HMAC-SHA256 of a fixed label under the
-- key, never the key). Every node checks its key against the current one at start, so all
-- nodes make the same tokens. (The SQLite migration also renames pan_first6 to pan_lead and
-- re-masks stored PANs; the PostgreSQL schema had pan_lead and the short mask from its start.)
CREATE TABLE pan_keys (
    key_id      text    PRIMARY KEY,  -- card_activities.pan_key_id of its tokens
    fingerprint text    NOT NULL,     -- hex HMAC-SHA256(key, 'issuerhook pan key fingerprint v1')
    is_current  boolean NOT NULL,
    since       bigint  NOT NULL,     -- ms since the epoch: when it became current
    retired_at  bigint                -- ms since the epoch: when a newer key took over
);
CREATE UNIQUE INDEX pan_keys_one_current ON pan_keys (is_current) WHERE is_current;
