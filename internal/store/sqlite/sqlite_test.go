package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/storetest"
)

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAgentStoreContract(t *testing.T) {
	storetest.RunAgentStore(t, func(t *testing.T) desk.AgentStore {
		return openTest(t, filepath.Join(t.TempDir(), "desk.db"))
	})
}

func TestOpenCreatesFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "nested", "servicedesk.db")
	openTest(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, path := range []string{"", "a?b.db"} {
		t.Run(path, func(t *testing.T) {
			_, err := Open(context.Background(), path)
			if code := desk.ErrorCode(err); code != desk.EInvalid {
				t.Errorf("Open(%q) = %v, want code %q", path, err, desk.EInvalid)
			}
		})
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "desk.db")
	want := desk.Agent{ID: "agt_1", Username: "alice", Name: "Alice", PasswordHash: "h", Role: desk.AgentRoleAgent}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAgent(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Reopening also re-runs the migrations, which must be a no-op.
	db = openTest(t, path)
	got, err := db.AgentByID(ctx, want.ID)
	if err != nil || got != want {
		t.Fatalf("after reopen AgentByID = %+v, %v; want %+v", got, err, want)
	}
}

func TestPragmas(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "desk.db"))
	pools := []struct {
		name      string
		pool      *sql.DB
		queryOnly int
	}{
		{"write", db.write, 0},
		{"read", db.read, 1},
	}
	for _, p := range pools {
		t.Run(p.name, func(t *testing.T) {
			var journal string
			var busy, fk, queryOnly int
			ctx := context.Background()
			conn, err := p.pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, q := range []struct {
				sql  string
				dest any
			}{
				{"PRAGMA journal_mode", &journal},
				{"PRAGMA busy_timeout", &busy},
				{"PRAGMA foreign_keys", &fk},
				{"PRAGMA query_only", &queryOnly},
			} {
				if err := conn.QueryRowContext(ctx, q.sql).Scan(q.dest); err != nil {
					t.Fatalf("%s: %v", q.sql, err)
				}
			}
			if journal != "wal" || busy != 5000 || fk != 1 || queryOnly != p.queryOnly {
				t.Errorf("journal_mode=%s busy_timeout=%d foreign_keys=%d query_only=%d; want wal 5000 1 %d",
					journal, busy, fk, queryOnly, p.queryOnly)
			}
		})
	}
}

func TestDisabledAgentsAreNotFound(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "desk.db"))
	a := desk.Agent{ID: "agt_1", Username: "alice", Name: "Alice", PasswordHash: "h"}
	if err := db.CreateAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx,
		`UPDATE agents SET disabled_at = '2025-01-01T00:00:00Z' WHERE id = ?`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AgentByUsername(ctx, a.Username); desk.ErrorCode(err) != desk.ENotFound {
		t.Errorf("AgentByUsername(disabled) = %v, want not_found", err)
	}
	if _, err := db.AgentByID(ctx, a.ID); desk.ErrorCode(err) != desk.ENotFound {
		t.Errorf("AgentByID(disabled) = %v, want not_found", err)
	}
	// The username stays taken.
	a.ID = "agt_2"
	if err := db.CreateAgent(ctx, a); desk.ErrorCode(err) != desk.EConflict {
		t.Errorf("CreateAgent(disabled username) = %v, want conflict", err)
	}
}

// TestWALIsBounded: the write connection cuts the WAL back after each
// checkpoint (a flood once left it at ten times the database, for good).
func TestWALIsBounded(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var limit int64
	if err := db.write.QueryRowContext(context.Background(), "PRAGMA journal_size_limit").Scan(&limit); err != nil {
		t.Fatal(err)
	}
	if limit != walSizeLimit {
		t.Fatalf("journal_size_limit = %d, want %d", limit, walSizeLimit)
	}
}
