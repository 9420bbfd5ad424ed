-- +goose Up
-- Satisfaction ratings: one per resolution of a conversation (keyed by
-- the resolution's time), by its employee, for the agent who had it.
-- Times are Unix milliseconds.
CREATE TABLE ratings (
    conversation_id TEXT NOT NULL,
    resolved_at     INTEGER NOT NULL,
    employee_id     TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    score           INTEGER NOT NULL,
    comment         TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, resolved_at)
) STRICT;
CREATE INDEX ratings_agent ON ratings (agent_id, created_at);
CREATE INDEX ratings_created ON ratings (created_at);

-- +goose Down
DROP TABLE ratings;
