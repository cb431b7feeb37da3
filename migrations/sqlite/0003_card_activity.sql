-- Card activities: each item is a record (source 'apiture.card_activity', idem_key
-- the SHA-256 of the canonical item with its PAN tokenized, so a retried batch stores
-- nothing twice); its card data lives here only as tokens and the first six / last
-- four digits. The clear PAN and tax id are never written anywhere.
CREATE TABLE card_activities (
    seq          INTEGER PRIMARY KEY REFERENCES records(seq),
    pan_token    TEXT NOT NULL,   -- hex HMAC-SHA256 under the PAN key
    pan_first6   TEXT NOT NULL,
    pan_last4    TEXT NOT NULL,
    pan_key_id   TEXT NOT NULL,   -- which PAN key made the tokens (rotation)
    tax_id_token TEXT             -- customerTaxId, tokenized the same way; NULL when absent
);
CREATE INDEX card_activities_by_pan ON card_activities (pan_token);

-- Idempotency-Key: a whole request's first answer, replayed for the same key and
-- body, refused (409) for the same key and another body.
CREATE TABLE idempotency_keys (
    scope          TEXT    NOT NULL,   -- route and caller
    key            TEXT    NOT NULL,
    request_sha256 BLOB    NOT NULL,
    status         INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
