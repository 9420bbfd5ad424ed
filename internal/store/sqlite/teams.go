package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/servicedesk/servicedesk/internal/desk"
)

func (r reader) teamMembers(ctx context.Context, t *desk.Team) error {
	for _, q := range []struct {
		sql string
		dst *[]string
	}{
		{`SELECT agent_id FROM team_members WHERE team_id = ? ORDER BY agent_id`, &t.Members},
		{`SELECT category FROM category_teams WHERE team_id = ? ORDER BY category`, &t.Categories},
	} {
		rows, err := r.run.query(ctx, q.sql, t.ID)
		if err != nil {
			return dbError(err, "read team")
		}
		*q.dst = []string{}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return dbError(err, "read team")
			}
			*q.dst = append(*q.dst, v)
		}
		rows.Close()
	}
	return nil
}

// TeamForCategory returns the team a category routes to.
func (r reader) TeamForCategory(ctx context.Context, category string) (desk.Team, error) {
	var t desk.Team
	err := r.run.queryRow(ctx, `SELECT t.id, t.name, t.routing, t.capacity, t.lead_id FROM category_teams ct JOIN teams t ON t.id = ct.team_id
		WHERE ct.category = ?`, category).Scan(&t.ID, &t.Name, &t.Routing, &t.Capacity, &t.LeadID)
	if errors.Is(err, sql.ErrNoRows) {
		return t, desk.Errorf(desk.ENotFound, "no team for %s", category)
	}
	if err != nil {
		return t, dbError(err, "read team")
	}
	return t, r.teamMembers(ctx, &t)
}

// AgentLoad counts the agent's unresolved conversations; the transaction
// already holds SQLite's only write lock.
func (t *convTx) AgentLoad(ctx context.Context, agentID string) (int, error) {
	var n int
	err := t.run.queryRow(ctx, `SELECT count(*) FROM conversations WHERE assignee_id = ? AND status IN ('open', 'pending')`, agentID).Scan(&n)
	return n, dbError(err, "count load")
}

// Teams lists every team with its members and categories.
func (db *DB) Teams(ctx context.Context) ([]desk.Team, error) {
	r := db.reader
	rows, err := db.read.QueryContext(ctx, `SELECT id, name, routing, capacity, lead_id FROM teams ORDER BY name, id`)
	if err != nil {
		return nil, dbError(err, "list teams")
	}
	var out []desk.Team
	for rows.Next() {
		var t desk.Team
		if err := rows.Scan(&t.ID, &t.Name, &t.Routing, &t.Capacity, &t.LeadID); err != nil {
			rows.Close()
			return nil, dbError(err, "list teams")
		}
		out = append(out, t)
	}
	rows.Close()
	for i := range out {
		if err := r.teamMembers(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SaveTeam creates or replaces a team, its members and its categories (a
// category moves to this team from any other).
func (db *DB) SaveTeam(ctx context.Context, t desk.Team) error {
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		run := tx.(*convTx).run
		steps := []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO teams (id, name, routing, capacity, lead_id) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, routing = excluded.routing, capacity = excluded.capacity, lead_id = excluded.lead_id`,
				[]any{t.ID, t.Name, t.Routing, t.Capacity, t.LeadID}},
			{`DELETE FROM team_members WHERE team_id = ?`, []any{t.ID}},
			{`DELETE FROM category_teams WHERE team_id = ?`, []any{t.ID}},
		}
		for _, m := range t.Members {
			steps = append(steps, struct {
				sql  string
				args []any
			}{`INSERT INTO team_members (team_id, agent_id) VALUES (?, ?)`, []any{t.ID, m}})
		}
		for _, c := range t.Categories {
			steps = append(steps, struct {
				sql  string
				args []any
			}{`INSERT INTO category_teams (category, team_id) VALUES (?, ?) ON CONFLICT (category) DO UPDATE SET team_id = excluded.team_id`, []any{c, t.ID}})
		}
		for _, st := range steps {
			if _, err := run.exec(ctx, st.sql, st.args...); err != nil {
				return dbError(err, "save team")
			}
		}
		return nil
	})
}

// DeleteTeam removes a team; its categories route nowhere again.
func (db *DB) DeleteTeam(ctx context.Context, id string) error {
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		run := tx.(*convTx).run
		for _, q := range []string{`DELETE FROM team_members WHERE team_id = ?`, `DELETE FROM category_teams WHERE team_id = ?`, `DELETE FROM teams WHERE id = ?`} {
			if _, err := run.exec(ctx, q, id); err != nil {
				return dbError(err, "delete team")
			}
		}
		return nil
	})
}
