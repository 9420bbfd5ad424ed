-- +goose Up
-- Search over conversations (internal/search): each message, note and
-- subject line is a document whose terms (every CJK character alone, Latin
-- words whole) go into an FTS5 index; search_docs says where each came from.
CREATE TABLE search_docs (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL
) STRICT;
CREATE INDEX search_docs_conversation ON search_docs (conversation_id);
CREATE VIRTUAL TABLE search_terms USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');

-- +goose Down
DROP TABLE search_terms;
DROP TABLE search_docs;
