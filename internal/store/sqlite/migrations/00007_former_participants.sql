-- +goose Up
-- An agent's "handed over" list: conversations they left but may still
-- read. Partial, like participants_active_user, so each list walks only
-- its own rows.
CREATE INDEX participants_former_user ON participants (role, user_id) WHERE active = 0;

-- +goose Down
DROP INDEX participants_former_user;
