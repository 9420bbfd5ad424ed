package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenUnmigrated returns a DB on url without connecting, for tests of a
// server that is not there.
func OpenUnmigrated(url string) (*DB, error) {
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		return nil, err
	}
	return &DB{pool: pool, reader: reader{q: pool}}, nil
}

// Analyze gathers the planner's statistics now, as autovacuum would soon
// after a bulk load, so benchmarks measure the plans production gets.
func (db *DB) Analyze(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, "ANALYZE")
	return err
}

// SetAgentDocsMax makes an agent's search read their conversations whole
// only up to n documents, so a small desk can take the path a large one
// would.
func (db *DB) SetAgentDocsMax(n int) { db.agentDocsMax = n }
