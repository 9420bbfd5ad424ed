-- +goose Up
-- Categories become the admins' to manage (names in both languages, a
-- colour, a default priority, retired or not); the five a desk always had
-- are kept with their keys, so existing conversations keep their category.
CREATE TABLE categories (
    key              TEXT PRIMARY KEY,
    name_zh          TEXT NOT NULL,
    name_en          TEXT NOT NULL DEFAULT '',
    color            TEXT NOT NULL DEFAULT '',
    default_priority TEXT NOT NULL DEFAULT '',
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    position         INTEGER NOT NULL DEFAULT 0
);
INSERT INTO categories (key, name_zh, name_en, position) VALUES
    ('account', '账号与密码', 'Account & password', 1),
    ('network', '网络与 VPN', 'Network & VPN', 2),
    ('hardware', '电脑与硬件', 'Computer & hardware', 3),
    ('software', '软件与系统', 'Software & OS', 4),
    ('other', '其他', 'Other', 5);
-- Settings admins change at run time (business hours, holidays, the
-- auto-reply texts), one JSON document per name, read by every node.
CREATE TABLE desk_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE desk_settings;
DROP TABLE categories;
