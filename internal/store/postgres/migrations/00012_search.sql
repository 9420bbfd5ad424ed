-- +goose Up
-- Search over conversations (internal/search): each message, note and
-- subject line is a document whose terms (every CJK character alone, Latin
-- words whole) are a tsvector under a GIN index.
CREATE TABLE search_docs (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    terms           tsvector NOT NULL
);
CREATE INDEX search_docs_terms ON search_docs USING GIN (terms);
CREATE INDEX search_docs_conversation ON search_docs (conversation_id);

-- +goose Down
DROP TABLE search_docs;
