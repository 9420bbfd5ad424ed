package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/sla"
)

const sqlSLAClocks = `SELECT kind, clock, due_at FROM sla_clocks WHERE conversation_id = $1`

// SLAClocks returns a conversation's clocks; once after
// ConversationForUpdate, from what it read.
func (x *tx) SLAClocks(ctx context.Context, conversationID string) ([]desk.SLAClock, error) {
	if clocks, ok := x.clocks[conversationID]; ok {
		delete(x.clocks, conversationID)
		return clocks, nil
	}
	rows, err := x.t.Query(ctx, sqlSLAClocks, conversationID)
	if err != nil {
		return nil, dbError(err, "read sla clocks")
	}
	out, err := scanSLAClocks(rows)
	return out, dbError(err, "read sla clocks")
}

// scanSLAClocks reads sqlSLAClocks' rows and closes them.
func scanSLAClocks(rows pgx.Rows) ([]desk.SLAClock, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk.SLAClock, error) {
		var c desk.SLAClock
		var data string
		err := r.Scan(&c.Kind, &data, &c.DueAt)
		c.Data = []byte(data)
		return c, err
	})
}

// SaveSLAClock creates or replaces one clock; for a conversation this
// transaction locked, without waiting.
func (x *tx) SaveSLAClock(ctx context.Context, conversationID string, c desk.SLAClock) error {
	delete(x.clocks, conversationID)
	x.unread(conversationID)
	x.wrote(conversationID, false)
	delete(x.held, conversationID)
	breached := 0
	if c.Breached {
		breached = 1
	}
	sql := `INSERT INTO sla_clocks (conversation_id, kind, clock, due_at, state, breached) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (conversation_id, kind) DO UPDATE SET clock = excluded.clock, due_at = excluded.due_at, state = excluded.state, breached = excluded.breached`
	args := []any{conversationID, c.Kind, string(c.Data), dbTimePtr(c.DueAt), c.State, breached}
	if x.locked[conversationID] != nil && plain(conversationID, c.Kind, string(c.Data), c.State) {
		x.t.enqueue(queued{sql: sql, args: args, doing: "save sla clock"})
		return nil
	}
	_, err := x.t.Exec(ctx, sql, args...)
	return dbError(err, "save sla clock")
}

// RecordFirstResponse keeps the conversation's first answer; for a
// conversation this transaction locked, without waiting.
func (x *tx) RecordFirstResponse(ctx context.Context, conversationID string, at time.Time, agentID string) error {
	sql := `INSERT INTO conversation_facts (conversation_id, first_response_at, first_responder) VALUES ($1, $2, $3)
		ON CONFLICT (conversation_id) DO NOTHING`
	args := []any{conversationID, dbTime(at), agentID}
	if x.locked[conversationID] != nil && plain(conversationID, agentID) {
		x.t.enqueue(queued{sql: sql, args: args, doing: "record first response"})
		return nil
	}
	_, err := x.t.Exec(ctx, sql, args...)
	return dbError(err, "record first response")
}

// DueSLAConversations lists conversations with a clock due by now.
func (db *DB) DueSLAConversations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT conversation_id FROM sla_clocks WHERE due_at IS NOT NULL AND due_at <= $1 LIMIT $2`, dbTime(now), limit)
	if err != nil {
		return nil, dbError(err, "list due sla clocks")
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, dbError(err, "list due sla clocks")
}

// SLAClocksOf returns the clocks of several conversations, by conversation.
func (db *DB) SLAClocksOf(ctx context.Context, ids []string) (map[string][]desk.SLAClock, error) {
	out := map[string][]desk.SLAClock{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT conversation_id, kind, clock FROM sla_clocks WHERE conversation_id = ANY($1)`, ids)
	if err != nil {
		return nil, dbError(err, "read sla clocks")
	}
	defer rows.Close()
	for rows.Next() {
		var id, data string
		var c desk.SLAClock
		if err := rows.Scan(&id, &c.Kind, &data); err != nil {
			return nil, dbError(err, "read sla clocks")
		}
		c.Data = []byte(data)
		out[id] = append(out[id], c)
	}
	return out, dbError(rows.Err(), "read sla clocks")
}

const slaPolicyColumns = `id, name, priority, category, team_id, first_response_secs, next_response_secs, resolution_secs, business_hours, warn_share, escalations`

// SLAPolicies lists the policies.
func (db *DB) SLAPolicies(ctx context.Context) ([]sla.Policy, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+slaPolicyColumns+` FROM sla_policies ORDER BY priority, name, id`)
	if err != nil {
		return nil, dbError(err, "list sla policies")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sla.Policy, error) {
		var p sla.Policy
		var fr, nr, res int64
		var esc string
		err := r.Scan(&p.ID, &p.Name, &p.Priority, &p.Category, &p.TeamID, &fr, &nr, &res, &p.BusinessHours, &p.WarnShare, &esc)
		p.FirstResponse, p.NextResponse, p.Resolution = time.Duration(fr)*time.Second, time.Duration(nr)*time.Second, time.Duration(res)*time.Second
		if err == nil {
			err = json.Unmarshal([]byte(esc), &p.Escalations)
		}
		return p, err
	})
	return out, dbError(err, "list sla policies")
}

// SaveSLAPolicy creates or replaces a policy.
func (db *DB) SaveSLAPolicy(ctx context.Context, p sla.Policy) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO sla_policies (`+slaPolicyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, priority = excluded.priority, category = excluded.category, team_id = excluded.team_id,
			first_response_secs = excluded.first_response_secs, next_response_secs = excluded.next_response_secs, resolution_secs = excluded.resolution_secs,
			business_hours = excluded.business_hours, warn_share = excluded.warn_share, escalations = excluded.escalations`,
		p.ID, p.Name, p.Priority, p.Category, p.TeamID, int64(p.FirstResponse/time.Second), int64(p.NextResponse/time.Second), int64(p.Resolution/time.Second), p.BusinessHours, p.WarnShare, escalationsJSON(p))
	return dbError(err, "save sla policy")
}

// DeleteSLAPolicy removes a policy; clocks it started run on.
func (db *DB) DeleteSLAPolicy(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sla_policies WHERE id = $1`, id)
	return dbError(err, "delete sla policy")
}

func escalationsJSON(p sla.Policy) string {
	if len(p.Escalations) == 0 {
		return "[]"
	}
	raw, _ := json.Marshal(p.Escalations) // plain values: cannot fail
	return string(raw)
}
