-- One row the daemon rewrites to prove that the store takes a commit: at start, and while
-- writes fail, to notice by itself when they work again (a rolled-back transaction writes
-- nothing in WAL mode, so it cannot tell a full disk). See src/store/GROUP_COMMIT.md.
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at TEXT NOT NULL -- UTC, ISO 8601: the last successful test write
);
