-- +goose Up
-- What the reports read. The lifecycle events (created, resolved,
-- reopened, withdrawn) are found by type and time; each conversation's
-- first answer is kept as it happens (one row, written once, the first
-- agent message's time and author), since finding it among a year of
-- messages is what would make a report slow; and each service-level
-- clock's outcome is kept beside its JSON.
-- Covering, so a year of lifecycle events is read from the index alone.
CREATE INDEX events_type_created ON events (type, created_at, conversation_id, actor_id);
CREATE INDEX conversations_created ON conversations (created_at);
CREATE INDEX conversations_resolved ON conversations (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE TABLE conversation_facts (
    conversation_id   TEXT PRIMARY KEY,
    first_response_at TIMESTAMPTZ NOT NULL,
    first_responder   TEXT NOT NULL
);
ALTER TABLE sla_clocks ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE sla_clocks ADD COLUMN breached INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sla_clocks_outcome ON sla_clocks (conversation_id, kind, state, breached);

-- +goose Down
DROP INDEX sla_clocks_outcome;
ALTER TABLE sla_clocks DROP COLUMN breached;
ALTER TABLE sla_clocks DROP COLUMN state;
DROP TABLE conversation_facts;
DROP INDEX conversations_resolved;
DROP INDEX conversations_created;
DROP INDEX events_type_created;
