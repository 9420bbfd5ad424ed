package sqlite

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// The outbox is written through the write connection, inside the writer's
// transactions (AddOutbox, DeleteOutbox on convTx) and outside them for the
// sweeper; each is one short statement.

func (t *convTx) AddOutbox(ctx context.Context, e desk.OutboxEntry) (int64, error) {
	res, err := t.run.exec(ctx, `INSERT INTO outbox (created_at, deliveries) VALUES (?, ?)`,
		millis(e.CreatedAt), string(e.Deliveries))
	if err != nil {
		return 0, dbError(err, "add outbox entry")
	}
	id, err := res.LastInsertId()
	return id, dbError(err, "add outbox entry")
}

func (t *convTx) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	q, args := inInt64s(`DELETE FROM outbox WHERE id IN `, ids)
	_, err := t.run.exec(ctx, q, args...)
	return dbError(err, "delete outbox entries")
}

// ClaimOutbox leases the oldest unpublished entries. The single write
// connection serialises claims, so no two sweepers get one entry.
func (db *DB) ClaimOutbox(ctx context.Context, createdBefore, leaseUntil time.Time, limit int) ([]desk.OutboxEntry, error) {
	rows, err := db.write.QueryContext(ctx, `
		UPDATE outbox SET claimed_until = ?
		WHERE id IN (SELECT id FROM outbox WHERE created_at < ? AND claimed_until < ? ORDER BY id LIMIT ?)
		RETURNING id, created_at, deliveries`,
		millis(leaseUntil), millis(createdBefore), millis(time.Now()), limit)
	if err != nil {
		return nil, dbError(err, "claim outbox entries")
	}
	defer rows.Close()
	var out []desk.OutboxEntry
	for rows.Next() {
		var e desk.OutboxEntry
		var created int64
		var data string
		if err := rows.Scan(&e.ID, &created, &data); err != nil {
			return nil, dbError(err, "claim outbox entries")
		}
		e.CreatedAt, e.Deliveries = fromMillis(created), []byte(data)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "claim outbox entries")
	}
	// RETURNING does not promise an order.
	slices.SortFunc(out, func(a, b desk.OutboxEntry) int { return int(a.ID - b.ID) })
	return out, nil
}

func (db *DB) ReleaseOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	q, args := inInt64s(`UPDATE outbox SET claimed_until = 0 WHERE id IN `, ids)
	_, err := db.write.ExecContext(ctx, q, args...)
	return dbError(err, "release outbox entries")
}

func (db *DB) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	q, args := inInt64s(`DELETE FROM outbox WHERE id IN `, ids)
	_, err := db.write.ExecContext(ctx, q, args...)
	return dbError(err, "delete outbox entries")
}

// inInt64s appends "(?, ?, …)" for ids to prefix.
func inInt64s(prefix string, ids []int64) (string, []any) {
	var sb strings.Builder
	sb.WriteString(prefix)
	sb.WriteByte('(')
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('?')
		args[i] = id
	}
	sb.WriteByte(')')
	return sb.String(), args
}
