// Package sqlite is the embedded storage: desk's stores on a single SQLite
// file through the pure-Go modernc.org/sqlite driver, so builds need no cgo.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/servicedesk/servicedesk/internal/desk"
)

//go:embed migrations/*.sql
var migrations embed.FS

// pragmas are set on every connection the driver opens, so a connection the
// pool recycles can never come back without them. busy_timeout matters even
// with one writer: readers still meet a checkpoint now and then.
const pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"

// walSizeLimit is the size, in bytes, the WAL file is cut back to after a
// checkpoint: a few seconds of the heaviest writing we measured.
const walSizeLimit = 64 << 20

// writeCacheKiB sizes the writer's page cache (as a negative cache_size:
// KiB, not pages). SQLite's default, 2 MiB, is less than the indexes a
// batch of messages touches, so the writer read pages back from the file
// with a system call each (a fifth of its time at 14,000 messages/s).
const writeCacheKiB = -64 << 10

// maxReaders caps the read pool. WAL lets readers run beside the writer, so
// more than one pays off; beyond a few per CPU they only queue in SQLite.
var maxReaders = max(4, runtime.NumCPU())

// DB is an open SQLite database with its migrations applied.
//
// Writes go through their own pool of exactly one connection: SQLite allows
// one writer at a time anyway, and queueing writers in Go rather than in
// SQLite's lock means no SQLITE_BUSY when two deferred transactions both try
// to upgrade to a write lock. Reads use a separate query_only pool so they
// never wait behind a write (WAL gives them a consistent snapshot).
type DB struct {
	write *sql.DB
	read  *sql.DB
	reader
	readStmts, writeStmts map[string]*sql.Stmt // see hotReads, hotWrites
	checkpoints           *checkpointer
	cache                 *writeCache // the write transactions' (writecache.go)
}

// Open opens (creating if needed) the database file at path, creating its
// parent folder too, and applies any pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		// The driver splits its DSN at '?', so such a path would be misread.
		return nil, desk.Errorf(desk.EInvalid, "database path must be non-empty and must not contain '?'")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}

	// _txlock=immediate takes the write lock at BEGIN, so a transaction that
	// reads before it writes cannot fail halfway with SQLITE_BUSY.
	// synchronous(NORMAL) in WAL mode syncs at checkpoints, not at every
	// commit: a commit survives the process crashing, but the last few may
	// be lost if the machine loses power. That trade buys the write rate.
	// temp_store(MEMORY) keeps the savepoint journal (one savepoint per
	// command in a batch) off the disk: it was a sixth of the writer's time.
	// wal_autocheckpoint(0): the checkpointer does it, off the writer's path.
	// journal_size_limit: when the writer rewinds the WAL after a
	// checkpoint it cuts the file back to this size; without it a flood
	// once left a 156 MB WAL (ten times the database) for good.
	write, err := sql.Open("sqlite", path+"?"+pragmas+
		"&_txlock=immediate&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)"+
		fmt.Sprintf("&_pragma=journal_size_limit(%d)&_pragma=cache_size(%d)", walSizeLimit, writeCacheKiB))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	write.SetMaxOpenConns(1)

	db := &DB{write: write, cache: newWriteCache()}
	// The writer connects and migrates first, so the file is in WAL mode with
	// its tables before any reader opens it.
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	if db.writeStmts, err = prepare(ctx, write, hotWrites); err != nil {
		write.Close()
		return nil, err
	}

	read, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database for reading: %w", err)
	}
	read.SetMaxOpenConns(maxReaders)
	read.SetMaxIdleConns(maxReaders)
	db.read = read
	if err := read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database for reading: %w", err)
	}
	if db.readStmts, err = prepare(ctx, read, hotReads); err != nil {
		db.Close()
		return nil, err
	}
	db.reader = reader{&runner{pool: read, stmts: db.readStmts}}
	if db.checkpoints, err = startCheckpointer(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database for checkpoints: %w", err)
	}
	return db, nil
}

// migrate applies the embedded migrations that the database has not seen,
// each in its own transaction (goose's default for SQL migrations).
func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// goose's default logger prints to the global log package; silence it
	// rather than let a library write around our slog setup.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithSlog(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// Not p.Close: it would close db, which we still own.
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Ping checks that both pools can reach the database file.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return desk.Wrap(desk.EUnavailable, err, "database unavailable")
	}
	if err := db.read.PingContext(ctx); err != nil {
		return desk.Wrap(desk.EUnavailable, err, "database unavailable")
	}
	return nil
}

// Close closes the database. Pending writes have already been committed;
// WAL's last checkpoint runs as the final connection closes.
func (db *DB) Close() error {
	closeStmts(db.readStmts)
	closeStmts(db.writeStmts)
	var errs []error
	if db.checkpoints != nil {
		errs = append(errs, db.checkpoints.stop())
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}
