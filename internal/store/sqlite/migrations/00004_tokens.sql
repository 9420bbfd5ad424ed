-- +goose Up
-- Login tokens when there is no Redis, so a restart of a single-node desk
-- signs nobody out. Only a SHA-256 of each token is kept: the tokens are
-- 256-bit random, so the hash cannot be reversed or guessed, and a copy of
-- the database holds no credential. Times are Unix milliseconds.
CREATE TABLE tokens (
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (role, hash)
) STRICT, WITHOUT ROWID;

-- Revoking every token of one user, and purging the expired.
CREATE INDEX tokens_principal ON tokens (role, principal_id);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- +goose Down
DROP TABLE tokens;
