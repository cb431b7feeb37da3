-- PostgreSQL twin of migrations/sqlite/0006_store_probe.sql: one row the daemon rewrites to
-- prove that the store takes a commit (at start, and while writes fail, to notice by itself
-- when they work again).
CREATE TABLE store_probe (
    id        integer PRIMARY KEY CHECK (id = 1),
    probed_at text    NOT NULL -- UTC, ISO 8601: the last successful test write
);
