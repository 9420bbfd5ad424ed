-- +goose Up
-- Timestamps are RFC 3339 UTC text so they sort as strings and read the
-- same from the sqlite3 shell; PostgreSQL's twin uses timestamptz.
CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled_at   TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- +goose Down
DROP TABLE agents;
