-- +goose Up
-- The twin of SQLite's 00002_conversations.sql: the same tables, columns,
-- keys and indexes. Times are timestamptz, written truncated to the
-- millisecond so they read back exactly. Event data is json, not jsonb:
-- json keeps the bytes we were given, and those bytes go to clients as they
-- are. Empty strings, not NULLs, mean "no assignee" and "no client id", so
-- the partial unique indexes can skip them.
CREATE TABLE employees (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    updated_at timestamptz NOT NULL
);

-- ids are "C"-collated: lists page by (time, id) and the contract says ids
-- compare byte by byte, whatever the database's default collation.
-- No foreign key to employees: a conversation is created before (or
-- without) its employee's row, and lists join the name when it is there.
CREATE TABLE conversations (
    id            text COLLATE "C" PRIMARY KEY,
    employee_id   text NOT NULL,
    subject       text NOT NULL,
    category      text NOT NULL,
    status        text NOT NULL,
    assignee_id   text NOT NULL,
    seq           bigint NOT NULL,
    client_msg_id text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    queued_at     timestamptz,
    resolved_at   timestamptz
);
-- A retried create finds the first one.
CREATE UNIQUE INDEX conversations_client_msg
    ON conversations (employee_id, client_msg_id) WHERE client_msg_id <> '';
-- One index per list order, so a page is a short index walk, not a sort:
-- the queue, lists by status, an employee's list, and everything.
CREATE INDEX conversations_status_queued ON conversations (status, queued_at, id);
CREATE INDEX conversations_status_updated ON conversations (status, updated_at, id);
CREATE INDEX conversations_employee_updated ON conversations (employee_id, updated_at, id);
CREATE INDEX conversations_updated ON conversations (updated_at, id);

CREATE TABLE participants (
    conversation_id text COLLATE "C" NOT NULL REFERENCES conversations (id),
    role            text NOT NULL,
    user_id         text NOT NULL,
    active          boolean NOT NULL,
    last_read_seq   bigint NOT NULL,
    joined_at       timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, role, user_id)
);
-- An agent's conversations (the index carries conversation_id, the key).
CREATE INDEX participants_active_user ON participants (role, user_id) WHERE active;

-- The primary key's index serves paging, unread counts and the last
-- message: all are ranges of one conversation's seqs.
CREATE TABLE events (
    conversation_id text COLLATE "C" NOT NULL REFERENCES conversations (id),
    seq             bigint NOT NULL,
    type            text NOT NULL,
    actor_role      text NOT NULL,
    actor_id        text NOT NULL,
    private         boolean NOT NULL,
    client_msg_id   text NOT NULL,
    data            json NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
-- A retried message is stored once per sender.
CREATE UNIQUE INDEX events_client_msg
    ON events (conversation_id, actor_role, actor_id, client_msg_id) WHERE client_msg_id <> '';

-- +goose Down
DROP TABLE events;
DROP TABLE participants;
DROP TABLE conversations;
DROP TABLE employees;
