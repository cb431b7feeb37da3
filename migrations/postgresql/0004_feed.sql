-- PostgreSQL twin of migrations/0004_feed.sql. The feed's occurredAt order: records by the
-- time they happened (else were received), then seq.
CREATE INDEX records_by_time ON records ((coalesce(occurred_at, received_at)), seq);
