package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/servicedesk/servicedesk/internal/search"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

// The SQLite floor writes what the desk's SQLite writer must write per
// message, on the desk's own write connection (sqlite.BareWriter: same
// pragmas, same checkpointer), with every statement prepared once, and
// the search documents at the end of each transaction as the desk writes
// them. One writer: the desk has one write connection.
const (
	sqliteFloorEvent = `INSERT INTO events (conversation_id, seq, type, actor_role, actor_id, private, client_msg_id, data, created_at)
		VALUES (?, ?, 'message.created', 'employee', ?, 0, ?, ?, ?)`
	sqliteFloorRead = `UPDATE participants SET last_read_seq = ? WHERE conversation_id = ? AND role = 'employee' AND user_id = ?`
	sqliteFloorConv = `UPDATE conversations SET seq = ?, public_seq = ?, updated_at = ? WHERE id = ?`
	sqliteFloorDoc  = `INSERT INTO search_docs (conversation_id, seq) VALUES (?, ?) RETURNING id`
	// All of a transaction's terms in one statement, as the desk writes
	// them: FTS5 flushes its pending terms at every statement that writes it.
	sqliteFloorTerms = `INSERT INTO search_terms (rowid, terms) SELECT value ->> 0, value ->> 1 FROM json_each(?)`
)

func runSQLiteFloor(ctx context.Context, c dbFloorConfig, out io.Writer) error {
	db, err := sqlite.Open(ctx, c.dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	w := db.BareWriter()
	if c.batch == 0 {
		c.batch = db.BatchSize()
	}

	tag := floorHeader(out)
	var version string
	if err := w.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err != nil {
		return err
	}
	fmt.Fprintf(out, "database: SQLite %s at %s, the desk's migrations and write connection\n", version, c.dbPath)
	fmt.Fprintf(out, "parameters: --db %s --conversations %d --batch %d --duration %s\n", c.dbPath, c.conversations, c.batch, c.duration)
	fmt.Fprintln(out, "per message: INSERT events, UPDATE participants (read position), UPDATE conversations (seq); at the end of the transaction INSERT search_docs per message and search_terms (FTS5) in one statement; nothing read, one writer, statements prepared once")
	convs, err := seedSQLiteFloor(ctx, w, tag, c.conversations)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "setup: %d conversations (fl-%s-0…%d), each with its employee and agent\n", len(convs), tag, len(convs)-1)

	fw, err := newSQLiteFloorWriter(ctx, w)
	if err != nil {
		return err
	}
	defer fw.close()
	watch := cpuWatch{}
	before := watch.sample()
	start := time.Now()
	deadline := start.Add(c.duration)
	var total int64
	var lat []time.Duration
	next, k := 0, 0
	// Statements do not see ctx's cancellation, as the desk's do not (see
	// sqlite.DB.Update); the loop checks it between transactions.
	stop := ctx
	ctx = context.WithoutCancel(ctx)
	for stop.Err() == nil && time.Now().Before(deadline) {
		began := time.Now()
		now := began.UTC().Truncate(time.Millisecond).UnixMilli()
		msgs := make([]floorMsg, c.batch)
		for i := range msgs {
			cv := &convs[next]
			next = (next + 1) % len(convs)
			k++
			msgs[i] = cv.nextMessage(tag, k, began)
		}
		if err := fw.commit(ctx, msgs, now); err != nil {
			return err
		}
		total += int64(c.batch)
		lat = append(lat, time.Since(began))
	}
	elapsed := time.Since(start)
	after := watch.sample()
	printFloorResult(out, total, lat, elapsed)
	printFloorCPU(out, before, after)
	return nil
}

// seedSQLiteFloor creates the conversations, open and claimed, with their
// two participants, in one transaction.
func seedSQLiteFloor(ctx context.Context, w *sql.DB, tag string, n int) ([]floorConv, error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := time.Now().UnixMilli()
	convs := make([]floorConv, n)
	for i := range convs {
		cv := floorConv{id: fmt.Sprintf("fl-%s-%d", tag, i), employee: fmt.Sprintf("fl-emp-%s-%d", tag, i), seq: 2}
		convs[i] = cv
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, employee_id, subject, category, status, assignee_id, seq, client_msg_id, ref, created_at, updated_at)
			VALUES (?, ?, 'floor', 'other', 'open', 'fl-agent', 2, 'create', ?, ?, ?)`, cv.id, cv.employee, cv.id, now, now); err != nil {
			return nil, fmt.Errorf("seed conversations: %w", err)
		}
		for _, p := range [][2]string{{"employee", cv.employee}, {"agent", "fl-agent"}} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO participants (conversation_id, role, user_id, active, last_read_seq, joined_at)
				VALUES (?, ?, ?, 1, 2, ?)`, cv.id, p[0], p[1], now); err != nil {
				return nil, fmt.Errorf("seed participants: %w", err)
			}
		}
	}
	return convs, tx.Commit()
}

// sqliteFloorWriter stores messages as the desk's SQLite writer must, on
// the desk's write connection, with its statements prepared once.
type sqliteFloorWriter struct {
	w     *sql.DB
	stmts map[string]*sql.Stmt
}

func newSQLiteFloorWriter(ctx context.Context, w *sql.DB) (*sqliteFloorWriter, error) {
	fw := &sqliteFloorWriter{w: w, stmts: map[string]*sql.Stmt{}}
	for _, q := range []string{sqliteFloorEvent, sqliteFloorRead, sqliteFloorConv, sqliteFloorDoc, sqliteFloorTerms} {
		s, err := w.PrepareContext(ctx, q)
		if err != nil {
			fw.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		fw.stmts[q] = s
	}
	return fw, nil
}

func (fw *sqliteFloorWriter) close() {
	for _, s := range fw.stmts {
		s.Close()
	}
}

// commit stores msgs in one transaction, at now (Unix milliseconds): per
// message the event, the read position and the seq, then the search
// documents and all their terms at the end, as the desk writes them. Its
// statements do not see ctx's cancellation, as the desk's do not (see
// sqlite.DB.Update).
func (fw *sqliteFloorWriter) commit(ctx context.Context, msgs []floorMsg, now int64) error {
	ctx = context.WithoutCancel(ctx)
	tx, err := fw.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) error {
		_, err := tx.StmtContext(ctx, fw.stmts[q]).ExecContext(ctx, args...)
		return err
	}
	for _, m := range msgs {
		if err := exec(sqliteFloorEvent, m.conv, m.seq, m.employee, m.clientID, string(m.data), now); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if err := exec(sqliteFloorRead, m.seq, m.conv, m.employee); err != nil {
			return fmt.Errorf("update participant: %w", err)
		}
		if err := exec(sqliteFloorConv, m.seq, m.seq, now, m.conv); err != nil {
			return fmt.Errorf("update conversation: %w", err)
		}
	}
	terms := make([][2]any, len(msgs))
	for i, m := range msgs {
		var id int64
		if err := tx.StmtContext(ctx, fw.stmts[sqliteFloorDoc]).QueryRowContext(ctx, m.conv, m.seq).Scan(&id); err != nil {
			return fmt.Errorf("insert search doc: %w", err)
		}
		terms[i] = [2]any{id, search.Terms(m.body)}
	}
	all, _ := json.Marshal(terms)
	if err := exec(sqliteFloorTerms, string(all)); err != nil {
		return fmt.Errorf("insert search terms: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
