package sqlite

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// listTail computes each listed row's extras: the employee's name, the
// viewer's unread count (others' messages after the viewer's last-read
// seq, 0 if not a participant) and the last public message. They run in
// the outer query over the materialised page, so they cost one short index
// walk per row returned, never per row matched.
const listTail = `
SELECT page.*, COALESCE(emp.name, ''),
	(SELECT count(*) FROM events ev
	 WHERE ev.conversation_id = page.id
	   AND ev.seq > COALESCE((SELECT p.last_read_seq FROM participants p
	                          WHERE p.conversation_id = page.id AND p.role = ? AND p.user_id = ?), 0)
	   AND ev.type = 'message.created'
	   AND NOT (ev.actor_role = ? AND ev.actor_id = ?)),
	(SELECT ev.data FROM events ev
	 WHERE ev.conversation_id = page.id AND ev.type = 'message.created' AND ev.private = 0
	 ORDER BY ev.seq DESC LIMIT 1)
FROM page LEFT JOIN employees emp ON emp.id = page.employee_id
ORDER BY `

// ListConversations lists in queue order (QueuedAt, then ID, ascending)
// when q.Statuses is exactly [queued], and otherwise most recently updated
// first (UpdatedAt, then ID, descending); the cursor continues strictly
// after (AfterTime, AfterID) in that order when AfterTime is set. A Limit
// of 0 or less means no limit.
func (r reader) ListConversations(ctx context.Context, q desk.ConversationQuery) ([]desk.ConversationSummary, error) {
	query, args := listQuery(q)
	rows, err := r.run.query(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, "list conversations")
	}
	defer rows.Close()
	var list []desk.ConversationSummary
	for rows.Next() {
		var s desk.ConversationSummary
		var last []byte
		s.Conversation, err = scanConv(rows, &s.EmployeeName, &s.Unread, &last)
		if err != nil {
			return nil, dbError(err, "list conversations")
		}
		if last != nil {
			var m desk.Message
			if err := json.Unmarshal(last, &m); err != nil {
				return nil, dbError(err, "decode last message of "+s.ID)
			}
			s.LastMessage = &m
		}
		list = append(list, s)
	}
	return list, dbError(rows.Err(), "list conversations")
}

// listQuery builds ListConversations' statement for q.
func listQuery(q desk.ConversationQuery) (string, []any) {
	queueOrder := len(q.Statuses) == 1 && q.Statuses[0] == desk.StatusQueued
	var where []string
	var args []any
	if len(q.Statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(q.Statuses)-1)+")")
		for _, s := range q.Statuses {
			args = append(args, string(s))
		}
	}
	if q.EmployeeID != "" {
		where = append(where, "employee_id = ?")
		args = append(args, q.EmployeeID)
	}
	if q.ParticipantAgentID != "" {
		// active = 1 literally, so the partial index applies.
		where = append(where, `id IN (SELECT conversation_id FROM participants
			WHERE role = 'agent' AND user_id = ? AND active = 1)`)
		args = append(args, q.ParticipantAgentID)
	}
	if q.FormerAgentID != "" {
		where = append(where, `id IN (SELECT conversation_id FROM participants
			WHERE role = 'agent' AND user_id = ? AND active = 0)`)
		args = append(args, q.FormerAgentID)
	}
	order, outerOrder := "updated_at DESC, id DESC", "page.updated_at DESC, page.id DESC"
	if queueOrder {
		order, outerOrder = "queued_at, id", "page.queued_at, page.id"
	}
	if !q.AfterTime.IsZero() {
		if queueOrder {
			where = append(where, "(queued_at, id) > (?, ?)")
		} else {
			where = append(where, "(updated_at, id) < (?, ?)")
		}
		args = append(args, millis(q.AfterTime), q.AfterID)
	}
	var sb strings.Builder
	// MATERIALIZED keeps SQLite from flattening the page into the outer
	// query, which would run the extras before the limit.
	sb.WriteString("WITH page AS MATERIALIZED (SELECT " + convColumns + " FROM conversations")
	if len(where) > 0 {
		sb.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	sb.WriteString(" ORDER BY " + order + " LIMIT ?)" + listTail + outerOrder)
	args = append(args, sqlLimit(q.Limit),
		string(q.Viewer.Role), q.Viewer.ID, string(q.Viewer.Role), q.Viewer.ID)

	return sb.String(), args
}
