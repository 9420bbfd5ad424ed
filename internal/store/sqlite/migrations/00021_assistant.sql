-- +goose Up
-- The AI assistant's exchanges (internal/firstline): every prompt it was
-- given and what it answered (or why not), kept with the conversation for
-- agents to review. Times are Unix milliseconds; prompt is the messages
-- sent, as JSON; citations a JSON array of article ids.
CREATE TABLE assistant_exchanges (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    employee_id     TEXT NOT NULL,
    agent_id        TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    model           TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    answer          TEXT NOT NULL,
    citations       TEXT NOT NULL DEFAULT '[]',
    outcome         TEXT NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    started_at      INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL
) STRICT;
CREATE INDEX assistant_exchanges_conversation ON assistant_exchanges (conversation_id, started_at);
-- The per-employee rate limit counts an employee's recent answers.
CREATE INDEX assistant_exchanges_employee ON assistant_exchanges (employee_id, started_at);
CREATE INDEX assistant_exchanges_started ON assistant_exchanges (started_at);

-- +goose Down
DROP TABLE assistant_exchanges;
