package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/reports"
)

var _ reports.Store = (*DB)(nil)

// reportWhere is the filter's conditions on the conversation c, its
// parameters numbered after the n already used.
func reportWhere(f reports.Filter, n int) (string, []any) {
	var conds []string
	var args []any
	for _, x := range []struct{ col, v string }{{"c.team_id", f.TeamID}, {"c.assignee_id", f.AgentID}, {"c.category", f.Category}, {"c.priority", f.Priority}} {
		if x.v != "" {
			args = append(args, x.v)
			conds = append(conds, fmt.Sprintf("%s = $%d", x.col, n+len(args)))
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " AND " + strings.Join(conds, " AND "), args
}

// notFromPending leaves out the reopening of a pending conversation by
// the employee's answer, which is no reopening of a resolved one.
const notFromPending = `(e.type <> 'conversation.reopened' OR (e.data->>'from') IS DISTINCT FROM 'pending')`

const lifecycleTypes = `e.type IN ('conversation.created', 'conversation.resolved', 'conversation.reopened', 'conversation.withdrawn')`

// ReportEvents returns the lifecycle events in the period.
func (db *DB) ReportEvents(ctx context.Context, f reports.Filter) ([]reports.Event, error) {
	where, args := reportWhere(f, 2)
	rows, err := db.pool.Query(ctx, `SELECT e.conversation_id, e.type, e.actor_id, e.created_at FROM events e`+joinIf(where)+`
		WHERE `+lifecycleTypes+` AND e.created_at >= $1 AND e.created_at < $2 AND `+notFromPending+where,
		append([]any{dbTime(f.From), dbTime(f.To)}, args...)...)
	if err != nil {
		return nil, dbError(err, "report events")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reports.Event, error) {
		var e reports.Event
		err := r.Scan(&e.ConversationID, &e.Type, &e.ActorID, &e.At)
		return e, err
	})
	return out, dbError(err, "report events")
}

// ReportBacklog counts the conversations open at From: created before it,
// less those resolved or withdrawn before it, plus those reopened.
func (db *DB) ReportBacklog(ctx context.Context, f reports.Filter) (int, error) {
	where, args := reportWhere(f, 1)
	var n int
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(CASE e.type WHEN 'conversation.created' THEN 1 WHEN 'conversation.reopened' THEN 1 ELSE -1 END), 0)
		FROM events e`+joinIf(where)+`
		WHERE `+lifecycleTypes+` AND e.created_at < $1 AND `+notFromPending+where, append([]any{dbTime(f.From)}, args...)...).Scan(&n)
	return n, dbError(err, "report backlog")
}

// ReportConversations returns those created in the period and those
// whose last resolution is in it, with their first answer.
func (db *DB) ReportConversations(ctx context.Context, f reports.Filter) ([]reports.Conversation, error) {
	where, args := reportWhere(f, 2)
	rows, err := db.pool.Query(ctx, `SELECT c.id, c.created_at, c.status, c.resolved_at, x.first_response_at, coalesce(x.first_responder, '')
		FROM conversations c LEFT JOIN conversation_facts x ON x.conversation_id = c.id
		WHERE ((c.created_at >= $1 AND c.created_at < $2) OR (c.resolved_at >= $1 AND c.resolved_at < $2))`+where,
		append([]any{dbTime(f.From), dbTime(f.To)}, args...)...)
	if err != nil {
		return nil, dbError(err, "report conversations")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reports.Conversation, error) {
		var c reports.Conversation
		var status string
		err := r.Scan(&c.ID, &c.CreatedAt, &status, &c.ResolvedAt, &c.FirstResponseAt, &c.FirstResponder)
		c.Status = desk.Status(status)
		return c, err
	})
	return out, dbError(err, "report conversations")
}

// ReportRatings returns the ratings given in the period.
func (db *DB) ReportRatings(ctx context.Context, f reports.Filter) ([]reports.Rating, error) {
	where, args := reportWhere(f, 2)
	rows, err := db.pool.Query(ctx, `SELECT r.conversation_id, r.agent_id, r.score, r.comment, r.created_at
		FROM ratings r JOIN conversations c ON c.id = r.conversation_id
		WHERE r.created_at >= $1 AND r.created_at < $2`+where, append([]any{f.From.UnixMilli(), f.To.UnixMilli()}, args...)...)
	if err != nil {
		return nil, dbError(err, "report ratings")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reports.Rating, error) {
		var x reports.Rating
		var at int64
		err := r.Scan(&x.ConversationID, &x.AgentID, &x.Score, &x.Comment, &at)
		x.At = time.UnixMilli(at).UTC()
		return x, err
	})
	return out, dbError(err, "report ratings")
}

// ReportClocks returns the clocks of the conversations created in the
// period.
func (db *DB) ReportClocks(ctx context.Context, f reports.Filter) ([]reports.Clock, error) {
	where, args := reportWhere(f, 2)
	rows, err := db.pool.Query(ctx, `SELECT k.conversation_id, k.kind, k.state, k.breached <> 0
		FROM sla_clocks k JOIN conversations c ON c.id = k.conversation_id
		WHERE c.created_at >= $1 AND c.created_at < $2`+where, append([]any{dbTime(f.From), dbTime(f.To)}, args...)...)
	if err != nil {
		return nil, dbError(err, "report clocks")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reports.Clock, error) {
		var k reports.Clock
		err := r.Scan(&k.ConversationID, &k.Kind, &k.State, &k.Breached)
		return k, err
	})
	return out, dbError(err, "report clocks")
}

// joinIf joins the conversation only when the filter looks at it: a
// year's lifecycle events are then read from their index alone.
func joinIf(where string) string {
	if where == "" {
		return ""
	}
	return " JOIN conversations c ON c.id = e.conversation_id"
}
