package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// The columns and statements of the conversation store. Queries are
// constants, so the prepared ones are found by their text.
const (
	convColumns  = `id, employee_id, subject, category, status, assignee_id, seq, client_msg_id, created_at, updated_at, queued_at, resolved_at, public_seq, broadcast_seq, ref, priority, kind, tags, team_id`
	eventColumns = `conversation_id, seq, type, actor_role, actor_id, private, client_msg_id, data, created_at`

	qConversation = `SELECT ` + convColumns + ` FROM conversations WHERE id = ?`
	// The literal client_msg_id <> '' lets SQLite use the partial index.
	qConversationByClientMsg = `SELECT ` + convColumns + ` FROM conversations
		WHERE employee_id = ? AND client_msg_id = ? AND client_msg_id <> ''`
	qQueue = `SELECT ` + convColumns + ` FROM conversations
		WHERE status = 'queued' ORDER BY queued_at, id`
	qParticipants = `SELECT p.role, p.user_id, COALESCE(a.name, e.name, ''), p.active, p.last_read_seq, p.joined_at
		FROM participants p
		LEFT JOIN agents a ON p.role = 'agent' AND a.id = p.user_id
		LEFT JOIN employees e ON p.role = 'employee' AND e.id = p.user_id
		WHERE p.conversation_id = ?
		ORDER BY p.joined_at, p.role, p.user_id`
	qEventByClientMsg = `SELECT ` + eventColumns + ` FROM events
		WHERE conversation_id = ? AND actor_role = ? AND actor_id = ? AND client_msg_id = ? AND client_msg_id <> ''`
	qEvents = `SELECT ` + eventColumns + ` FROM events
		WHERE conversation_id = ? AND seq > ? AND (? OR private = 0)
		ORDER BY seq LIMIT ?`
	qEmployee = `SELECT id, name, department, position, updated_at FROM employees WHERE id = ?`

	qInsertConversation = `INSERT INTO conversations (` + convColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdateConversation = `UPDATE conversations
		SET status = ?, assignee_id = ?, seq = ?, updated_at = ?, queued_at = ?, resolved_at = ?,
			public_seq = ?, broadcast_seq = ?, priority = ?, kind = ?, tags = ?
		WHERE id = ?`
	// qUpdateConversationSeqs is qUpdateConversation when only the seqs
	// and updated_at change, as with every message: SQLite rewrites the
	// entries of every index on a column the statement sets, changed or
	// not, and status, queued_at and resolved_at are in two more.
	qUpdateConversationSeqs = `UPDATE conversations
		SET seq = ?, updated_at = ?, public_seq = ?, broadcast_seq = ?
		WHERE id = ?`
	qUpsertParticipant = `INSERT INTO participants (conversation_id, role, user_id, active, last_read_seq, joined_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (conversation_id, role, user_id)
		DO UPDATE SET active = excluded.active, last_read_seq = excluded.last_read_seq`
	qInsertEvent    = `INSERT INTO events (` + eventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpsertEmployee = `INSERT INTO employees (id, name, department, position, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, department = excluded.department,
			position = excluded.position, updated_at = excluded.updated_at`
)

// hotReads and hotWrites are prepared at Open: what a batch of commands
// runs per command, and the reads every client poll makes. The rest is
// rare enough to prepare per call.
var (
	hotReads  = []string{qConversation, qEvents, qEventByClientMsg, qParticipants}
	hotWrites = []string{
		qConversation, qEventByClientMsg, qInsertEvent, qUpdateConversation, qUpdateConversationSeqs, qUpsertParticipant, qParticipants,
		qSearchDocsMax, qInsertSearchDocs, qInsertSearchTerms, qSLAClocks, qSaveSLAClock, qFirstResponse,
		qEmployee,      // a message names its sender
		qWriteCounters, // every transaction checks the write cache
		"SAVEPOINT sp_1", "RELEASE sp_1", "ROLLBACK TO sp_1",
	}
)

// reader is desk.ConversationReader on the read pool or, in Update, on
// the write transaction, so a transaction reads its own writes.
type reader struct {
	run *runner
}

func (r reader) Conversation(ctx context.Context, id string) (desk.Conversation, error) {
	c, err := scanConv(r.run.queryRow(ctx, qConversation, id))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Conversation{}, desk.Errorf(desk.ENotFound, "conversation not found")
	}
	return c, dbError(err, "read conversation")
}

func (r reader) ConversationByClientMsgID(ctx context.Context, employeeID, clientMsgID string) (desk.Conversation, error) {
	c, err := scanConv(r.run.queryRow(ctx, qConversationByClientMsg, employeeID, clientMsgID))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Conversation{}, desk.Errorf(desk.ENotFound, "conversation not found")
	}
	return c, dbError(err, "read conversation by client id")
}

func (r reader) Participants(ctx context.Context, conversationID string) ([]desk.Participant, error) {
	rows, err := r.run.query(ctx, qParticipants, conversationID)
	if err != nil {
		return nil, dbError(err, "read participants")
	}
	defer rows.Close()
	var ps []desk.Participant
	for rows.Next() {
		var p desk.Participant
		var joined int64
		if err := rows.Scan(&p.Role, &p.ID, &p.Name, &p.Active, &p.LastReadSeq, &joined); err != nil {
			return nil, dbError(err, "read participants")
		}
		p.JoinedAt = fromMillis(joined)
		ps = append(ps, p)
	}
	return ps, dbError(rows.Err(), "read participants")
}

func (r reader) EventByClientMsgID(ctx context.Context, conversationID string, actor desk.Principal, clientMsgID string) (desk.ConvEvent, error) {
	ev, err := scanEvent(r.run.queryRow(ctx, qEventByClientMsg,
		conversationID, string(actor.Role), actor.ID, clientMsgID))
	if errors.Is(err, sql.ErrNoRows) {
		return desk.ConvEvent{}, desk.Errorf(desk.ENotFound, "event not found")
	}
	return ev, dbError(err, "read event by client id")
}

// Events with limit <= 0 returns every event after afterSeq.
func (r reader) Events(ctx context.Context, conversationID string, afterSeq int64, limit int, includePrivate bool) ([]desk.ConvEvent, error) {
	rows, err := r.run.query(ctx, qEvents, conversationID, afterSeq, includePrivate, sqlLimit(limit))
	if err != nil {
		return nil, dbError(err, "read events")
	}
	defer rows.Close()
	var evs []desk.ConvEvent
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, dbError(err, "read events")
		}
		evs = append(evs, ev)
	}
	return evs, dbError(rows.Err(), "read events")
}

func (r reader) Queue(ctx context.Context) ([]desk.Conversation, error) {
	rows, err := r.run.query(ctx, qQueue)
	if err != nil {
		return nil, dbError(err, "read queue")
	}
	defer rows.Close()
	var cs []desk.Conversation
	for rows.Next() {
		c, err := scanConv(rows)
		if err != nil {
			return nil, dbError(err, "read queue")
		}
		cs = append(cs, c)
	}
	return cs, dbError(rows.Err(), "read queue")
}

func (r reader) Employee(ctx context.Context, id string) (desk.Employee, error) {
	var e desk.Employee
	var updated int64
	err := r.run.queryRow(ctx, qEmployee, id).Scan(&e.ID, &e.Name, &e.Department, &e.Position, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return desk.Employee{}, desk.Errorf(desk.ENotFound, "employee not found")
	}
	if err != nil {
		return desk.Employee{}, dbError(err, "read employee")
	}
	e.UpdatedAt = fromMillis(updated)
	return e, nil
}

type scanner interface{ Scan(dest ...any) error }

// scanConv reads convColumns, then into extra any columns after them.
func scanConv(s scanner, extra ...any) (desk.Conversation, error) {
	var c desk.Conversation
	var created, updated int64
	var queued, resolved sql.NullInt64
	var tags string
	dest := append([]any{&c.ID, &c.EmployeeID, &c.Subject, &c.Category, &c.Status, &c.AssigneeID,
		&c.Seq, &c.ClientMsgID, &created, &updated, &queued, &resolved, &c.PublicSeq, &c.BroadcastSeq,
		&c.Ref, &c.Priority, &c.Type, &tags, &c.TeamID}, extra...)
	if err := s.Scan(dest...); err != nil {
		return desk.Conversation{}, err
	}
	c.Tags = decodeTags(tags)
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	c.QueuedAt, c.ResolvedAt = fromNullMillis(queued), fromNullMillis(resolved)
	return c, nil
}

func scanEvent(s scanner) (desk.ConvEvent, error) {
	var ev desk.ConvEvent
	var data []byte
	var created int64
	err := s.Scan(&ev.ConversationID, &ev.Seq, &ev.Type, &ev.Actor.Role, &ev.Actor.ID,
		&ev.Private, &ev.ClientMsgID, &data, &created)
	if err != nil {
		return desk.ConvEvent{}, err
	}
	ev.Data, ev.CreatedAt = data, fromMillis(created)
	return ev, nil
}

// millis is how times are stored: Unix milliseconds, which also drops
// what the domain does not keep (sub-millisecond digits, the zone).
func millis(t time.Time) int64 { return t.UnixMilli() }

func nullMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMillis(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := fromMillis(ms.Int64)
	return &t
}

// sqlLimit is SQLite's LIMIT for a caller's limit: -1 means none.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// QueueRank counts the queued conversations ahead of (queuedAt, id), and
// all of them, on the (status, queued_at, id) index.
func (r reader) QueueRank(ctx context.Context, queuedAt time.Time, id string) (before, length int, err error) {
	err = r.run.queryRow(ctx, `SELECT
		(SELECT count(*) FROM conversations WHERE status = 'queued' AND (queued_at < ? OR (queued_at = ? AND id < ?))),
		(SELECT count(*) FROM conversations WHERE status = 'queued')`,
		millis(queuedAt), millis(queuedAt), id).Scan(&before, &length)
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
	rows, err := db.read.QueryContext(ctx, `SELECT tags FROM conversations WHERE tags <> '[]' ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, dbError(err, "read tags")
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, dbError(err, "read tags")
		}
		out = append(out, decodeTags(s))
	}
	return out, dbError(rows.Err(), "read tags")
}
