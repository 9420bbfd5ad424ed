package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/sla"
)

// What every message reads and may write of the clocks and facts:
// prepared (hotWrites).
const (
	qSLAClocks    = `SELECT kind, clock, due_at FROM sla_clocks WHERE conversation_id = ?`
	qSaveSLAClock = `INSERT INTO sla_clocks (conversation_id, kind, clock, due_at, state, breached) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (conversation_id, kind) DO UPDATE SET clock = excluded.clock, due_at = excluded.due_at, state = excluded.state, breached = excluded.breached`
	qFirstResponse = `INSERT INTO conversation_facts (conversation_id, first_response_at, first_responder) VALUES (?, ?, ?)
		ON CONFLICT (conversation_id) DO NOTHING`
)

// SLAClocks returns a conversation's clocks, through the write cache:
// every message asks.
func (t *convTx) SLAClocks(ctx context.Context, conversationID string) ([]desk.SLAClock, error) {
	if cs, ok := t.cache.slaClocks(conversationID); ok {
		return cs, nil
	}
	cs, err := t.readSLAClocks(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	t.cache.putClocks(conversationID, cs)
	t.touched = append(t.touched, conversationID)
	return cs, nil
}

func (t *convTx) readSLAClocks(ctx context.Context, conversationID string) ([]desk.SLAClock, error) {
	rows, err := t.run.query(ctx, qSLAClocks, conversationID)
	if err != nil {
		return nil, dbError(err, "read sla clocks")
	}
	defer rows.Close()
	var out []desk.SLAClock
	for rows.Next() {
		var c desk.SLAClock
		var data string
		var due sql.NullInt64
		if err := rows.Scan(&c.Kind, &data, &due); err != nil {
			return nil, dbError(err, "read sla clocks")
		}
		c.Data, c.DueAt = []byte(data), fromNullMillis(due)
		out = append(out, c)
	}
	return out, dbError(rows.Err(), "read sla clocks")
}

// SaveSLAClock creates or replaces one clock.
func (t *convTx) SaveSLAClock(ctx context.Context, conversationID string, c desk.SLAClock) error {
	_, err := t.run.exec(ctx, qSaveSLAClock,
		conversationID, c.Kind, string(c.Data), nullMillis(c.DueAt), c.State, c.Breached)
	if err != nil {
		t.cache.forget(conversationID) // what the failed statement left is unknown
		return dbError(err, "save sla clock")
	}
	t.cache.savedClock(conversationID, c)
	t.touched = append(t.touched, conversationID)
	return nil
}

// RecordFirstResponse keeps the conversation's first answer.
func (t *convTx) RecordFirstResponse(ctx context.Context, conversationID string, at time.Time, agentID string) error {
	_, err := t.run.exec(ctx, qFirstResponse, conversationID, millis(at), agentID)
	return dbError(err, "record first response")
}

// DueSLAConversations lists conversations with a clock due by now.
func (db *DB) DueSLAConversations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT conversation_id FROM sla_clocks WHERE due_at IS NOT NULL AND due_at <= ? LIMIT ?`, millis(now), limit)
	if err != nil {
		return nil, dbError(err, "list due sla clocks")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, dbError(err, "list due sla clocks")
		}
		out = append(out, id)
	}
	return out, dbError(rows.Err(), "list due sla clocks")
}

// SLAClocksOf returns the clocks of several conversations, by conversation.
func (db *DB) SLAClocksOf(ctx context.Context, ids []string) (map[string][]desk.SLAClock, error) {
	out := map[string][]desk.SLAClock{}
	for _, id := range ids {
		rows, err := db.read.QueryContext(ctx, `SELECT kind, clock FROM sla_clocks WHERE conversation_id = ?`, id)
		if err != nil {
			return nil, dbError(err, "read sla clocks")
		}
		for rows.Next() {
			var c desk.SLAClock
			var data string
			if err := rows.Scan(&c.Kind, &data); err != nil {
				rows.Close()
				return nil, dbError(err, "read sla clocks")
			}
			c.Data = []byte(data)
			out[id] = append(out[id], c)
		}
		rows.Close()
	}
	return out, nil
}

const slaPolicyColumns = `id, name, priority, category, team_id, first_response_secs, next_response_secs, resolution_secs, business_hours, warn_share, escalations`

// SLAPolicies lists the policies.
func (db *DB) SLAPolicies(ctx context.Context) ([]sla.Policy, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+slaPolicyColumns+` FROM sla_policies ORDER BY priority, name, id`)
	if err != nil {
		return nil, dbError(err, "list sla policies")
	}
	defer rows.Close()
	var out []sla.Policy
	for rows.Next() {
		var p sla.Policy
		var fr, nr, res int64
		var esc string
		if err := rows.Scan(&p.ID, &p.Name, &p.Priority, &p.Category, &p.TeamID, &fr, &nr, &res, &p.BusinessHours, &p.WarnShare, &esc); err != nil {
			return nil, dbError(err, "list sla policies")
		}
		p.FirstResponse, p.NextResponse, p.Resolution = time.Duration(fr)*time.Second, time.Duration(nr)*time.Second, time.Duration(res)*time.Second
		if err := json.Unmarshal([]byte(esc), &p.Escalations); err != nil {
			return nil, dbError(err, "list sla policies")
		}
		out = append(out, p)
	}
	return out, dbError(rows.Err(), "list sla policies")
}

// SaveSLAPolicy creates or replaces a policy.
func (db *DB) SaveSLAPolicy(ctx context.Context, p sla.Policy) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO sla_policies (`+slaPolicyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, priority = excluded.priority, category = excluded.category, team_id = excluded.team_id,
			first_response_secs = excluded.first_response_secs, next_response_secs = excluded.next_response_secs, resolution_secs = excluded.resolution_secs,
			business_hours = excluded.business_hours, warn_share = excluded.warn_share, escalations = excluded.escalations`,
		p.ID, p.Name, p.Priority, p.Category, p.TeamID, int64(p.FirstResponse/time.Second), int64(p.NextResponse/time.Second), int64(p.Resolution/time.Second), p.BusinessHours, p.WarnShare, escalationsJSON(p))
	return dbError(err, "save sla policy")
}

// DeleteSLAPolicy removes a policy; clocks it started run on.
func (db *DB) DeleteSLAPolicy(ctx context.Context, id string) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM sla_policies WHERE id = ?`, id)
	return dbError(err, "delete sla policy")
}

func escalationsJSON(p sla.Policy) string {
	if len(p.Escalations) == 0 {
		return "[]"
	}
	raw, _ := json.Marshal(p.Escalations) // plain values: cannot fail
	return string(raw)
}
