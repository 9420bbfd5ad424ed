package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/storetest"
)

func TestConversationStoreContract(t *testing.T) {
	storetest.RunConversationStore(t, func(t *testing.T) desk.ConversationStore {
		return openTest(t, filepath.Join(t.TempDir(), "desk.db"))
	})
}

func TestWriteConnectionSyncsNormally(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "desk.db"))
	var sync int
	if err := db.write.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 1 {
		t.Errorf("write connection synchronous = %d, want 1 (NORMAL)", sync)
	}
}

// TestListPlans keeps each list a walk of one index in the list's order
// that stops at the limit: no full scan, no sort of the matching rows.
// Several statuses (not just [queued]) are left out: they sort the rows
// of those statuses, which only pays off once SQLite has statistics.
func TestListPlans(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "desk.db"))
	viewer := desk.Principal{Role: desk.RoleAgent, ID: "agt_1"}
	after := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	queued, open := []desk.Status{desk.StatusQueued}, []desk.Status{desk.StatusOpen}
	tests := []struct {
		name string
		q    desk.ConversationQuery
	}{
		{"all", desk.ConversationQuery{Viewer: viewer, Limit: 50}},
		{"queued", desk.ConversationQuery{Statuses: queued, Viewer: viewer, Limit: 50}},
		{"queued, next page", desk.ConversationQuery{Statuses: queued, AfterTime: after, AfterID: "c", Limit: 50}},
		{"open, next page", desk.ConversationQuery{Statuses: open, AfterTime: after, AfterID: "c", Limit: 50}},
		{"an employee's", desk.ConversationQuery{EmployeeID: "emp_1", Limit: 50}},
		{"an agent's open", desk.ConversationQuery{ParticipantAgentID: "agt_1", Statuses: open, Viewer: viewer, Limit: 50}},
		{"an agent's handed over", desk.ConversationQuery{FormerAgentID: "agt_1", Statuses: open, Viewer: viewer, Limit: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query, args := listQuery(tt.q)
			plan := queryPlan(t, db, query, args...)
			for _, line := range plan {
				fullScan := strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, " USING ") && line != "SCAN page"
				if fullScan || strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("plan step %q in:\n\t%s", line, strings.Join(plan, "\n\t"))
				}
			}
		})
	}
}

func queryPlan(t *testing.T, db *DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// The benchmarks are the stores' shared ones; see storetest/bench.go.

func BenchmarkAppendMessages(b *testing.B) {
	storetest.BenchAppendMessages(b, func(b *testing.B) desk.ConversationStore { return openBench(b) })
}

func BenchmarkListConversations(b *testing.B) {
	storetest.BenchListConversations(b, openBench(b), nil)
}

func openBench(b *testing.B) *DB {
	db, err := Open(context.Background(), filepath.Join(b.TempDir(), "desk.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func BenchmarkSearch(b *testing.B) {
	storetest.BenchSearch(b, openBench(b))
}

// TestUpdateStopsWhenCtxEnds: statements run without ctx's cancellation
// (see Update), so the transaction itself must stop at its next statement
// once ctx has ended, and keep nothing.
func TestUpdateStopsWhenCtxEnds(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "desk.db"))
	storetest.SeedConversations(t, db, []string{"cnv_1"}, 0)
	ctx, cancel := context.WithCancel(context.Background())
	err := db.Update(ctx, func(tx desk.ConversationTx) error {
		if err := tx.SaveEmployee(ctx, desk.Employee{ID: "emp_9", Name: "王五"}); err != nil {
			t.Fatalf("before cancel: %v", err)
		}
		cancel()
		_, err := tx.ConversationForUpdate(ctx, "cnv_1")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read after cancel: %v, want context.Canceled", err)
		}
		return tx.SaveEmployee(ctx, desk.Employee{ID: "emp_10", Name: "赵六"})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update after cancel: %v, want context.Canceled", err)
	}
	if _, err := db.Employee(context.Background(), "emp_9"); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("write made before the cancel was kept: %v", err)
	}
}
