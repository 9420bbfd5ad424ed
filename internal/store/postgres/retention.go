package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ResolvedBefore lists conversations resolved before then, oldest first.
func (db *DB) ResolvedBefore(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return db.ids(ctx, `SELECT id FROM conversations WHERE status = 'resolved' AND resolved_at < $1 ORDER BY resolved_at LIMIT $2`, dbTime(before), limit)
}

// EmployeeConversationIDs lists every conversation of an employee.
func (db *DB) EmployeeConversationIDs(ctx context.Context, employeeID string) ([]string, error) {
	return db.ids(ctx, `SELECT id FROM conversations WHERE employee_id = $1 ORDER BY id`, employeeID)
}

func (db *DB) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, "list conversations")
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, dbError(err, "list conversations")
}

// PurgeConversation deletes a conversation and everything kept about it
// (events, participants, ratings, cards owed, search entries, attachment
// records: their files are the caller's to delete first), in one
// transaction. A conversation already gone is no error. With
// resolvedBefore set, one that is no longer resolved before it (reopened
// since it was listed) is left alone: the row lock makes that check and
// the writer's reopening take turns.
func (db *DB) PurgeConversation(ctx context.Context, id string, resolvedBefore time.Time) error {
	check := ""
	if !resolvedBefore.IsZero() {
		check = fmt.Sprintf("SELECT 1 FROM conversations WHERE id = $1 AND status = 'resolved' AND resolved_at < '%s' FOR UPDATE",
			resolvedBefore.UTC().Format(time.RFC3339Nano))
	}
	return db.exec(ctx, "purge conversation", id, check,
		`DELETE FROM search_docs WHERE conversation_id = $1`,
		`DELETE FROM events WHERE conversation_id = $1`,
		`DELETE FROM participants WHERE conversation_id = $1`,
		`DELETE FROM ratings WHERE conversation_id = $1`,
		`DELETE FROM sla_clocks WHERE conversation_id = $1`,
		`DELETE FROM conversation_facts WHERE conversation_id = $1`,
		`DELETE FROM assistant_exchanges WHERE conversation_id = $1`,
		`DELETE FROM notifications WHERE conversation_id = $1`,
		`DELETE FROM attachments WHERE conversation_id = $1`,
		`DELETE FROM conversations WHERE id = $1`)
}

// DeleteEmployee forgets an employee's profile and whether cards reach
// them.
func (db *DB) DeleteEmployee(ctx context.Context, id string) error {
	defer db.convs.clear() // participants carry names
	return db.exec(ctx, "delete employee", id, "",
		`DELETE FROM employees WHERE id = $1`,
		`DELETE FROM notification_blocks WHERE recipient_role = 'employee' AND recipient_id = $1`,
		`DELETE FROM notifications WHERE recipient_role = 'employee' AND recipient_id = $1`)
}

// exec runs statements with one argument in one transaction, after check
// (when set) found a row.
func (db *DB) exec(ctx context.Context, doing, arg, check string, statements ...string) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if check != "" {
			rows, err := tx.Query(ctx, check, arg)
			if err != nil {
				return dbError(err, doing)
			}
			found := rows.Next()
			rows.Close()
			if err := rows.Err(); err != nil {
				return dbError(err, doing)
			}
			if !found {
				return nil
			}
		}
		for _, q := range statements {
			if _, err := tx.Exec(ctx, q, arg); err != nil {
				return dbError(err, doing)
			}
		}
		return nil
	})
}
