-- The PAN keys this database's tokens are made with, by fingerprint: an HMAC-SHA256 of
-- a fixed label under the key (never the key). A daemon whose current key is not the
-- one recorded here as current refuses to start, unless that one is configured as a
-- previous key (a rotation: the new key becomes current, the old one stays, retired).
CREATE TABLE pan_keys (
    key_id      TEXT    PRIMARY KEY,  -- card_activities.pan_key_id of its tokens
    fingerprint TEXT    NOT NULL,     -- hex HMAC-SHA256(key, 'issuerhook pan key fingerprint v1')
    is_current  INTEGER NOT NULL CHECK (is_current IN (0, 1)),
    since       INTEGER NOT NULL,     -- ms since the epoch: when it became current
    retired_at  INTEGER               -- ms since the epoch: when a newer key took over
);
CREATE UNIQUE INDEX pan_keys_one_current ON pan_keys (is_current) WHERE is_current = 1;

-- A stored mask never shows more than half of a PAN's digits: the last four and the
-- first n/2 - 4 (2 to 5 for 12 to 19 digits), where the first six used to be kept.
-- The mask's length is the PAN's number of digits.
ALTER TABLE card_activities RENAME COLUMN pan_first6 TO pan_lead;
UPDATE card_activities SET pan_lead = (
    SELECT substr(card_activities.pan_lead, 1, length(json_extract(r.payload, '$.pan')) / 2 - 4)
    FROM records r WHERE r.seq = card_activities.seq)
WHERE EXISTS (SELECT 1 FROM records r WHERE r.seq = card_activities.seq
              AND length(json_extract(r.payload, '$.pan')) BETWEEN 12 AND 19);
UPDATE records SET payload = json_set(payload, '$.pan',
    substr(json_extract(payload, '$.pan'), 1, length(json_extract(payload, '$.pan')) / 2 - 4)
    || substr('*******************', 1,
              length(json_extract(payload, '$.pan')) - (length(json_extract(payload, '$.pan')) / 2 - 4) - 4)
    || substr(json_extract(payload, '$.pan'), -4))
WHERE source = 'apiture.card_activity'
  AND length(json_extract(payload, '$.pan')) BETWEEN 12 AND 19;
