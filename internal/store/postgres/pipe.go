package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipe is a transaction's connection with a queue: writes whose answer
// nobody waits for are queued and go out in one pipelined round trip with
// the next statement whose answer is needed (a read, a write that reports
// a conflict, the commit), instead of one round trip each. Each statement
// still runs alone and in order on the server, so a read sees every queued
// write before it.
//
// Savepoints are set lazily too: a savepoint is only needed once something
// it would have to undo reaches the server (a write, or a statement that
// could fail for the command's own reasons), so "SAVEPOINT" is put into
// the round trip just before the first such statement, and a command that
// only read and queued writes never sets one (see tx.Savepoint).
//
// A queued write that fails is reported by the call that sent it, and by
// every call after it until the savepoint it ran in is rolled back: the
// transaction is aborted on the server by then, and what failed must not
// read as a later statement's error.
type pipe struct {
	t     pgx.Tx
	queue []queued
	batch pgx.Batch // reused between round trips
	sent  []queued  // the queue as last sent, savepoints included
	// levels are the open savepoints, outermost first; set once their
	// SAVEPOINT statement was sent.
	levels []bool
	// failed is what a sent queue failed with, and failedDepth the
	// savepoint level a rollback to which recovers from it (0: none
	// does); nil once rolled back.
	failed      error
	failedDepth int
	// everSet: a savepoint was set, so rows written since may carry its
	// subtransaction's id, not the transaction's.
	everSet bool
	// strict: any statement that fails fails the transaction, not only
	// its savepoint (the transaction took something on trust, and will be
	// run again; see tx.speculateOn).
	strict bool
}

// queued is one statement waiting for the next round trip. check, when
// set, judges its outcome (rows affected) once it ran; a statement that
// can fail should rather fail on the server, which then skips the rest of
// the round trip, so that rolling back its savepoint undoes it all. depth
// is the savepoint level it belongs to.
type queued struct {
	sql   string
	args  []any
	doing string
	check func(pgconn.CommandTag) error
	depth int
}

// stmt is a statement whose results are read at once.
type stmt struct {
	sql  string
	args []any
}

var _ querier = (*pipe)(nil)

// depth is how many savepoints are open.
func (p *pipe) depth() int { return len(p.levels) }

// enqueue adds a statement of the innermost savepoint to the next round
// trip.
func (p *pipe) enqueue(q queued) {
	q.depth = p.depth()
	p.queue = append(p.queue, q)
}

// flush sends the queue, if any, and waits for it.
func (p *pipe) flush(ctx context.Context) error {
	if p.failed != nil || len(p.queue) == 0 {
		return p.failed
	}
	br := p.send(ctx, false)
	err := p.drain(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = p.fail(dbError(cerr, "send queued statements"))
	}
	return err
}

// send starts a round trip with the queue, then the statements in then,
// whose results the caller reads from the returned batch after drain.
// safe says that then only reads, with arguments PostgreSQL takes, so it
// needs no savepoint of its own. The queue is empty afterwards.
func (p *pipe) send(ctx context.Context, safe bool, then ...stmt) pgx.BatchResults {
	p.sent = p.sent[:0]
	for _, q := range p.queue {
		p.setLevels(q.depth) // a queued statement writes
		p.sent = append(p.sent, q)
	}
	if !safe {
		p.setLevels(p.depth())
	}
	p.queue = p.queue[:0]
	b := &p.batch
	b.QueuedQueries = b.QueuedQueries[:0]
	for _, q := range p.sent {
		b.Queue(q.sql, q.args...)
	}
	for _, s := range then {
		b.Queue(s.sql, s.args...)
	}
	return p.t.SendBatch(ctx, b)
}

// setLevels puts into the round trip being built the savepoints not set
// yet up to level depth: what follows may need undoing.
func (p *pipe) setLevels(depth int) {
	for l := range depth {
		if !p.levels[l] {
			p.levels[l] = true
			p.sent = append(p.sent, queued{sql: "SAVEPOINT sp", doing: "savepoint", depth: l})
			p.everSet = true
		}
	}
}

// drain reads the results of the queued statements sent with br, in
// order; the first that failed fails the pipe.
func (p *pipe) drain(br pgx.BatchResults) error {
	for _, q := range p.sent {
		tag, err := br.Exec()
		depth := q.depth
		if err == nil && q.check != nil {
			// The statement did not fail, so those after it ran: only
			// rolling back the whole transaction undoes them.
			err, depth = q.check(tag), 0
		}
		if err != nil {
			if p.strict {
				depth = 0
			}
			if p.failed == nil {
				p.failed, p.failedDepth = dbError(err, q.doing), depth
			}
			return p.failed
		}
	}
	return nil
}

// fail records err, which the round trip as a whole failed with, as the
// pipe's failure and returns it.
func (p *pipe) fail(err error) error {
	if p.failed == nil {
		p.failed, p.failedDepth = err, 0
	}
	return p.failed
}

// aborted reports whether PostgreSQL refuses everything but a rollback.
func (p *pipe) aborted() bool { return p.t.Conn().PgConn().TxStatus() == 'E' }

// Exec runs sql now, with the queue before it.
func (p *pipe) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if p.failed != nil {
		return pgconn.CommandTag{}, p.failed
	}
	if len(p.queue) == 0 && p.allSet() {
		return p.t.Exec(ctx, sql, args...)
	}
	br := p.send(ctx, false, stmt{sql, args})
	defer br.Close()
	if err := p.drain(br); err != nil {
		return pgconn.CommandTag{}, err
	}
	return br.Exec()
}

// Query runs sql now, with the queue before it.
func (p *pipe) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if p.failed != nil {
		return nil, p.failed
	}
	safe := safeRead(sql, args)
	if len(p.queue) == 0 && (safe || p.allSet()) {
		return p.t.Query(ctx, sql, args...)
	}
	br := p.send(ctx, safe, stmt{sql, args})
	if err := p.drain(br); err != nil {
		br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// QueryRow runs sql now, with the queue before it.
func (p *pipe) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := p.Query(ctx, sql, args...)
	return &pipeRow{rows: rows, err: err}
}

func (p *pipe) allSet() bool {
	for _, set := range p.levels {
		if !set {
			return false
		}
	}
	return true
}

// safeRead reports whether sql only reads (a SELECT; FOR UPDATE locks
// linger until the transaction ends, which undoes nothing) with arguments
// PostgreSQL takes: it can fail only for the transaction's reasons
// (connection, deadlock), never a command's own, so it needs no savepoint.
func safeRead(sql string, args []any) bool {
	sql = strings.TrimLeft(sql, " \t\n")
	if len(sql) < 6 || !strings.EqualFold(sql[:6], "SELECT") {
		return false
	}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			if !plain(a) {
				return false
			}
		case []byte:
			if !plain(string(a)) {
				return false
			}
		}
	}
	return true
}

// batchRows closes its batch with itself, so the connection is free for
// the next statement.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.Rows.Err()
	if err := r.br.Close(); r.err == nil {
		r.err = err
	}
}

func (r *batchRows) Err() error {
	if r.closed {
		return r.err
	}
	return r.Rows.Err()
}

func (r *batchRows) Next() bool {
	if r.closed {
		return false
	}
	if !r.Rows.Next() {
		r.Close()
		return false
	}
	return true
}

// pipeRow is QueryRow's answer, as pgx's own: ErrNoRows if there is none,
// the first row otherwise.
type pipeRow struct {
	rows pgx.Rows
	err  error
}

func (r *pipeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
