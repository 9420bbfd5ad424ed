package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

func teamMembers(ctx context.Context, q querier, t *desk.Team) error {
	for _, x := range []struct {
		sql string
		dst *[]string
	}{
		{`SELECT agent_id FROM team_members WHERE team_id = $1 ORDER BY agent_id`, &t.Members},
		{`SELECT category FROM category_teams WHERE team_id = $1 ORDER BY category`, &t.Categories},
	} {
		rows, err := q.Query(ctx, x.sql, t.ID)
		if err != nil {
			return dbError(err, "read team")
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return dbError(err, "read team")
		}
		*x.dst = append([]string{}, vals...)
	}
	return nil
}

// TeamForCategory returns the team a category routes to.
func (r reader) TeamForCategory(ctx context.Context, category string) (desk.Team, error) {
	var t desk.Team
	err := r.q.QueryRow(ctx, `SELECT t.id, t.name, t.routing, t.capacity, t.lead_id FROM category_teams ct JOIN teams t ON t.id = ct.team_id
		WHERE ct.category = $1`, category).Scan(&t.ID, &t.Name, &t.Routing, &t.Capacity, &t.LeadID)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, desk.Errorf(desk.ENotFound, "no team for %s", category)
	}
	if err != nil {
		return t, dbError(err, "read team")
	}
	return t, teamMembers(ctx, r.q, &t)
}

// AgentLoad locks the agent's row, then counts their unresolved
// conversations: two writers assigning to one agent take turns.
func (x *tx) AgentLoad(ctx context.Context, agentID string) (int, error) {
	if _, err := x.t.Exec(ctx, `SELECT 1 FROM agents WHERE id = $1 FOR UPDATE`, agentID); err != nil {
		return 0, dbError(err, "lock agent")
	}
	var n int
	err := x.t.QueryRow(ctx, `SELECT count(*) FROM conversations WHERE assignee_id = $1 AND status IN ('open', 'pending')`, agentID).Scan(&n)
	return n, dbError(err, "count load")
}

// Teams lists every team with its members and categories.
func (db *DB) Teams(ctx context.Context) ([]desk.Team, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, name, routing, capacity, lead_id FROM teams ORDER BY name, id`)
	if err != nil {
		return nil, dbError(err, "list teams")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk.Team, error) {
		var t desk.Team
		err := r.Scan(&t.ID, &t.Name, &t.Routing, &t.Capacity, &t.LeadID)
		return t, err
	})
	if err != nil {
		return nil, dbError(err, "list teams")
	}
	for i := range out {
		if err := teamMembers(ctx, db.pool, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SaveTeam creates or replaces a team, its members and its categories (a
// category moves to this team from any other).
func (db *DB) SaveTeam(ctx context.Context, t desk.Team) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO teams (id, name, routing, capacity, lead_id) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, routing = excluded.routing, capacity = excluded.capacity, lead_id = excluded.lead_id`,
			t.ID, t.Name, t.Routing, t.Capacity, t.LeadID); err != nil {
			return dbError(err, "save team")
		}
		for _, q := range []string{`DELETE FROM team_members WHERE team_id = $1`, `DELETE FROM category_teams WHERE team_id = $1`} {
			if _, err := tx.Exec(ctx, q, t.ID); err != nil {
				return dbError(err, "save team")
			}
		}
		for _, m := range t.Members {
			if _, err := tx.Exec(ctx, `INSERT INTO team_members (team_id, agent_id) VALUES ($1, $2)`, t.ID, m); err != nil {
				return dbError(err, "save team")
			}
		}
		for _, c := range t.Categories {
			if _, err := tx.Exec(ctx, `INSERT INTO category_teams (category, team_id) VALUES ($1, $2)
				ON CONFLICT (category) DO UPDATE SET team_id = excluded.team_id`, c, t.ID); err != nil {
				return dbError(err, "save team")
			}
		}
		return nil
	})
}

// DeleteTeam removes a team; its categories route nowhere again.
func (db *DB) DeleteTeam(ctx context.Context, id string) error {
	return db.exec(ctx, "delete team", id, "",
		`DELETE FROM team_members WHERE team_id = $1`, `DELETE FROM category_teams WHERE team_id = $1`, `DELETE FROM teams WHERE id = $1`)
}
