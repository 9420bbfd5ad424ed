package postgres_test

import (
	"os"
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/storetest"
)

// The benchmarks are the stores' shared ones (storetest/bench.go), so the
// two stores compare like for like.

func BenchmarkAppendMessages(b *testing.B) {
	storetest.BenchAppendMessages(b, func(b *testing.B) desk.ConversationStore { return pgtest.Open(b) })
}

func BenchmarkListConversations(b *testing.B) {
	db := pgtest.Open(b)
	storetest.BenchListConversations(b, db, func() error { return db.Analyze(b.Context()) })
}

// BenchmarkSearch seeds a fresh schema, or with
// SERVICEDESK_BENCH_SEARCH_SCHEMA=name seeds that schema once and searches
// it as it is on later runs (drop it when done).
func BenchmarkSearch(b *testing.B) {
	var db *postgres.DB
	if schema := os.Getenv("SERVICEDESK_BENCH_SEARCH_SCHEMA"); schema != "" {
		db = pgtest.OpenKept(b, schema)
	} else {
		db = pgtest.Open(b)
	}
	storetest.BenchSearch(b, db)
}
