-- +goose Up
-- The twin of SQLite's 00001_agents.sql: the same columns, with timestamptz
-- where SQLite keeps RFC 3339 text.
CREATE TABLE agents (
    id            text PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE agents;
