-- The feed's occurredAt order: records by the time they happened (else were received),
-- then commit order.
CREATE INDEX records_by_time ON records (coalesce(occurred_at, received_at), seq);
