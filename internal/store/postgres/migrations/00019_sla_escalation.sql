-- +goose Up
-- Escalations per service-level policy (JSON: clock, offset, action), and
-- the lead a team's escalations may call in.
ALTER TABLE sla_policies ADD COLUMN escalations TEXT NOT NULL DEFAULT '[]';
ALTER TABLE teams ADD COLUMN lead_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE teams DROP COLUMN lead_id;
ALTER TABLE sla_policies DROP COLUMN escalations;
