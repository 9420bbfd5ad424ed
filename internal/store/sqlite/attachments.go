package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.AttachmentStore = (*DB)(nil)

const attachmentColumns = `id, owner_role, owner_id, name, type, size, width, height, thumbnail, created_at, conversation_id, private`

func scanAttachment(row interface{ Scan(...any) error }) (desk.Attachment, error) {
	var a desk.Attachment
	var role string
	var created int64
	err := row.Scan(&a.ID, &role, &a.Owner.ID, &a.Name, &a.Type, &a.Size, &a.Width, &a.Height, &a.Thumbnail, &created, &a.ConversationID, &a.Private)
	a.Owner.Role, a.CreatedAt = desk.Role(role), time.UnixMilli(created).UTC()
	return a, err
}

func (db *DB) CreateAttachment(ctx context.Context, a desk.Attachment) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO attachments (`+attachmentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, string(a.Owner.Role), a.Owner.ID, a.Name, a.Type, a.Size, a.Width, a.Height, a.Thumbnail, millis(a.CreatedAt), a.ConversationID, a.Private)
	return dbError(err, "record attachment")
}

func (db *DB) Attachment(ctx context.Context, id string) (desk.Attachment, error) {
	a, err := scanAttachment(db.read.QueryRowContext(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, desk.Errorf(desk.ENotFound, "attachment not found")
	}
	return a, dbError(err, "read attachment")
}

func (db *DB) UploadedSince(ctx context.Context, owner desk.Principal, since time.Time) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM attachments WHERE owner_role = ? AND owner_id = ? AND created_at >= ?`,
		string(owner.Role), owner.ID, millis(since)).Scan(&n)
	return n, dbError(err, "sum uploads")
}

func (db *DB) UnusedAttachments(ctx context.Context, before time.Time, limit int) ([]desk.Attachment, error) {
	return db.attachments(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE conversation_id = '' AND created_at < ? ORDER BY created_at LIMIT ?`,
		millis(before), limit)
}

func (db *DB) DeleteAttachment(ctx context.Context, id string) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM attachments WHERE id = ?`, id)
	return dbError(err, "delete attachment")
}

func (db *DB) ConversationAttachments(ctx context.Context, conversationID string, private bool) ([]desk.Attachment, error) {
	if conversationID == "" {
		return nil, nil
	}
	return db.attachments(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE conversation_id = ? AND (private = 0 OR ?) ORDER BY id`,
		conversationID, private)
}

func (db *DB) attachments(ctx context.Context, query string, args ...any) ([]desk.Attachment, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, "list attachments")
	}
	defer rows.Close()
	var out []desk.Attachment
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, dbError(err, "list attachments")
		}
		out = append(out, a)
	}
	return out, dbError(rows.Err(), "list attachments")
}

func (t *convTx) UseAttachments(ctx context.Context, ids []string, owner desk.Principal, conversationID string, private bool) ([]desk.Attachment, error) {
	out := make([]desk.Attachment, 0, len(ids))
	for _, id := range ids {
		a, err := scanAttachment(t.run.queryRow(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) || err == nil && a.Owner != owner {
			return nil, desk.Errorf(desk.ENotFound, "attachment %s not found (upload it first, as the sender)", id)
		}
		if err != nil {
			return nil, dbError(err, "read attachment")
		}
		if a.ConversationID != "" {
			return nil, desk.Errorf(desk.EConflict, "attachment %s belongs to another message", id)
		}
		if _, err := t.run.exec(ctx, `UPDATE attachments SET conversation_id = ?, private = ? WHERE id = ?`, conversationID, private, id); err != nil {
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
	if _, err := db.write.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, dbError(err, "make secret")
	}
	var v []byte
	err := db.write.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	return v, dbError(err, "read secret")
}
