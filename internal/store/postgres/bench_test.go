package postgres_test

import (
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
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

func BenchmarkSearch(b *testing.B) {
	db := pgtest.Open(b)
	storetest.BenchSearch(b, db)
}
