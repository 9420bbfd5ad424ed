-- +goose Up
-- Files people upload (internal/attachment); the bytes are in the file
-- store under the id. conversation_id stays '' until a message carries
-- the file, so unused uploads are found and deleted after a day. Times are
-- Unix milliseconds.
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    owner_role      TEXT NOT NULL,
    owner_id        TEXT NOT NULL,
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    width           INTEGER NOT NULL DEFAULT 0,
    height          INTEGER NOT NULL DEFAULT 0,
    thumbnail       INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    conversation_id TEXT NOT NULL DEFAULT '',
    private         INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX attachments_owner ON attachments (owner_role, owner_id, created_at);
CREATE INDEX attachments_unused ON attachments (created_at) WHERE conversation_id = '';
CREATE INDEX attachments_conversation ON attachments (conversation_id) WHERE conversation_id <> '';

-- Secrets the nodes of one desk share, made by whichever starts first
-- (the key that signs attachment URLs).
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

-- +goose Down
DROP TABLE secrets;
DROP TABLE attachments;
