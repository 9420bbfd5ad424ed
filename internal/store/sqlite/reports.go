package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/reports"
)

var _ reports.Store = (*DB)(nil)

// reportWhere is the filter's conditions on the conversation c.
func reportWhere(f reports.Filter) (string, []any) {
	var conds []string
	var args []any
	for _, x := range []struct{ col, v string }{{"c.team_id", f.TeamID}, {"c.assignee_id", f.AgentID}, {"c.category", f.Category}, {"c.priority", f.Priority}} {
		if x.v != "" {
			conds = append(conds, x.col+" = ?")
			args = append(args, x.v)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " AND " + strings.Join(conds, " AND "), args
}

// notFromPending leaves out the reopening of a pending conversation by
// the employee's answer, which is no reopening of a resolved one.
const notFromPending = `(e.type <> 'conversation.reopened' OR instr(e.data, '"from":"pending"') = 0)`

// ReportEvents returns the lifecycle events in the period.
func (db *DB) ReportEvents(ctx context.Context, f reports.Filter) ([]reports.Event, error) {
	where, args := reportWhere(f)
	rows, err := db.read.QueryContext(ctx, `SELECT e.conversation_id, e.type, e.actor_id, e.created_at FROM events e`+joinIf(where)+`
		WHERE e.type IN ('conversation.created', 'conversation.resolved', 'conversation.reopened', 'conversation.withdrawn')
			AND e.created_at >= ? AND e.created_at < ? AND `+notFromPending+where,
		append([]any{millis(f.From), millis(f.To)}, args...)...)
	if err != nil {
		return nil, dbError(err, "report events")
	}
	defer rows.Close()
	var out []reports.Event
	for rows.Next() {
		var e reports.Event
		var at int64
		if err := rows.Scan(&e.ConversationID, &e.Type, &e.ActorID, &at); err != nil {
			return nil, dbError(err, "report events")
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	return out, dbError(rows.Err(), "report events")
}

// ReportBacklog counts the conversations open at From: created before it,
// less those resolved or withdrawn before it, plus those reopened.
func (db *DB) ReportBacklog(ctx context.Context, f reports.Filter) (int, error) {
	where, args := reportWhere(f)
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(CASE e.type WHEN 'conversation.created' THEN 1 WHEN 'conversation.reopened' THEN 1 ELSE -1 END), 0)
		FROM events e`+joinIf(where)+`
		WHERE e.type IN ('conversation.created', 'conversation.resolved', 'conversation.reopened', 'conversation.withdrawn')
			AND e.created_at < ? AND `+notFromPending+where, append([]any{millis(f.From)}, args...)...).Scan(&n)
	return n, dbError(err, "report backlog")
}

// ReportConversations returns those created in the period and those
// whose last resolution is in it, with their first answer.
func (db *DB) ReportConversations(ctx context.Context, f reports.Filter) ([]reports.Conversation, error) {
	where, args := reportWhere(f)
	from, to := millis(f.From), millis(f.To)
	rows, err := db.read.QueryContext(ctx, `SELECT c.id, c.created_at, c.status, c.resolved_at, x.first_response_at, coalesce(x.first_responder, '')
		FROM conversations c LEFT JOIN conversation_facts x ON x.conversation_id = c.id
		WHERE ((c.created_at >= ? AND c.created_at < ?) OR (c.resolved_at >= ? AND c.resolved_at < ?))`+where,
		append([]any{from, to, from, to}, args...)...)
	if err != nil {
		return nil, dbError(err, "report conversations")
	}
	defer rows.Close()
	var out []reports.Conversation
	for rows.Next() {
		var c reports.Conversation
		var created int64
		var resolved, first sql.NullInt64
		var status string
		if err := rows.Scan(&c.ID, &created, &status, &resolved, &first, &c.FirstResponder); err != nil {
			return nil, dbError(err, "report conversations")
		}
		c.CreatedAt, c.Status, c.ResolvedAt, c.FirstResponseAt = fromMillis(created), desk.Status(status), fromNullMillis(resolved), fromNullMillis(first)
		out = append(out, c)
	}
	return out, dbError(rows.Err(), "report conversations")
}

// ReportRatings returns the ratings given in the period.
func (db *DB) ReportRatings(ctx context.Context, f reports.Filter) ([]reports.Rating, error) {
	where, args := reportWhere(f)
	rows, err := db.read.QueryContext(ctx, `SELECT r.conversation_id, r.agent_id, r.score, r.comment, r.created_at
		FROM ratings r JOIN conversations c ON c.id = r.conversation_id
		WHERE r.created_at >= ? AND r.created_at < ?`+where, append([]any{millis(f.From), millis(f.To)}, args...)...)
	if err != nil {
		return nil, dbError(err, "report ratings")
	}
	defer rows.Close()
	var out []reports.Rating
	for rows.Next() {
		var x reports.Rating
		var at int64
		if err := rows.Scan(&x.ConversationID, &x.AgentID, &x.Score, &x.Comment, &at); err != nil {
			return nil, dbError(err, "report ratings")
		}
		x.At = fromMillis(at)
		out = append(out, x)
	}
	return out, dbError(rows.Err(), "report ratings")
}

// ReportClocks returns the clocks of the conversations created in the
// period.
func (db *DB) ReportClocks(ctx context.Context, f reports.Filter) ([]reports.Clock, error) {
	where, args := reportWhere(f)
	rows, err := db.read.QueryContext(ctx, `SELECT k.conversation_id, k.kind, k.state, k.breached
		FROM sla_clocks k JOIN conversations c ON c.id = k.conversation_id
		WHERE c.created_at >= ? AND c.created_at < ?`+where, append([]any{millis(f.From), millis(f.To)}, args...)...)
	if err != nil {
		return nil, dbError(err, "report clocks")
	}
	defer rows.Close()
	var out []reports.Clock
	for rows.Next() {
		var k reports.Clock
		if err := rows.Scan(&k.ConversationID, &k.Kind, &k.State, &k.Breached); err != nil {
			return nil, dbError(err, "report clocks")
		}
		out = append(out, k)
	}
	return out, dbError(rows.Err(), "report clocks")
}

// joinIf joins the conversation only when the filter looks at it: a
// year's lifecycle events are then read from their index alone.
func joinIf(where string) string {
	if where == "" {
		return ""
	}
	return " JOIN conversations c ON c.id = e.conversation_id"
}
