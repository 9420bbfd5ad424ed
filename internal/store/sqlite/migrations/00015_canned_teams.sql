-- +goose Up
-- A shared canned reply may belong to one team: its members get it in the
-- "/" picker, other agents do not ('' is the whole desk's, as before).
ALTER TABLE canned_replies ADD COLUMN team_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE canned_replies DROP COLUMN team_id;
