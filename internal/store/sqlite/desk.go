package sqlite

import (
	"context"
	"database/sql"
	"errors"

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

func scanCanned(s scanner) (canned.Reply, error) {
	var r canned.Reply
	var at int64
	err := s.Scan(&r.ID, &r.Scope, &r.OwnerID, &r.Title, &r.Body, &at, &r.TeamID)
	r.UpdatedAt = fromMillis(at)
	return r, err
}

func (db *DB) CannedReplies(ctx context.Context, ownerID string, everyTeam bool, limit int) ([]canned.Reply, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+cannedColumns+` FROM canned_replies
		WHERE (scope = 'shared' AND (team_id = '' OR ? OR team_id IN (SELECT team_id FROM team_members WHERE agent_id = ?)))
			OR (scope = 'personal' AND owner_id = ?) ORDER BY scope DESC, title LIMIT ?`, everyTeam, ownerID, ownerID, limit)
	if err != nil {
		return nil, dbError(err, "list canned replies")
	}
	defer rows.Close()
	var out []canned.Reply
	for rows.Next() {
		r, err := scanCanned(rows)
		if err != nil {
			return nil, dbError(err, "list canned replies")
		}
		out = append(out, r)
	}
	return out, dbError(rows.Err(), "list canned replies")
}

func (db *DB) CannedReply(ctx context.Context, id string) (canned.Reply, error) {
	r, err := scanCanned(db.read.QueryRowContext(ctx, `SELECT `+cannedColumns+` FROM canned_replies WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, desk.Errorf(desk.ENotFound, "canned reply not found")
	}
	return r, dbError(err, "read canned reply")
}

func (db *DB) SaveCannedReply(ctx context.Context, r canned.Reply) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO canned_replies (`+cannedColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body, updated_at = excluded.updated_at, team_id = excluded.team_id`,
		r.ID, r.Scope, r.OwnerID, r.Title, r.Body, millis(r.UpdatedAt), r.TeamID)
	return dbError(err, "save canned reply")
}

func (db *DB) DeleteCannedReply(ctx context.Context, id string) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM canned_replies WHERE id = ?`, id)
	return dbError(err, "delete canned reply")
}

func (db *DB) AppendAudit(ctx context.Context, e audit.Entry) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO audit_log (at, actor_id, action, target, before_json, after_json) VALUES (?, ?, ?, ?, ?, ?)`,
		millis(e.At), e.ActorID, e.Action, e.Target, string(e.Before), string(e.After))
	return dbError(err, "record audit entry")
}

func (db *DB) AuditEntries(ctx context.Context, before int64, limit int) ([]audit.Entry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, at, actor_id, action, target, before_json, after_json FROM audit_log
		WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, dbError(err, "read audit log")
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var at int64
		var b, a string
		if err := rows.Scan(&e.ID, &at, &e.ActorID, &e.Action, &e.Target, &b, &a); err != nil {
			return nil, dbError(err, "read audit log")
		}
		e.At = fromMillis(at)
		if b != "" {
			e.Before = []byte(b)
		}
		if a != "" {
			e.After = []byte(a)
		}
		out = append(out, e)
	}
	return out, dbError(rows.Err(), "read audit log")
}
