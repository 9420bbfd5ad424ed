-- +goose Up
-- Live delivery without holes (see internal/conversation/publish.go).
-- public_seq and broadcast_seq: the last event the employee may see, and
-- the last one sent to every agent; each event's live copies carry the
-- previous one of their audience, so a connection can tell a real gap from
-- a seq it was never meant to see.
ALTER TABLE conversations ADD COLUMN public_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN broadcast_seq INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET public_seq = COALESCE(
    (SELECT MAX(seq) FROM events e WHERE e.conversation_id = conversations.id AND e.private = 0), 0);

-- The outbox: a batch's deliveries, written in the batch's transaction and
-- deleted once published, so an event committed by a node that then failed
-- to publish it (bus down, process killed) is published by any node's
-- sweeper. Times are Unix milliseconds.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    created_at    INTEGER NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    deliveries    TEXT NOT NULL
) STRICT;

CREATE INDEX outbox_created ON outbox (created_at);

-- +goose Down
DROP TABLE outbox;
ALTER TABLE conversations DROP COLUMN broadcast_seq;
ALTER TABLE conversations DROP COLUMN public_seq;
