-- +goose Up
-- WeCom app-message cards owed to people about a conversation (see
-- internal/notify). Written in the transaction of the event they are
-- about; one pending card per person and conversation, so several replies
-- within the delay make one card. Times are Unix milliseconds.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    recipient_role  TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'pending',
    finished_at     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE UNIQUE INDEX notifications_pending
    ON notifications (recipient_role, recipient_id, conversation_id) WHERE status = 'pending';
CREATE INDEX notifications_due ON notifications (status, due_at);
CREATE INDEX notifications_sent ON notifications (recipient_role, recipient_id, finished_at) WHERE status = 'sent';

-- People WeCom no longer delivers to (81013: gone, or outside the app's
-- visible range): no more cards until an administrator clears it.
CREATE TABLE notification_blocks (
    recipient_role TEXT NOT NULL,
    recipient_id   TEXT NOT NULL,
    reason         TEXT NOT NULL,
    blocked_at     INTEGER NOT NULL,
    PRIMARY KEY (recipient_role, recipient_id)
) STRICT;

-- +goose Down
DROP TABLE notification_blocks;
DROP TABLE notifications;
