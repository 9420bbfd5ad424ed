package sqlite

import (
	"context"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// ResolvedBefore lists conversations resolved before then, oldest first.
func (db *DB) ResolvedBefore(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return db.ids(ctx, "list conversations", `SELECT id FROM conversations WHERE status = 'resolved' AND resolved_at < ? ORDER BY resolved_at LIMIT ?`, millis(before), limit)
}

// EmployeeConversationIDs lists every conversation of an employee.
func (db *DB) EmployeeConversationIDs(ctx context.Context, employeeID string) ([]string, error) {
	return db.ids(ctx, "list conversations", `SELECT id FROM conversations WHERE employee_id = ? ORDER BY id`, employeeID)
}

// ids runs a query of one text column on a reader and returns its rows;
// doing names it in errors.
func (db *DB) ids(ctx context.Context, doing, query string, args ...any) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, doing)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, dbError(err, doing)
		}
		out = append(out, id)
	}
	return out, dbError(rows.Err(), doing)
}

// PurgeConversation deletes a conversation and everything kept about it
// (events, participants, ratings, cards owed, search entries, attachment
// records: their files are the caller's to delete first), in one
// transaction. A conversation already gone is no error. With
// resolvedBefore set, one that is no longer resolved before it (reopened
// since it was listed) is left alone.
func (db *DB) PurgeConversation(ctx context.Context, id string, resolvedBefore time.Time) error {
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		run := tx.(*convTx).run // the write connection's transaction
		if !resolvedBefore.IsZero() {
			var n int
			if err := run.queryRow(ctx, `SELECT count(*) FROM conversations WHERE id = ? AND status = 'resolved' AND resolved_at < ?`,
				id, millis(resolvedBefore)).Scan(&n); err != nil {
				return dbError(err, "purge conversation")
			}
			if n == 0 {
				return nil
			}
		}
		for _, q := range []string{
			`DELETE FROM search_terms WHERE rowid IN (SELECT id FROM search_docs WHERE conversation_id = ?)`,
			`DELETE FROM search_docs WHERE conversation_id = ?`,
			`DELETE FROM events WHERE conversation_id = ?`,
			`DELETE FROM participants WHERE conversation_id = ?`,
			`DELETE FROM ratings WHERE conversation_id = ?`,
			`DELETE FROM sla_clocks WHERE conversation_id = ?`,
			`DELETE FROM conversation_facts WHERE conversation_id = ?`,
			`DELETE FROM assistant_exchanges WHERE conversation_id = ?`,
			`DELETE FROM notifications WHERE conversation_id = ?`,
			`DELETE FROM attachments WHERE conversation_id = ?`,
			`DELETE FROM conversations WHERE id = ?`,
		} {
			if _, err := run.exec(ctx, q, id); err != nil {
				return dbError(err, "purge conversation")
			}
		}
		tx.(*convTx).cache.forget(id)
		return nil
	})
}

// DeleteEmployee forgets an employee's profile, their uploads no message
// took, and whether cards reach them.
func (db *DB) DeleteEmployee(ctx context.Context, id string) error {
	return db.Update(ctx, func(tx desk.ConversationTx) error {
		run := tx.(*convTx).run // the write connection's transaction
		for _, q := range []string{
			`DELETE FROM employees WHERE id = ?`,
			`DELETE FROM notification_blocks WHERE recipient_role = 'employee' AND recipient_id = ?`,
			`DELETE FROM notifications WHERE recipient_role = 'employee' AND recipient_id = ?`,
		} {
			if _, err := run.exec(ctx, q, id); err != nil {
				return dbError(err, "delete employee")
			}
		}
		tx.(*convTx).cache.forgetEmployee(id) // their name was joined into participants
		return nil
	})
}
