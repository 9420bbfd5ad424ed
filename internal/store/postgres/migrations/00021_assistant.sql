-- +goose Up
-- The AI assistant's exchanges (internal/firstline): every prompt it was
-- given and what it answered (or why not), kept with the conversation for
-- agents to review. prompt is the messages sent; citations the article ids.
CREATE TABLE assistant_exchanges (
    id              text PRIMARY KEY,
    conversation_id text COLLATE "C" NOT NULL,
    employee_id     text NOT NULL,
    agent_id        text NOT NULL DEFAULT '',
    kind            text NOT NULL,
    model           text NOT NULL,
    prompt          jsonb NOT NULL,
    answer          text NOT NULL,
    citations       jsonb NOT NULL DEFAULT '[]',
    outcome         text NOT NULL,
    error           text NOT NULL DEFAULT '',
    started_at      timestamptz NOT NULL,
    duration_ms     bigint NOT NULL
);
CREATE INDEX assistant_exchanges_conversation ON assistant_exchanges (conversation_id, started_at);
-- The per-employee rate limit counts an employee's recent answers.
CREATE INDEX assistant_exchanges_employee ON assistant_exchanges (employee_id, started_at);
CREATE INDEX assistant_exchanges_started ON assistant_exchanges (started_at);

-- +goose Down
DROP TABLE assistant_exchanges;
