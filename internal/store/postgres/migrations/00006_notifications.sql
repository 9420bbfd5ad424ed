-- +goose Up
-- The twin of SQLite's 00006_notifications.sql.
-- WeCom app-message cards owed to people about a conversation (see
-- internal/notify). Written in the transaction of the event they are
-- about; one pending card per person and conversation, so several replies
-- within the delay make one card. Times are Unix milliseconds.
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    recipient_role  text NOT NULL,
    recipient_id    text NOT NULL,
    conversation_id text NOT NULL,
    kind            text NOT NULL,
    seq             bigint NOT NULL,
    due_at          bigint NOT NULL,
    claimed_until   bigint NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'pending',
    finished_at     bigint NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX notifications_pending
    ON notifications (recipient_role, recipient_id, conversation_id) WHERE status = 'pending';
CREATE INDEX notifications_due ON notifications (status, due_at);
CREATE INDEX notifications_sent ON notifications (recipient_role, recipient_id, finished_at) WHERE status = 'sent';

-- People WeCom no longer delivers to (81013: gone, or outside the app's
-- visible range): no more cards until an administrator clears it.
CREATE TABLE notification_blocks (
    recipient_role text NOT NULL,
    recipient_id   text NOT NULL,
    reason         text NOT NULL,
    blocked_at     bigint NOT NULL,
    PRIMARY KEY (recipient_role, recipient_id)
);

-- +goose Down
DROP TABLE notification_blocks;
DROP TABLE notifications;
