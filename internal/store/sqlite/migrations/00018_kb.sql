-- +goose Up
-- The knowledge base: articles (Markdown bodies; tags a JSON array of
-- strings), every saved version of each, and what employees did with them
-- for the deflection figures. Times are Unix milliseconds. The synonym
-- groups live in desk_settings under "kb_synonyms".
CREATE TABLE articles (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    category     TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL DEFAULT 'draft',
    author_id    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    published_at INTEGER,
    views        INTEGER NOT NULL DEFAULT 0,
    helped       INTEGER NOT NULL DEFAULT 0,
    not_helped   INTEGER NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL DEFAULT 1
) STRICT;
-- Every node reads the articles changed since its last look.
CREATE INDEX articles_updated ON articles (updated_at, id);

CREATE TABLE article_versions (
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    category   TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',
    author_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (article_id, version)
) STRICT;

-- kind: view, helped, not_helped (article_id set) or deflection (query,
-- the article ids shown as a JSON array, and whether they resolved it).
-- No employee id: the figures need none, so none is kept.
CREATE TABLE kb_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    article_id  TEXT NOT NULL DEFAULT '',
    query       TEXT NOT NULL DEFAULT '',
    article_ids TEXT NOT NULL DEFAULT '[]',
    resolved    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX kb_events_at ON kb_events (at);

-- +goose Down
DROP TABLE kb_events;
DROP TABLE article_versions;
DROP TABLE articles;
