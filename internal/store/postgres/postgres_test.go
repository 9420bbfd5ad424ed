package postgres_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/storetest"
)

// deadURL points where nothing listens: connecting is refused at once.
const deadURL = "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"

func TestAgentStore(t *testing.T) {
	skipWithoutPostgres(t)
	storetest.RunAgentStore(t, func(t *testing.T) desk.AgentStore { return pgtest.Open(t) })
}

func TestConversationStore(t *testing.T) {
	skipWithoutPostgres(t)
	storetest.RunConversationStore(t, func(t *testing.T) desk.ConversationStore { return pgtest.Open(t) })
}

// skipWithoutPostgres skips a whole suite at once, rather than each of its
// subtests when pgtest.Open is called.
func skipWithoutPostgres(t *testing.T) {
	t.Helper()
	if os.Getenv(pgtest.EnvURL) == "" {
		t.Skip(pgtest.SkipMessage)
	}
}

func TestMigrationsRunOnce(t *testing.T) {
	ctx := t.Context()
	url := pgtest.URL(t)

	// Nodes starting together on an empty schema take turns, and the
	// second finds nothing left to do.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			db, err := postgres.Open(ctx, url)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open #%d: %v", i, err)
		}
	}

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	want := desk.Agent{ID: "agt_1", Username: "alice", Name: "Alice", PasswordHash: "h", Role: desk.AgentRoleAgent}
	if err := db.CreateAgent(ctx, want); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Reopening re-runs the migrations, which must be a no-op.
	db, err = postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.AgentByID(ctx, want.ID); err != nil || got != want {
		t.Fatalf("after reopen AgentByID = %+v, %v; want %+v", got, err, want)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id`)
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if want := migrationVersions(t); !slices.Equal(applied, want) {
		t.Errorf("applied migrations %v, want each of %v once", applied, want)
	}
}

// migrationVersions reads the versions from the migration files' names.
func migrationVersions(t *testing.T) []int64 {
	t.Helper()
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, f := range files {
		n, err := strconv.ParseInt(strings.SplitN(f.Name(), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", f.Name(), err)
		}
		out = append(out, n)
	}
	return out
}

func TestUnreachableServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	t.Run("open", func(t *testing.T) {
		start := time.Now()
		db, err := postgres.Open(ctx, deadURL)
		if err == nil {
			db.Close()
		}
		if code := desk.ErrorCode(err); code != desk.EUnavailable {
			t.Errorf("Open = %v (code %q), want code %q", err, code, desk.EUnavailable)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Open took %v to fail, want a prompt failure", d)
		}
	})
	t.Run("ping", func(t *testing.T) {
		db, err := postgres.OpenUnmigrated(deadURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		start := time.Now()
		err = db.Ping(ctx)
		if code := desk.ErrorCode(err); code != desk.EUnavailable {
			t.Errorf("Ping = %v (code %q), want code %q", err, code, desk.EUnavailable)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Ping took %v to fail, want a prompt failure", d)
		}
	})
}

// Two Updates locking two conversations in opposite orders deadlock;
// PostgreSQL aborts one (after deadlock_timeout, 1 s by default), and its
// caller is told to retry rather than shown an internal error.
func TestDeadlockIsUnavailable(t *testing.T) {
	ctx := t.Context()
	db := pgtest.Open(t)
	now := time.Now()
	ids := []string{"cnv_a", "cnv_b"}
	err := db.Update(ctx, func(tx desk.ConversationTx) error {
		for _, id := range ids {
			c := desk.Conversation{ID: id, EmployeeID: "emp", Subject: "s", Category: "other",
				Status: desk.StatusOpen, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateConversation(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var both sync.WaitGroup // each holds its first lock
	both.Add(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			first, second := ids[i], ids[1-i]
			errs[i] = db.Update(ctx, func(tx desk.ConversationTx) error {
				_, err := tx.ConversationForUpdate(ctx, first)
				both.Done()
				if err != nil {
					return err
				}
				both.Wait()
				_, err = tx.ConversationForUpdate(ctx, second)
				return err
			})
		})
	}
	wg.Wait()
	codes := []string{desk.ErrorCode(errs[0]), desk.ErrorCode(errs[1])}
	slices.Sort(codes)
	if want := []string{"", desk.EUnavailable}; !slices.Equal(codes, want) {
		t.Errorf("deadlocked Updates = %v, %v; want one success and one %q", errs[0], errs[1], desk.EUnavailable)
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	for _, url := range []string{"", "host=127.0.0.1 dbname=test", "mysql://u@h/db", "postgres://u@h:notaport/db"} {
		t.Run(url, func(t *testing.T) {
			db, err := postgres.Open(t.Context(), url)
			if err == nil {
				db.Close()
			}
			if code := desk.ErrorCode(err); code != desk.EInvalid {
				t.Errorf("Open(%q) = %v (code %q), want code %q", url, err, code, desk.EInvalid)
			}
		})
	}
}

func TestPing(t *testing.T) {
	db := pgtest.Open(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
