package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenUnmigrated returns a DB on url without connecting, for tests of a
// server that is not there.
func OpenUnmigrated(url string) (*DB, error) {
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		return nil, err
	}
	return newDB(pool), nil
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

// OpenCounting opens url, migrated, as Open does, with every round trip
// its connections make counted in trips: a statement sent alone, or a
// pipelined batch of them.
func OpenCounting(ctx context.Context, url string) (*DB, *atomic.Int64, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, err
	}
	trips := &tripCounter{}
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return newDB(pool), &trips.n, nil
}

type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// SetSpeculation turns on or off (it is on by default) the writer's taking
// of cached conversations without reading them first, for tests of the
// path that reads them under the lock.
func (db *DB) SetSpeculation(on bool) { db.noSpeculation = !on }
