-- +goose Up
-- Agents are "agent" or "admin": admins manage the desk from the console.
ALTER TABLE agents ADD COLUMN role TEXT NOT NULL DEFAULT 'agent';

-- Canned replies: shared ones (admins write them, every agent uses them)
-- and each agent's personal ones. Times are Unix milliseconds.
CREATE TABLE canned_replies (
    id         TEXT PRIMARY KEY,
    scope      TEXT NOT NULL,
    owner_id   TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX canned_replies_owner ON canned_replies (scope, owner_id);

-- What admins did, for admins to read: who, what, to what, when, and the
-- thing before and after (JSON).
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor_id TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    before_json TEXT NOT NULL DEFAULT '',
    after_json  TEXT NOT NULL DEFAULT ''
) STRICT;

-- +goose Down
DROP TABLE audit_log;
DROP TABLE canned_replies;
ALTER TABLE agents DROP COLUMN role;
