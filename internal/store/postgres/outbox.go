package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

func (x *tx) AddOutbox(ctx context.Context, e desk.OutboxEntry) (int64, error) {
	var id int64
	err := x.t.QueryRow(ctx, `INSERT INTO outbox (created_at, deliveries) VALUES ($1, $2) RETURNING id`,
		e.CreatedAt.UnixMilli(), string(e.Deliveries)).Scan(&id)
	return id, dbError(err, "add outbox entry")
}

func (x *tx) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	// Sent with the next round trip: ids PostgreSQL always takes, and
	// nothing waits for the answer.
	x.t.enqueue(queued{sql: `DELETE FROM outbox WHERE id = ANY($1)`, args: []any{ids}, doing: "delete outbox entries"})
	return nil
}

// ClaimOutbox leases the oldest unpublished entries; SKIP LOCKED lets two
// nodes' sweepers claim at once without waiting for, or taking, each
// other's.
func (db *DB) ClaimOutbox(ctx context.Context, createdBefore, leaseUntil time.Time, limit int) ([]desk.OutboxEntry, error) {
	rows, err := db.pool.Query(ctx, `
		UPDATE outbox SET claimed_until = $1
		WHERE id IN (
			SELECT id FROM outbox WHERE created_at < $2 AND claimed_until < $3
			ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING id, created_at, deliveries`,
		leaseUntil.UnixMilli(), createdBefore.UnixMilli(), time.Now().UnixMilli(), limit)
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
		e.CreatedAt, e.Deliveries = time.UnixMilli(created).UTC(), []byte(data)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "claim outbox entries")
	}
	slices.SortFunc(out, func(a, b desk.OutboxEntry) int { return int(a.ID - b.ID) })
	return out, nil
}

func (db *DB) ReleaseOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `UPDATE outbox SET claimed_until = 0 WHERE id = ANY($1)`, ids)
	return dbError(err, "release outbox entries")
}

func (db *DB) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, ids)
	return dbError(err, "delete outbox entries")
}
