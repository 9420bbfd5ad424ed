package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.AttachmentStore = (*DB)(nil)

const attachmentColumns = `id, owner_role, owner_id, name, type, size, width, height, thumbnail, created_at, conversation_id, private`

func scanAttachment(row pgx.Row) (desk.Attachment, error) {
	var a desk.Attachment
	var role string
	var created int64
	err := row.Scan(&a.ID, &role, &a.Owner.ID, &a.Name, &a.Type, &a.Size, &a.Width, &a.Height, &a.Thumbnail, &created, &a.ConversationID, &a.Private)
	a.Owner.Role, a.CreatedAt = desk.Role(role), time.UnixMilli(created).UTC()
	return a, err
}

func (db *DB) CreateAttachment(ctx context.Context, a desk.Attachment) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO attachments (`+attachmentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		a.ID, string(a.Owner.Role), a.Owner.ID, a.Name, a.Type, a.Size, a.Width, a.Height, a.Thumbnail, a.CreatedAt.UnixMilli(), a.ConversationID, a.Private)
	return dbError(err, "record attachment")
}

func (db *DB) Attachment(ctx context.Context, id string) (desk.Attachment, error) {
	a, err := scanAttachment(db.pool.QueryRow(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, desk.Errorf(desk.ENotFound, "attachment not found")
	}
	return a, dbError(err, "read attachment")
}

func (db *DB) UploadedSince(ctx context.Context, owner desk.Principal, since time.Time) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(size), 0)::bigint FROM attachments WHERE owner_role = $1 AND owner_id = $2 AND created_at >= $3`,
		string(owner.Role), owner.ID, since.UnixMilli()).Scan(&n)
	return n, dbError(err, "sum uploads")
}

func (db *DB) UnusedAttachments(ctx context.Context, before time.Time, limit int) ([]desk.Attachment, error) {
	return db.attachments(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE conversation_id = '' AND created_at < $1 ORDER BY created_at LIMIT $2`,
		before.UnixMilli(), limit)
}

func (db *DB) DeleteAttachment(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM attachments WHERE id = $1`, id)
	return dbError(err, "delete attachment")
}

func (db *DB) ConversationAttachments(ctx context.Context, conversationID string, private bool) ([]desk.Attachment, error) {
	if conversationID == "" {
		return nil, nil
	}
	return db.attachments(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE conversation_id = $1 AND (NOT private OR $2) ORDER BY id`,
		conversationID, private)
}

func (db *DB) attachments(ctx context.Context, query string, args ...any) ([]desk.Attachment, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, "list attachments")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk.Attachment, error) { return scanAttachment(r) })
	return out, dbError(err, "list attachments")
}

func (x *tx) UseAttachments(ctx context.Context, ids []string, owner desk.Principal, conversationID string, private bool) ([]desk.Attachment, error) {
	out := make([]desk.Attachment, 0, len(ids))
	for _, id := range ids {
		// FOR UPDATE: of two messages taking one upload at once, the
		// second sees it taken.
		a, err := scanAttachment(x.t.QueryRow(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) || err == nil && a.Owner != owner {
			return nil, desk.Errorf(desk.ENotFound, "attachment %s not found (upload it first, as the sender)", id)
		}
		if err != nil {
			return nil, dbError(err, "read attachment")
		}
		if a.ConversationID != "" {
			return nil, desk.Errorf(desk.EConflict, "attachment %s belongs to another message", id)
		}
		if _, err := x.t.Exec(ctx, `UPDATE attachments SET conversation_id = $1, private = $2 WHERE id = $3`, conversationID, private, id); err != nil {
			return nil, dbError(err, "use attachment")
		}
		a.ConversationID, a.Private = conversationID, private
		out = append(out, a)
	}
	return out, nil
}

// Secret returns the named secret the desk's nodes share, made (random,
// 32 bytes) by whichever asks first.
func (db *DB) Secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var v []byte
	err := db.pool.QueryRow(ctx, `WITH made AS (INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value)
		SELECT value FROM made UNION ALL SELECT value FROM secrets WHERE name = $1 LIMIT 1`, name, fresh).Scan(&v)
	return v, dbError(err, "read secret")
}
