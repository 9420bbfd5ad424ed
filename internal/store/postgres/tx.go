package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Update runs fn in one READ COMMITTED transaction and commits if fn
// returns nil. Writers to one conversation serialise on its row, locked by
// ConversationForUpdate; writers to different conversations run in
// parallel. fn's own error is returned as it is.
func (db *DB) Update(ctx context.Context, fn func(tx desk.ConversationTx) error) error {
	t, err := db.pool.Begin(ctx)
	if err != nil {
		return dbError(err, "begin transaction")
	}
	// A no-op after Commit. With ctx already done it fails, and pgx then
	// discards the connection rather than pool it mid-transaction.
	defer t.Rollback(ctx)
	if err := fn(&tx{reader: reader{q: t}, t: t}); err != nil {
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return dbError(err, "commit")
	}
	return nil
}

// tx is one Update's transaction.
type tx struct {
	reader
	t pgx.Tx
}

// ConversationForUpdate reads a conversation and locks its row until the
// transaction ends: a second writer to it waits here, then reads what the
// first committed.
func (x *tx) ConversationForUpdate(ctx context.Context, id string) (desk.Conversation, error) {
	return x.conversation(ctx, `SELECT `+convColumns+` FROM conversations WHERE id = $1 FOR UPDATE`, id)
}

// CreateConversation inserts c. An existing id, or the employee's client id
// used again, is EConflict.
//
// Conflicts are found with ON CONFLICT DO NOTHING rather than caught as
// errors: in PostgreSQL a failed statement aborts the whole transaction,
// while the contract (and SQLite) lets the caller carry on after one.
func (x *tx) CreateConversation(ctx context.Context, c desk.Conversation) error {
	tag, err := x.t.Exec(ctx, `
		INSERT INTO conversations (`+convColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT DO NOTHING`,
		c.ID, c.EmployeeID, c.Subject, c.Category, c.Status, c.AssigneeID, c.Seq,
		dbTime(c.CreatedAt), dbTime(c.UpdatedAt), dbTimePtr(c.QueuedAt), dbTimePtr(c.ResolvedAt), c.ClientMsgID,
		c.PublicSeq, c.BroadcastSeq, c.Ref, c.Priority, c.Type, encodeTags(c.Tags), c.TeamID)
	if err != nil {
		return dbError(err, "create conversation")
	}
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.EConflict, "conversation already exists")
	}
	return nil
}

// NextNumber counts up the named counter in this transaction; the row
// lock orders concurrent writers.
func (x *tx) NextNumber(ctx context.Context, name string) (int64, error) {
	var n int64
	err := x.t.QueryRow(ctx, `INSERT INTO counters (name, value) VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`, name).Scan(&n)
	return n, dbError(err, "count "+name)
}

// SaveConversation writes c's mutable fields.
func (x *tx) SaveConversation(ctx context.Context, c desk.Conversation) error {
	tag, err := x.t.Exec(ctx, `
		UPDATE conversations
		SET status = $2, assignee_id = $3, seq = $4, updated_at = $5, queued_at = $6, resolved_at = $7,
			public_seq = $8, broadcast_seq = $9, priority = $10, kind = $11, tags = $12
		WHERE id = $1`,
		c.ID, c.Status, c.AssigneeID, c.Seq, dbTime(c.UpdatedAt), dbTimePtr(c.QueuedAt), dbTimePtr(c.ResolvedAt),
		c.PublicSeq, c.BroadcastSeq, c.Priority, c.Type, encodeTags(c.Tags))
	if err != nil {
		return dbError(err, "save conversation")
	}
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.ENotFound, "conversation not found")
	}
	return nil
}

// SaveParticipant inserts p or updates its active flag and last-read seq;
// a participant's joined time is the first one, as in SQLite.
func (x *tx) SaveParticipant(ctx context.Context, conversationID string, p desk.Participant) error {
	_, err := x.t.Exec(ctx, `
		INSERT INTO participants (conversation_id, role, user_id, active, last_read_seq, joined_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (conversation_id, role, user_id) DO UPDATE
		SET active = excluded.active, last_read_seq = excluded.last_read_seq`,
		conversationID, p.Role, p.ID, p.Active, p.LastReadSeq, dbTime(p.JoinedAt))
	return dbError(err, "save participant")
}

// AppendEvent stores ev; a taken seq or client id is EConflict (found
// without aborting the transaction, as in CreateConversation).
func (x *tx) AppendEvent(ctx context.Context, ev desk.ConvEvent) error {
	tag, err := x.t.Exec(ctx, `
		INSERT INTO events (`+eventColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT DO NOTHING`,
		ev.ConversationID, ev.Seq, ev.Type, []byte(ev.Data), ev.Actor.Role, ev.Actor.ID,
		ev.Private, ev.ClientMsgID, dbTime(ev.CreatedAt))
	if err != nil {
		return dbError(err, "append event")
	}
	if tag.RowsAffected() == 0 {
		return desk.Errorf(desk.EConflict, "event %d already stored", ev.Seq)
	}
	return nil
}

// SaveEmployee inserts or updates an employee's profile.
func (x *tx) SaveEmployee(ctx context.Context, e desk.Employee) error {
	_, err := x.t.Exec(ctx, `
		INSERT INTO employees (id, name, department, position, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, department = excluded.department,
			position = excluded.position, updated_at = excluded.updated_at`,
		e.ID, e.Name, e.Department, e.Position, dbTime(e.UpdatedAt))
	return dbError(err, "save employee")
}

// Savepoint runs fn inside a savepoint: if fn fails, its writes are rolled
// back and the transaction is usable again (PostgreSQL would otherwise
// refuse every later statement after a failed one).
func (x *tx) Savepoint(ctx context.Context, fn func() error) error {
	sp, err := x.t.Begin(ctx) // pgx makes a nested Begin a SAVEPOINT
	if err != nil {
		return dbError(err, "savepoint")
	}
	if err := fn(); err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			// Classified by rerr alone: fn's error may be a domain one, and
			// the caller must not mistake a broken transaction for it.
			return dbError(rerr, fmt.Sprintf("roll back to savepoint after %v", err))
		}
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return dbError(err, "release savepoint")
	}
	return nil
}
