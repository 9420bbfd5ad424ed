-- +goose Up
-- WeCom: an employee's profile as the console shows it (the department
-- path and position from the directory, refreshed at sign-in), and the
-- WeCom member an agent account belongs to, for the console's QR sign-in.
ALTER TABLE employees ADD COLUMN department TEXT NOT NULL DEFAULT '';
ALTER TABLE employees ADD COLUMN position TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN wecom_userid TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX agents_wecom_userid ON agents (wecom_userid) WHERE wecom_userid <> '';

-- +goose Down
DROP INDEX agents_wecom_userid;
ALTER TABLE agents DROP COLUMN wecom_userid;
ALTER TABLE employees DROP COLUMN position;
ALTER TABLE employees DROP COLUMN department;
