// Package postgres is the shared storage for running several nodes: desk's
// stores on PostgreSQL through pgx, behind the same interfaces and contract
// suites as the embedded SQLite store.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// DefaultConnectTimeout bounds each new connection when the url sets no
// connect_timeout. pgx's default is to wait as long as ctx allows, which for
// a server behind a dropped route is forever; 10 s is far beyond a healthy
// connect (milliseconds, TLS included) yet short enough to fail a health
// check or a start-up visibly.
const DefaultConnectTimeout = 10 * time.Second

// DefaultMaxConns sizes the pool when the url does not (pool_max_conns):
// the desk's writers each hold a connection for a batch, and reads (polls,
// resumes, lists) need their own beside them. pgx's default, the number of
// CPUs, would leave readers queueing behind the writers on a small machine.
const DefaultMaxConns = 16

// DefaultWriters is how many writer goroutines the desk runs on
// PostgreSQL: enough to overlap the round trips of a few transactions on
// different conversations (each writer owns its conversations, so their
// order holds), few enough to leave the pool room for reads.
const DefaultWriters = 4

// DB is a pool of connections to a PostgreSQL database with its migrations
// applied. Tables live in the connection's current schema (the first on
// search_path), so one database can hold several independent desks.
type DB struct {
	pool *pgxpool.Pool
	reader
	// agentDocsMax overrides defaultAgentDocsMax (search.go) when set, so
	// tests can send a small desk down the path a large one takes.
	agentDocsMax int
	// convs is what this node's writers last knew of the conversations
	// they wrote (see convCache).
	convs *convCache
	// noSpeculation turns tx.speculate off (tests of the locking path);
	// reruns counts the transactions run again after speculating wrong.
	noSpeculation bool
	reruns        atomic.Int64
}

func newDB(pool *pgxpool.Pool) *DB {
	return &DB{pool: pool, reader: reader{q: pool}, convs: newConvCache()}
}

// Open connects to the database at url (postgres://user:pass@host:5432/db,
// with pgx's query parameters such as sslmode, search_path or
// pool_max_conns) and applies any pending migrations. An unreachable server
// is EUnavailable; a malformed url is EInvalid.
func Open(ctx context.Context, url string) (*DB, error) {
	// pgx would also take "host=… dbname=…", and "" as "everything from
	// PG* variables"; a config typo should not connect somewhere unexpected.
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, desk.Errorf(desk.EInvalid, "database url must start with postgres://")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// Not wrapped: pgx's message quotes the url, query and all, and a
		// password can survive its best-effort redaction.
		return nil, desk.Errorf(desk.EInvalid, "database url must look like postgres://user:password@host:5432/dbname")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, dbError(err, "apply migrations")
	}
	return newDB(pool), nil
}

// Ping checks that the server answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return desk.Wrap(desk.EUnavailable, err, "database unavailable")
	}
	return nil
}

// Close closes every connection, waiting for those in use to be released.
func (db *DB) Close() {
	db.pool.Close()
}

// SQLSTATE codes we act on; see PostgreSQL's "Errcodes" appendix.
const (
	uniqueViolation    = "23505"
	serialization      = "40001"
	deadlock           = "40P01"
	tooManyConnections = "53300"
	adminShutdown      = "57P01"
	crashShutdown      = "57P02"
	cannotConnectNow   = "57P03"
)

// dbError turns a pgx error into the domain's: unique violations are
// EConflict; a server that cannot be reached or went away, and a deadlock
// or serialization failure, are EUnavailable (retry later); anything else
// is wrapped with what we were doing (EInternal). Domain errors pass
// through untouched.
func dbError(err error, doing string) error {
	if err == nil {
		return nil
	}
	var de *desk.Error
	if errors.As(err, &de) {
		return err
	}
	if unavailable(err) {
		return desk.Wrap(desk.EUnavailable, fmt.Errorf("%s: %w", doing, err), "database unavailable")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation:
			return desk.Wrap(desk.EConflict, err, "already exists")
		case deadlock, serialization:
			// Two transactions locked rows in opposite orders (say, two
			// nodes' batches touching the same conversations); PostgreSQL
			// aborted this one. Nothing is wrong with the request: retry.
			return desk.Wrap(desk.EUnavailable, fmt.Errorf("%s: %w", doing, err), "database busy; try again")
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// unavailable reports whether err means the server could not be reached,
// dropped the connection, or did not answer within the caller's deadline:
// failures worth retrying elsewhere or later, never a caller's mistake.
func unavailable(err error) bool {
	// A failed connect comes first: it often wraps the server's own
	// refusal ("database is not accepting connections", SQLSTATE 55000),
	// which taken alone would read as a bug in our SQL.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case tooManyConnections, adminShutdown, crashShutdown, cannotConnectNow:
			return true
		}
		return strings.HasPrefix(pe.Code, "08") // connection exception
	}
	var ne net.Error
	return errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}
