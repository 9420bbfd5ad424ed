package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// dbSessions samples the CPU time of the PostgreSQL server processes that
// serve one database. --watch-comm postgres counts every database on the
// server (and its background workers); on a server shared with other jobs
// only this figure is the run's own. It needs the server on this machine.
type dbSessions struct {
	pool *pgxpool.Pool
}

// openDBSessions connects to url; "" gives a dbSessions that samples
// nothing.
func openDBSessions(ctx context.Context, url string) (dbSessions, error) {
	if url == "" {
		return dbSessions{}, nil
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return dbSessions{}, fmt.Errorf("--database-url must look like postgres://user:password@host:5432/dbname")
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	return dbSessions{pool: pool}, err
}

func (s dbSessions) close() {
	if s.pool != nil {
		s.pool.Close()
	}
}

// sample returns each session's CPU time so far, by process id; nil if
// there is nothing to sample or the sessions could not be listed.
func (s dbSessions) sample(ctx context.Context) map[int]time.Duration {
	if s.pool == nil {
		return nil
	}
	rows, err := s.pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			if t, err := processCPU(pid); err == nil {
				out[pid] = t
			}
		}
	}
	return out
}

// printDBSessions prints what the database's sessions used between two
// samples taken wall apart.
func printDBSessions(out io.Writer, a, b map[int]time.Duration, wall time.Duration) {
	if a == nil || b == nil || wall <= 0 {
		return
	}
	fmt.Fprintf(out, "database sessions: %.2f cores (%d sessions of this database; \"postgres\" above counts the whole server)\n",
		float64(commDelta(a, b))/float64(wall), len(b))
}
