package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// ListConversations returns conversations matching q with the viewer's
// unread count (messages after their last-read seq, not their own) and the
// last message. The queue (Statuses exactly [queued]) is ordered by queued
// time, oldest first; every other list by update time, newest first; ties
// go by id, byte by byte (the column is "C"-collated).
func (r reader) ListConversations(ctx context.Context, q desk.ConversationQuery) ([]desk.ConversationSummary, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	viewerRole, viewerID, message := arg(q.Viewer.Role), arg(q.Viewer.ID), arg(desk.EventMessage)

	var where []string
	switch len(q.Statuses) {
	case 0:
	case 1:
		// Equality, not ANY: only then can a prepared statement's generic
		// plan walk the (status, time, id) index in list order.
		where = append(where, "c.status = "+arg(q.Statuses[0]))
	default:
		where = append(where, "c.status = ANY("+arg(q.Statuses)+"::text[])")
	}
	if q.EmployeeID != "" {
		where = append(where, "c.employee_id = "+arg(q.EmployeeID))
	}
	if q.ParticipantAgentID != "" {
		where = append(where, `EXISTS (SELECT 1 FROM participants a
			WHERE a.conversation_id = c.id AND a.role = 'agent' AND a.user_id = `+arg(q.ParticipantAgentID)+`
			AND a.active)`)
	}
	if q.FormerAgentID != "" {
		where = append(where, `EXISTS (SELECT 1 FROM participants a
			WHERE a.conversation_id = c.id AND a.role = 'agent' AND a.user_id = `+arg(q.FormerAgentID)+`
			AND NOT a.active)`)
	}
	order, after := "updated_at DESC, id DESC", "(updated_at, id) <"
	if len(q.Statuses) == 1 && q.Statuses[0] == desk.StatusQueued {
		order, after = "queued_at, id", "(queued_at, id) >"
	}
	if !q.AfterTime.IsZero() {
		where = append(where, after+" ("+arg(dbTime(q.AfterTime))+", "+arg(q.AfterID)+")")
	}
	// The page is picked first and only its rows get the extras (name,
	// unread count, last message): one short index walk per row returned,
	// never per row matched. PostgreSQL never merges a subquery with a LIMIT
	// into the outer query, so the page stays a page.
	sql := `WITH page AS (SELECT ` + convColumns + ` FROM conversations c`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY " + order
	if q.Limit > 0 {
		// A literal, not a parameter: with LIMIT $n the generic plan of the
		// prepared statement guesses the page size, and for an agent's list
		// guesses a walk of every conversation by time over the few rows
		// the agent's index would give at once.
		sql += " LIMIT " + strconv.Itoa(q.Limit)
	}
	sql += `)
		SELECT ` + prefixed("page.", convColumns) + `, COALESCE(emp.name, ''),
			(SELECT count(*) FROM events ev
			 WHERE ev.conversation_id = page.id AND ev.type = ` + message + `
			   AND ev.seq > COALESCE((SELECT p.last_read_seq FROM participants p
			                          WHERE p.conversation_id = page.id
			                            AND p.role = ` + viewerRole + ` AND p.user_id = ` + viewerID + `), 0)
			   AND NOT (ev.actor_role = ` + viewerRole + ` AND ev.actor_id = ` + viewerID + `)),
			(SELECT ev.data FROM events ev
			 WHERE ev.conversation_id = page.id AND ev.type = ` + message + ` AND NOT ev.private
			 ORDER BY ev.seq DESC LIMIT 1)
		FROM page LEFT JOIN employees emp ON emp.id = page.employee_id
		ORDER BY ` + prefixed("page.", order)

	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, dbError(err, "list conversations")
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (desk.ConversationSummary, error) {
		var s desk.ConversationSummary
		var last []byte
		c, err := scanConversation(row, &s.EmployeeName, &s.Unread, &last)
		if err != nil {
			return s, err
		}
		s.Conversation = c
		s.LastMessage, err = lastMessage(last)
		return s, err
	})
	if err != nil {
		return nil, dbError(err, "list conversations")
	}
	return list, nil
}

// prefixed qualifies each of a comma-separated list of columns (which may
// carry a sort direction).
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
