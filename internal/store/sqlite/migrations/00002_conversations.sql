-- +goose Up
-- Times here are INTEGER Unix milliseconds, UTC: exact at the precision the
-- domain promises, compared as numbers, and cheap to index. Empty strings,
-- not NULLs, mean "no assignee" and "no client id", so the partial unique
-- indexes can skip them.
CREATE TABLE employees (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- No foreign key to employees: a conversation is created before (or
-- without) its employee's row, and lists join the name when it is there.
CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    employee_id   TEXT NOT NULL,
    subject       TEXT NOT NULL,
    category      TEXT NOT NULL,
    status        TEXT NOT NULL,
    assignee_id   TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    client_msg_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    queued_at     INTEGER,
    resolved_at   INTEGER
) STRICT;

-- A retried create finds the first one.
CREATE UNIQUE INDEX conversations_client_msg
    ON conversations (employee_id, client_msg_id) WHERE client_msg_id <> '';
-- One index per list order, so a page is a short index walk, not a sort:
-- the queue, lists by status, an employee's list, and everything.
CREATE INDEX conversations_status_queued ON conversations (status, queued_at, id);
CREATE INDEX conversations_status_updated ON conversations (status, updated_at, id);
CREATE INDEX conversations_employee_updated ON conversations (employee_id, updated_at, id);
CREATE INDEX conversations_updated ON conversations (updated_at, id);

-- Keyed by conversation so one conversation's participants sit together.
CREATE TABLE participants (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    role            TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    active          INTEGER NOT NULL,
    last_read_seq   INTEGER NOT NULL,
    joined_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, role, user_id)
) STRICT, WITHOUT ROWID;

-- An agent's conversations (the index carries conversation_id, the key).
CREATE INDEX participants_active_user ON participants (role, user_id) WHERE active = 1;

-- The primary key's index serves paging, unread counts and the last
-- message: all are ranges of one conversation's seqs.
CREATE TABLE events (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq             INTEGER NOT NULL,
    type            TEXT NOT NULL,
    actor_role      TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    private         INTEGER NOT NULL,
    client_msg_id   TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) STRICT;

-- A retried message is stored once per sender.
CREATE UNIQUE INDEX events_client_msg
    ON events (conversation_id, actor_role, actor_id, client_msg_id) WHERE client_msg_id <> '';

-- +goose Down
DROP TABLE events;
DROP TABLE participants;
DROP TABLE conversations;
DROP TABLE employees;
