-- +goose Up
-- The twin of SQLite's 00003_delivery.sql: public_seq and broadcast_seq
-- let each event's live copies carry the previous seq of their audience,
-- and the outbox holds each batch's deliveries until they are published.
ALTER TABLE conversations ADD COLUMN public_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN broadcast_seq bigint NOT NULL DEFAULT 0;
UPDATE conversations SET public_seq = COALESCE(
    (SELECT MAX(seq) FROM events e WHERE e.conversation_id = conversations.id AND NOT e.private), 0);

-- Times are Unix milliseconds, as a lease is compared with the node's clock.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    created_at    bigint NOT NULL,
    claimed_until bigint NOT NULL DEFAULT 0,
    deliveries    text NOT NULL
);

CREATE INDEX outbox_created ON outbox (created_at);

-- +goose Down
DROP TABLE outbox;
ALTER TABLE conversations DROP COLUMN broadcast_seq;
ALTER TABLE conversations DROP COLUMN public_seq;
