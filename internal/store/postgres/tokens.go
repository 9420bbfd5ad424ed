package postgres

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Tokens is desk.TokenStore in the database, for a desk without Redis:
// tokens survive a restart. Only a SHA-256 of each token is kept.
type Tokens struct {
	db   *DB
	now  func() time.Time
	puts atomic.Int64
}

var _ desk.TokenStore = (*Tokens)(nil)

// purgeEvery: one Put in this many also deletes the expired tokens.
const purgeEvery = 64

// Tokens returns the database's token store, reading the time from now
// (time.Now when nil).
func (db *DB) Tokens(now func() time.Time) desk.TokenStore {
	if now == nil {
		now = time.Now
	}
	return &Tokens{db: db, now: now}
}

func unavailableTokens(err error) error {
	return desk.Wrap(desk.EUnavailable, err, "token store unavailable")
}

func (t *Tokens) Put(ctx context.Context, role desk.Role, token, id string, ttl time.Duration) error {
	if err := desk.CheckTokenPut(role, token, id, ttl); err != nil {
		return err
	}
	now := t.now()
	_, err := t.db.pool.Exec(ctx, `INSERT INTO tokens (role, hash, principal_id, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (role, hash) DO UPDATE SET principal_id = excluded.principal_id, expires_at = excluded.expires_at`,
		string(role), desk.TokenHash(token), id, now.Add(ttl).UnixMilli())
	if err != nil {
		return unavailableTokens(err)
	}
	if t.puts.Add(1)%purgeEvery == 0 {
		// The token is stored; a failed purge only leaves expired rows for
		// the next one, but the operator should know the database balks.
		if _, err := t.db.pool.Exec(ctx, `DELETE FROM tokens WHERE expires_at <= $1`, now.UnixMilli()); err != nil {
			slog.WarnContext(ctx, "purging expired tokens failed", "err", err)
		}
	}
	return nil
}

func (t *Tokens) Lookup(ctx context.Context, role desk.Role, token string) (string, error) {
	var id string
	err := t.db.pool.QueryRow(ctx, `SELECT principal_id FROM tokens WHERE role = $1 AND hash = $2 AND expires_at > $3`,
		string(role), desk.TokenHash(token), t.now().UnixMilli()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", desk.Errorf(desk.ENotFound, "token not found")
	}
	if err != nil {
		return "", unavailableTokens(err)
	}
	return id, nil
}

func (t *Tokens) Delete(ctx context.Context, role desk.Role, token string) error {
	if _, err := t.db.pool.Exec(ctx, `DELETE FROM tokens WHERE role = $1 AND hash = $2`, string(role), desk.TokenHash(token)); err != nil {
		return unavailableTokens(err)
	}
	return nil
}

func (t *Tokens) DeleteAll(ctx context.Context, role desk.Role, id string) (int, error) {
	var live int
	err := t.db.pool.QueryRow(ctx, `WITH gone AS (DELETE FROM tokens WHERE role = $1 AND principal_id = $2 RETURNING expires_at)
		SELECT count(*) FROM gone WHERE expires_at > $3`, string(role), id, t.now().UnixMilli()).Scan(&live)
	if err != nil {
		return 0, unavailableTokens(err)
	}
	return live, nil
}
