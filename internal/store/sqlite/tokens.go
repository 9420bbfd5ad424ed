package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Tokens is desk.TokenStore in the database, for a desk without Redis:
// tokens survive a restart. See the tokens migration for why a bare
// SHA-256 of each token is what is kept.
type Tokens struct {
	db   *DB
	now  func() time.Time
	puts atomic.Int64
}

var _ desk.TokenStore = (*Tokens)(nil)

// purgeEvery: one Put in this many also deletes the expired tokens, so the
// table holds roughly the live ones without a goroutine to own.
const purgeEvery = 64

// Tokens returns the database's token store, reading the time from now
// (time.Now when nil).
func (db *DB) Tokens(now func() time.Time) desk.TokenStore {
	if now == nil {
		now = time.Now
	}
	return &Tokens{db: db, now: now}
}

func (t *Tokens) Put(ctx context.Context, role desk.Role, token, id string, ttl time.Duration) error {
	if err := desk.CheckTokenPut(role, token, id, ttl); err != nil {
		return err
	}
	now := t.now()
	_, err := t.db.write.ExecContext(ctx, `INSERT INTO tokens (role, hash, principal_id, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (role, hash) DO UPDATE SET principal_id = excluded.principal_id, expires_at = excluded.expires_at`,
		string(role), desk.TokenHash(token), id, millis(now.Add(ttl)))
	if err != nil {
		return desk.Wrap(desk.EUnavailable, err, "token store unavailable")
	}
	if t.puts.Add(1)%purgeEvery == 0 {
		t.db.write.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at <= ?`, millis(now))
	}
	return nil
}

func (t *Tokens) Lookup(ctx context.Context, role desk.Role, token string) (string, error) {
	var id string
	err := t.db.read.QueryRowContext(ctx, `SELECT principal_id FROM tokens WHERE role = ? AND hash = ? AND expires_at > ?`,
		string(role), desk.TokenHash(token), millis(t.now())).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", desk.Errorf(desk.ENotFound, "token not found")
	}
	if err != nil {
		return "", desk.Wrap(desk.EUnavailable, err, "token store unavailable")
	}
	return id, nil
}

func (t *Tokens) Delete(ctx context.Context, role desk.Role, token string) error {
	_, err := t.db.write.ExecContext(ctx, `DELETE FROM tokens WHERE role = ? AND hash = ?`, string(role), desk.TokenHash(token))
	if err != nil {
		return desk.Wrap(desk.EUnavailable, err, "token store unavailable")
	}
	return nil
}

func (t *Tokens) DeleteAll(ctx context.Context, role desk.Role, id string) (int, error) {
	var live int
	err := t.db.write.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE role = ? AND principal_id = ? AND expires_at > ?`,
		string(role), id, millis(t.now())).Scan(&live)
	if err == nil {
		_, err = t.db.write.ExecContext(ctx, `DELETE FROM tokens WHERE role = ? AND principal_id = ?`, string(role), id)
	}
	if err != nil {
		return 0, desk.Wrap(desk.EUnavailable, err, "token store unavailable")
	}
	return live, nil
}
