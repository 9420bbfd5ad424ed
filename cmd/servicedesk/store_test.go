package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

// TestTimedStoreKeepsBatchSize: the metrics wrapper must not hide the
// store's batch size from the writer, or SQLite commits PostgreSQL's.
func TestTimedStoreKeepsBatchSize(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if got, want := (timedStore{ConversationStore: db}).BatchSize(), db.BatchSize(); got != want || want <= 64 {
		t.Fatalf("timedStore.BatchSize() = %d, SQLite's %d (want the same, above 64)", got, want)
	}
}
