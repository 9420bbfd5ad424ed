-- +goose Up
-- Teams: who answers which categories, and how conversations reach them:
-- "manual" (the shared queue, agents claim) or "auto" (the online team
-- member with the fewest open conversations gets it, under capacity).
CREATE TABLE teams (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    routing  TEXT NOT NULL DEFAULT 'manual',
    capacity INTEGER NOT NULL DEFAULT 5
);
CREATE TABLE team_members (
    team_id  TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    PRIMARY KEY (team_id, agent_id)
);
CREATE TABLE category_teams (
    category TEXT PRIMARY KEY,
    team_id  TEXT NOT NULL
);
ALTER TABLE conversations ADD COLUMN team_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE conversations DROP COLUMN team_id;
DROP TABLE category_teams;
DROP TABLE team_members;
DROP TABLE teams;
