package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
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
		// The token is stored; a failed purge only leaves expired rows for
		// the next one, but the operator should know the database balks.
		if _, err := t.db.write.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at <= ?`, millis(now)); err != nil {
			slog.WarnContext(ctx, "purging expired tokens failed", "err", err)
		}
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
	// One statement: a token issued between a count and a delete would be
	// deleted uncounted, or counted and kept.
	rows, err := t.db.write.QueryContext(ctx, `DELETE FROM tokens WHERE role = ? AND principal_id = ? RETURNING expires_at`,
		string(role), id)
	if err != nil {
		return 0, desk.Wrap(desk.EUnavailable, err, "token store unavailable")
	}
	defer rows.Close()
	now, live := millis(t.now()), 0
	for rows.Next() {
		var expires int64
		if err := rows.Scan(&expires); err != nil {
			return 0, desk.Wrap(desk.EUnavailable, err, "token store unavailable")
		}
		if expires > now {
			live++
		}
	}
	if err := rows.Err(); err != nil {
		return 0, desk.Wrap(desk.EUnavailable, err, "token store unavailable")
	}
	return live, nil
}
