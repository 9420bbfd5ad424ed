package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/canned"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// What the desk's administration keeps: canned replies and the audit log.

var (
	_ canned.Store = (*DB)(nil)
	_ audit.Store  = (*DB)(nil)
)

const cannedColumns = `id, scope, owner_id, title, body, updated_at, team_id`

func scanCanned(row pgx.Row) (canned.Reply, error) {
	var r canned.Reply
	var at int64
	err := row.Scan(&r.ID, &r.Scope, &r.OwnerID, &r.Title, &r.Body, &at, &r.TeamID)
	r.UpdatedAt = time.UnixMilli(at).UTC()
	return r, err
}

func (db *DB) CannedReplies(ctx context.Context, ownerID string, everyTeam bool, limit int) ([]canned.Reply, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+cannedColumns+` FROM canned_replies
		WHERE (scope = 'shared' AND (team_id = '' OR $2 OR team_id IN (SELECT team_id FROM team_members WHERE agent_id = $1)))
			OR (scope = 'personal' AND owner_id = $1) ORDER BY scope DESC, title LIMIT $3`, ownerID, everyTeam, limit)
	if err != nil {
		return nil, dbError(err, "list canned replies")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (canned.Reply, error) { return scanCanned(r) })
	return out, dbError(err, "list canned replies")
}

func (db *DB) CannedReply(ctx context.Context, id string) (canned.Reply, error) {
	r, err := scanCanned(db.pool.QueryRow(ctx, `SELECT `+cannedColumns+` FROM canned_replies WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, desk.Errorf(desk.ENotFound, "canned reply not found")
	}
	return r, dbError(err, "read canned reply")
}

func (db *DB) SaveCannedReply(ctx context.Context, r canned.Reply) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO canned_replies (`+cannedColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body, updated_at = excluded.updated_at, team_id = excluded.team_id`,
		r.ID, r.Scope, r.OwnerID, r.Title, r.Body, r.UpdatedAt.UnixMilli(), r.TeamID)
	return dbError(err, "save canned reply")
}

func (db *DB) DeleteCannedReply(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM canned_replies WHERE id = $1`, id)
	return dbError(err, "delete canned reply")
}

func (db *DB) AppendAudit(ctx context.Context, e audit.Entry) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO audit_log (at, actor_id, action, target, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.At.UnixMilli(), e.ActorID, e.Action, e.Target, string(e.Before), string(e.After))
	return dbError(err, "record audit entry")
}

func (db *DB) AuditEntries(ctx context.Context, before int64, limit int) ([]audit.Entry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, `SELECT id, at, actor_id, action, target, before_json, after_json FROM audit_log
		WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, dbError(err, "read audit log")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Entry, error) {
		var e audit.Entry
		var at int64
		var b, a string
		err := r.Scan(&e.ID, &at, &e.ActorID, &e.Action, &e.Target, &b, &a)
		e.At = time.UnixMilli(at).UTC()
		if b != "" {
			e.Before = []byte(b)
		}
		if a != "" {
			e.After = []byte(a)
		}
		return e, err
	})
	return out, dbError(err, "read audit log")
}
