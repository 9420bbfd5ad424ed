package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var (
	_ desk.ConversationStore = (*DB)(nil)
	_ desk.ConversationTx    = (*tx)(nil)
)

// querier is what reads need: the pool outside a transaction, the
// transaction inside one.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// reader implements desk.ConversationReader for DB and tx alike.
type reader struct{ q querier }

const convColumns = `id, employee_id, subject, category, status, assignee_id, seq,
	created_at, updated_at, queued_at, resolved_at, client_msg_id, public_seq, broadcast_seq, ref, priority, kind, tags, team_id`

// Conversation returns one conversation.
func (r reader) Conversation(ctx context.Context, id string) (desk.Conversation, error) {
	return r.conversation(ctx, `SELECT `+convColumns+` FROM conversations WHERE id = $1`, id)
}

// ConversationByClientMsgID returns the conversation an employee's first
// message with that client id created.
func (r reader) ConversationByClientMsgID(ctx context.Context, employeeID, clientMsgID string) (desk.Conversation, error) {
	// The literal client_msg_id <> '' lets a prepared (generic) plan use
	// the partial unique index, and keeps "" (no client id) from matching.
	return r.conversation(ctx, `SELECT `+convColumns+` FROM conversations
		WHERE employee_id = $1 AND client_msg_id = $2 AND client_msg_id <> ''`, employeeID, clientMsgID)
}

func (r reader) conversation(ctx context.Context, sql string, args ...any) (desk.Conversation, error) {
	c, err := scanConversation(r.q.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return desk.Conversation{}, desk.Errorf(desk.ENotFound, "conversation not found")
	}
	if err != nil {
		return desk.Conversation{}, dbError(err, "read conversation")
	}
	return c, nil
}

// scanConversation reads convColumns, in order, from row.
func scanConversation(row pgx.Row, extra ...any) (desk.Conversation, error) {
	var c desk.Conversation
	var tags string
	dest := append([]any{&c.ID, &c.EmployeeID, &c.Subject, &c.Category, &c.Status, &c.AssigneeID, &c.Seq,
		&c.CreatedAt, &c.UpdatedAt, &c.QueuedAt, &c.ResolvedAt, &c.ClientMsgID, &c.PublicSeq, &c.BroadcastSeq,
		&c.Ref, &c.Priority, &c.Type, &tags, &c.TeamID}, extra...)
	if err := row.Scan(dest...); err != nil {
		return desk.Conversation{}, err
	}
	c.Tags = decodeTags(tags)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	c.QueuedAt, c.ResolvedAt = utcPtr(c.QueuedAt), utcPtr(c.ResolvedAt)
	return c, nil
}

// sqlParticipants reads a conversation's participants, oldest first, named
// from agents and employees where known. The names are looked up by key
// for each participant rather than joined: with the tables' statistics
// not yet gathered (a new desk, a busy first minute) the planner chose to
// hash the whole employees table for every message.
const sqlParticipants = `
	SELECT p.role, p.user_id,
		COALESCE((SELECT a.name FROM agents a WHERE p.role = 'agent' AND a.id = p.user_id),
			(SELECT e.name FROM employees e WHERE p.role = 'employee' AND e.id = p.user_id), ''),
		p.active, p.last_read_seq, p.joined_at
	FROM participants p
	WHERE p.conversation_id = $1
	ORDER BY p.joined_at, p.role, p.user_id COLLATE "C"`

// Participants returns a conversation's participants, oldest first, named
// from agents and employees where known.
func (r reader) Participants(ctx context.Context, conversationID string) ([]desk.Participant, error) {
	rows, err := r.q.Query(ctx, sqlParticipants, conversationID)
	if err != nil {
		return nil, dbError(err, "read participants")
	}
	parts, err := scanParticipants(rows)
	if err != nil {
		return nil, dbError(err, "read participants")
	}
	return parts, nil
}

// scanParticipants reads sqlParticipants' rows and closes them.
func scanParticipants(rows pgx.Rows) ([]desk.Participant, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (desk.Participant, error) {
		var p desk.Participant
		err := row.Scan(&p.Role, &p.ID, &p.Name, &p.Active, &p.LastReadSeq, &p.JoinedAt)
		p.JoinedAt = p.JoinedAt.UTC()
		return p, err
	})
}

const eventColumns = `conversation_id, seq, type, data, actor_role, actor_id, private, client_msg_id, created_at`

func scanEvent(row pgx.CollectableRow) (desk.ConvEvent, error) {
	var ev desk.ConvEvent
	// Scanned as []byte, which pgx copies verbatim; json.RawMessage would
	// go through json.Unmarshal.
	err := row.Scan(&ev.ConversationID, &ev.Seq, &ev.Type, (*[]byte)(&ev.Data),
		&ev.Actor.Role, &ev.Actor.ID, &ev.Private, &ev.ClientMsgID, &ev.CreatedAt)
	ev.CreatedAt = ev.CreatedAt.UTC()
	return ev, err
}

// EventByClientMsgID returns the event actor stored with clientMsgID.
func (r reader) EventByClientMsgID(ctx context.Context, conversationID string, actor desk.Principal, clientMsgID string) (desk.ConvEvent, error) {
	// client_msg_id <> '' as in ConversationByClientMsgID.
	rows, err := r.q.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE conversation_id = $1 AND actor_role = $2 AND actor_id = $3
		  AND client_msg_id = $4 AND client_msg_id <> ''`,
		conversationID, actor.Role, actor.ID, clientMsgID)
	if err != nil {
		return desk.ConvEvent{}, dbError(err, "read event")
	}
	ev, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return desk.ConvEvent{}, desk.Errorf(desk.ENotFound, "event not found")
	}
	if err != nil {
		return desk.ConvEvent{}, dbError(err, "read event")
	}
	return ev, nil
}

// Events returns up to limit events after afterSeq, in seq order; a limit
// of 0 or less means no limit.
func (r reader) Events(ctx context.Context, conversationID string, afterSeq int64, limit int, includePrivate bool) ([]desk.ConvEvent, error) {
	rows, err := r.q.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE conversation_id = $1 AND seq > $2 AND ($3 OR NOT private)
		ORDER BY seq LIMIT $4`,
		conversationID, afterSeq, includePrivate, limitOrAll(limit))
	if err != nil {
		return nil, dbError(err, "read events")
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, dbError(err, "read events")
	}
	return evs, nil
}

// Queue returns every queued conversation, oldest queued first.
func (r reader) Queue(ctx context.Context) ([]desk.Conversation, error) {
	rows, err := r.q.Query(ctx, `SELECT `+convColumns+` FROM conversations
		WHERE status = 'queued' ORDER BY queued_at, id`)
	if err != nil {
		return nil, dbError(err, "read queue")
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (desk.Conversation, error) {
		return scanConversation(row)
	})
	if err != nil {
		return nil, dbError(err, "read queue")
	}
	return cs, nil
}

// Employee returns one employee.
func (r reader) Employee(ctx context.Context, id string) (desk.Employee, error) {
	var e desk.Employee
	err := r.q.QueryRow(ctx, `SELECT id, name, department, position, updated_at FROM employees WHERE id = $1`, id).
		Scan(&e.ID, &e.Name, &e.Department, &e.Position, &e.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return desk.Employee{}, desk.Errorf(desk.ENotFound, "employee not found")
	}
	if err != nil {
		return desk.Employee{}, dbError(err, "read employee")
	}
	e.UpdatedAt = e.UpdatedAt.UTC()
	return e, nil
}

// lastMessage decodes a message event's data; nil data is no message.
func lastMessage(data []byte) (*desk.Message, error) {
	if data == nil {
		return nil, nil
	}
	var m desk.Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// limitOrAll turns a non-positive limit into SQL's LIMIT NULL (no limit).
func limitOrAll(limit int) *int {
	if limit <= 0 {
		return nil
	}
	return &limit
}

// dbTime is how a time is stored: UTC, truncated to the millisecond the
// contract promises, so that what is read back equals what was written.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func dbTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := dbTime(*t)
	return &v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// QueueRank counts the queued conversations ahead of (queuedAt, id), and
// all of them, on the (status, queued_at, id) index.
func (r reader) QueueRank(ctx context.Context, queuedAt time.Time, id string) (before, length int, err error) {
	err = r.q.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM conversations WHERE status = 'queued' AND (queued_at, id) < ($1, $2)),
		(SELECT count(*) FROM conversations WHERE status = 'queued')`,
		dbTime(queuedAt), id).Scan(&before, &length)
	return before, length, dbError(err, "rank in queue")
}

// Tags are kept as a JSON array of strings.
func encodeTags(tags []string) string {
	if len(tags) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(tags)
	return string(b)
}

func decodeTags(s string) []string {
	tags := []string{}
	json.Unmarshal([]byte(s), &tags)
	return tags
}

// RecentTags reads the tags of the newest tagged conversations (ids sort
// by creation, so the primary key walks them newest first).
func (db *DB) RecentTags(ctx context.Context, limit int) ([][]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT tags FROM conversations WHERE tags <> '[]' ORDER BY id COLLATE "C" DESC LIMIT $1`, limit)
	if err != nil {
		return nil, dbError(err, "read tags")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]string, error) {
		var s string
		err := r.Scan(&s)
		return decodeTags(s), err
	})
	return out, dbError(err, "read tags")
}
