package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.NotificationStore = (*DB)(nil)

func (t *convTx) Notify(ctx context.Context, n desk.Notification) error {
	_, err := t.run.exec(ctx, `
		INSERT INTO notifications (recipient_role, recipient_id, conversation_id, kind, seq, due_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (recipient_role, recipient_id, conversation_id) WHERE status = 'pending'
		DO UPDATE SET seq = max(seq, excluded.seq), kind = excluded.kind`,
		string(n.To.Role), n.To.ID, n.ConversationID, string(n.Kind), n.Seq, millis(n.DueAt))
	return dbError(err, "queue notification")
}

// ClaimNotifications leases due cards; the one write connection
// serialises claims.
func (db *DB) ClaimNotifications(ctx context.Context, dueBefore, leaseUntil time.Time, limit int) ([]desk.Notification, error) {
	rows, err := db.write.QueryContext(ctx, `
		UPDATE notifications SET claimed_until = ?
		WHERE id IN (SELECT id FROM notifications
			WHERE status = 'pending' AND due_at <= ? AND claimed_until < ? ORDER BY due_at LIMIT ?)
		RETURNING id, recipient_role, recipient_id, conversation_id, kind, seq, due_at`,
		millis(leaseUntil), millis(dueBefore), millis(time.Now()), limit)
	if err != nil {
		return nil, dbError(err, "claim notifications")
	}
	defer rows.Close()
	var out []desk.Notification
	for rows.Next() {
		var n desk.Notification
		var due int64
		if err := rows.Scan(&n.ID, &n.To.Role, &n.To.ID, &n.ConversationID, &n.Kind, &n.Seq, &due); err != nil {
			return nil, dbError(err, "claim notifications")
		}
		n.DueAt = fromMillis(due)
		out = append(out, n)
	}
	return out, dbError(rows.Err(), "claim notifications")
}

func (db *DB) FinishNotification(ctx context.Context, id int64, status string, at time.Time) error {
	_, err := db.write.ExecContext(ctx, `UPDATE notifications SET status = ?, finished_at = ? WHERE id = ?`, status, millis(at), id)
	return dbError(err, "finish notification")
}

func (db *DB) PostponeNotification(ctx context.Context, id int64, due time.Time) error {
	_, err := db.write.ExecContext(ctx, `UPDATE notifications SET due_at = ?, claimed_until = 0 WHERE id = ?`, millis(due), id)
	return dbError(err, "postpone notification")
}

func (db *DB) SentSince(ctx context.Context, to desk.Principal, since time.Time) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM notifications
		WHERE recipient_role = ? AND recipient_id = ? AND status = 'sent' AND finished_at >= ?`,
		string(to.Role), to.ID, millis(since)).Scan(&n)
	return n, dbError(err, "count notifications")
}

func (db *DB) BlockNotifications(ctx context.Context, to desk.Principal, reason string, at time.Time) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO notification_blocks (recipient_role, recipient_id, reason, blocked_at)
		VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET reason = excluded.reason, blocked_at = excluded.blocked_at`,
		string(to.Role), to.ID, reason, millis(at))
	return dbError(err, "block notifications")
}

func (db *DB) NotificationsBlocked(ctx context.Context, to desk.Principal) (bool, error) {
	var one int
	err := db.read.QueryRowContext(ctx, `SELECT 1 FROM notification_blocks WHERE recipient_role = ? AND recipient_id = ?`,
		string(to.Role), to.ID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, dbError(err, "read notification block")
}
