-- +goose Up
-- Service-level policies (targets per priority, optionally per category
-- or team) and each conversation's clocks against them. A clock's state
-- is internal/sla's JSON; due_at is set while it runs towards a breach,
-- for the sweep that marks breaches.
CREATE TABLE sla_policies (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    priority            TEXT NOT NULL,
    category            TEXT NOT NULL DEFAULT '',
    team_id             TEXT NOT NULL DEFAULT '',
    first_response_secs INTEGER NOT NULL DEFAULT 0,
    next_response_secs  INTEGER NOT NULL DEFAULT 0,
    resolution_secs     INTEGER NOT NULL DEFAULT 0,
    business_hours      INTEGER NOT NULL DEFAULT 1,
    warn_share          REAL NOT NULL DEFAULT 0.75
) STRICT;
CREATE TABLE sla_clocks (
    conversation_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    clock           TEXT NOT NULL,
    due_at          INTEGER,
    PRIMARY KEY (conversation_id, kind)
) STRICT;
CREATE INDEX sla_clocks_due ON sla_clocks (due_at) WHERE due_at IS NOT NULL;

-- +goose Down
DROP TABLE sla_clocks;
DROP TABLE sla_policies;
