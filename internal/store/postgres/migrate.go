package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies the embedded migrations that the schema has not seen,
// each in its own transaction (goose's default for SQL migrations).
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// goose speaks database/sql; this view borrows the pool's connections,
	// and closing it leaves the pool open.
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	// goose's default logger prints to the global log package; silence it
	// rather than let a library write around our slog setup.
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSlog(slog.New(slog.DiscardHandler)),
		goose.WithSessionLocker(schemaLocker{}))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return err
	}
	return nil
}

// schemaLocker makes nodes that start together take turns migrating: the
// loser of a race would otherwise fail creating a table the winner just
// made.
//
// goose's own PostgreSQL locker polls every 5 s for one database-wide lock,
// which would stall every test that opens a fresh schema while another
// does; this one waits in the server (no polling) for a lock per schema.
type schemaLocker struct{}

var _ lock.SessionLocker = schemaLocker{}

// migrationLockClass is the first key of our advisory locks, the second
// being a hash of the schema name. It is arbitrary ("sdmg" in ASCII); it
// only has to differ from other applications' advisory locks.
const migrationLockClass = 0x73646d67

func (schemaLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx,
		`SELECT pg_advisory_lock($1, hashtext(current_schema()))`, migrationLockClass)
	if err != nil {
		return fmt.Errorf("lock schema for migrations: %w", err)
	}
	return nil
}

func (schemaLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx,
		`SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, migrationLockClass)
	if err != nil {
		return fmt.Errorf("unlock schema after migrations: %w", err)
	}
	return nil
}
