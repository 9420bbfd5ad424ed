package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

const categoryColumns = `c.key, c.name_zh, c.name_en, c.color, c.default_priority, c.active, c.position, coalesce(ct.team_id, '')`

func scanCategory(r pgx.Row) (desk.Category, error) {
	var c desk.Category
	err := r.Scan(&c.Key, &c.NameZH, &c.NameEN, &c.Color, &c.DefaultPriority, &c.Active, &c.Position, &c.TeamID)
	return c, err
}

// Category returns one category with the team it routes to.
func (r reader) Category(ctx context.Context, key string) (desk.Category, error) {
	c, err := scanCategory(r.q.QueryRow(ctx, `SELECT `+categoryColumns+`
		FROM categories c LEFT JOIN category_teams ct ON ct.category = c.key WHERE c.key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, desk.Errorf(desk.ENotFound, "no category %q", key)
	}
	return c, dbError(err, "read category")
}

// Categories lists every category, retired ones too, in the admins' order.
func (db *DB) Categories(ctx context.Context) ([]desk.Category, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+categoryColumns+`
		FROM categories c LEFT JOIN category_teams ct ON ct.category = c.key ORDER BY c.position, c.key`)
	if err != nil {
		return nil, dbError(err, "list categories")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk.Category, error) { return scanCategory(r) })
	return out, dbError(err, "list categories")
}

// SaveCategory creates or replaces a category and the team it routes to.
func (db *DB) SaveCategory(ctx context.Context, c desk.Category) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO categories (key, name_zh, name_en, color, default_priority, active, position)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (key) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en, color = excluded.color,
				default_priority = excluded.default_priority, active = excluded.active, position = excluded.position`,
			c.Key, c.NameZH, c.NameEN, c.Color, c.DefaultPriority, c.Active, c.Position); err != nil {
			return dbError(err, "save category")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM category_teams WHERE category = $1`, c.Key); err != nil {
			return dbError(err, "save category")
		}
		if c.TeamID != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO category_teams (category, team_id) VALUES ($1, $2)`, c.Key, c.TeamID); err != nil {
				return dbError(err, "save category")
			}
		}
		return nil
	})
}

// Setting returns the stored value of a desk setting (ENotFound if none).
func (db *DB) Setting(ctx context.Context, name string) (string, time.Time, error) {
	var v string
	var at time.Time
	err := db.pool.QueryRow(ctx, `SELECT value, updated_at FROM desk_settings WHERE name = $1`, name).Scan(&v, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", at, desk.Errorf(desk.ENotFound, "no setting %q", name)
	}
	return v, at, dbError(err, "read setting")
}

// SaveSetting stores a desk setting.
func (db *DB) SaveSetting(ctx context.Context, name, value string, at time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO desk_settings (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, at)
	return dbError(err, "save setting")
}
