package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.NotificationStore = (*DB)(nil)

func (x *tx) Notify(ctx context.Context, n desk.Notification) error {
	_, err := x.t.Exec(ctx, `
		INSERT INTO notifications (recipient_role, recipient_id, conversation_id, kind, seq, due_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (recipient_role, recipient_id, conversation_id) WHERE status = 'pending'
		DO UPDATE SET seq = GREATEST(notifications.seq, excluded.seq), kind = excluded.kind`,
		string(n.To.Role), n.To.ID, n.ConversationID, string(n.Kind), n.Seq, n.DueAt.UnixMilli())
	return dbError(err, "queue notification")
}

// ClaimNotifications leases due cards; SKIP LOCKED lets nodes claim side by
// side without waiting for or taking each other's.
func (db *DB) ClaimNotifications(ctx context.Context, dueBefore, leaseUntil time.Time, limit int) ([]desk.Notification, error) {
	rows, err := db.pool.Query(ctx, `
		UPDATE notifications SET claimed_until = $1
		WHERE id IN (SELECT id FROM notifications
			WHERE status = 'pending' AND due_at <= $2 AND claimed_until < $3
			ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING id, recipient_role, recipient_id, conversation_id, kind, seq, due_at`,
		leaseUntil.UnixMilli(), dueBefore.UnixMilli(), time.Now().UnixMilli(), limit)
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
		n.DueAt = time.UnixMilli(due).UTC()
		out = append(out, n)
	}
	return out, dbError(rows.Err(), "claim notifications")
}

func (db *DB) FinishNotification(ctx context.Context, id int64, status string, at time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE notifications SET status = $1, finished_at = $2 WHERE id = $3`, status, at.UnixMilli(), id)
	return dbError(err, "finish notification")
}

func (db *DB) PostponeNotification(ctx context.Context, id int64, due time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE notifications SET due_at = $1, claimed_until = 0 WHERE id = $2`, due.UnixMilli(), id)
	return dbError(err, "postpone notification")
}

func (db *DB) SentSince(ctx context.Context, to desk.Principal, since time.Time) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM notifications
		WHERE recipient_role = $1 AND recipient_id = $2 AND status = 'sent' AND finished_at >= $3`,
		string(to.Role), to.ID, since.UnixMilli()).Scan(&n)
	return n, dbError(err, "count notifications")
}

func (db *DB) BlockNotifications(ctx context.Context, to desk.Principal, reason string, at time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO notification_blocks (recipient_role, recipient_id, reason, blocked_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (recipient_role, recipient_id)
		DO UPDATE SET reason = excluded.reason, blocked_at = excluded.blocked_at`,
		string(to.Role), to.ID, reason, at.UnixMilli())
	return dbError(err, "block notifications")
}

func (db *DB) NotificationsBlocked(ctx context.Context, to desk.Principal) (bool, error) {
	var one int
	err := db.pool.QueryRow(ctx, `SELECT 1 FROM notification_blocks WHERE recipient_role = $1 AND recipient_id = $2`,
		string(to.Role), to.ID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, dbError(err, "read notification block")
}
