package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

const categoryColumns = `c.key, c.name_zh, c.name_en, c.color, c.default_priority, c.active, c.position, coalesce(ct.team_id, '')`

func scanCategory(r scanner) (desk.Category, error) {
	var c desk.Category
	err := r.Scan(&c.Key, &c.NameZH, &c.NameEN, &c.Color, &c.DefaultPriority, &c.Active, &c.Position, &c.TeamID)
	return c, err
}

// Category returns one category with the team it routes to.
func (r reader) Category(ctx context.Context, key string) (desk.Category, error) {
	c, err := scanCategory(r.run.queryRow(ctx, `SELECT `+categoryColumns+`
		FROM categories c LEFT JOIN category_teams ct ON ct.category = c.key WHERE c.key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return c, desk.Errorf(desk.ENotFound, "no category %q", key)
	}
	return c, dbError(err, "read category")
}

// Categories lists every category, retired ones too, in the admins' order.
func (db *DB) Categories(ctx context.Context) ([]desk.Category, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+categoryColumns+`
		FROM categories c LEFT JOIN category_teams ct ON ct.category = c.key ORDER BY c.position, c.key`)
	if err != nil {
		return nil, dbError(err, "list categories")
	}
	defer rows.Close()
	var out []desk.Category
	for rows.Next() {
		c, err := scanCategory(rows)
		if err != nil {
			return nil, dbError(err, "list categories")
		}
		out = append(out, c)
	}
	return out, dbError(rows.Err(), "list categories")
}

// SaveCategory creates or replaces a category and the team it routes to.
func (db *DB) SaveCategory(ctx context.Context, c desk.Category) error {
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		run := tx.(*convTx).run
		if _, err := run.exec(ctx, `INSERT INTO categories (key, name_zh, name_en, color, default_priority, active, position)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en, color = excluded.color,
				default_priority = excluded.default_priority, active = excluded.active, position = excluded.position`,
			c.Key, c.NameZH, c.NameEN, c.Color, c.DefaultPriority, c.Active, c.Position); err != nil {
			return dbError(err, "save category")
		}
		if _, err := run.exec(ctx, `DELETE FROM category_teams WHERE category = ?`, c.Key); err != nil {
			return dbError(err, "save category")
		}
		if c.TeamID != "" {
			if _, err := run.exec(ctx, `INSERT INTO category_teams (category, team_id) VALUES (?, ?)`, c.Key, c.TeamID); err != nil {
				return dbError(err, "save category")
			}
		}
		return nil
	})
}

// Setting returns the stored value of a desk setting (ENotFound if none).
func (db *DB) Setting(ctx context.Context, name string) (string, time.Time, error) {
	var v string
	var at int64
	err := db.read.QueryRowContext(ctx, `SELECT value, updated_at FROM desk_settings WHERE name = ?`, name).Scan(&v, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, desk.Errorf(desk.ENotFound, "no setting %q", name)
	}
	return v, fromMillis(at), dbError(err, "read setting")
}

// SaveSetting stores a desk setting.
func (db *DB) SaveSetting(ctx context.Context, name, value string, at time.Time) error {
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		_, err := tx.(*convTx).run.exec(ctx, `INSERT INTO desk_settings (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, millis(at))
		return dbError(err, "save setting")
	})
}
