-- +goose Up
-- What an IT team sorts and finds conversations by: a reference number
-- both sides can quote (IT-2026-000123), a priority, incident or service
-- request, and free tags (a JSON array of strings).
ALTER TABLE conversations ADD COLUMN ref TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE conversations ADD COLUMN kind TEXT NOT NULL DEFAULT 'incident';
ALTER TABLE conversations ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE UNIQUE INDEX conversations_ref ON conversations (ref) WHERE ref <> '';

-- Named counters (one per year for reference numbers), taken in the
-- transaction that uses the number, so numbers are never handed out twice.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE counters;
DROP INDEX conversations_ref;
ALTER TABLE conversations DROP COLUMN tags;
ALTER TABLE conversations DROP COLUMN kind;
ALTER TABLE conversations DROP COLUMN priority;
ALTER TABLE conversations DROP COLUMN ref;
