package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.ConversationStore = (*DB)(nil)

// Update runs fn in one transaction on the write connection. BEGIN
// IMMEDIATE takes SQLite's write lock up front, so transactions run one at
// a time, in the order they get the connection, and never fail halfway
// with SQLITE_BUSY. It commits only if fn returns nil, and returns fn's
// error unchanged; a panic in fn rolls back and carries on up.
//
// Neither the transaction nor its statements see ctx's cancellation: with a
// context that can end, database/sql starts a goroutine per transaction and
// per query, and the driver one per statement, to interrupt it (modernc's
// interruptOnDone), which at a few statements per message was a good part
// of the writer's time. ctx is checked before each statement instead, so a
// transaction whose ctx ended stops at its next statement and rolls back;
// only a statement already running is not cut short, and SQLite's run on a
// local file.
func (db *DB) Update(ctx context.Context, fn func(tx desk.ConversationTx) error) error {
	// The connection is held past COMMIT, so the write cache's counter is
	// read before any other write can reach the connection (writecache.go).
	conn, err := db.write.Conn(context.WithoutCancel(ctx))
	if err != nil {
		return dbError(err, "begin transaction")
	}
	defer conn.Close()
	sqlTx, err := conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return dbError(err, "begin transaction")
	}
	cache := db.cache
	cache.mu.Lock()
	defer cache.mu.Unlock()
	committed := false
	defer func() {
		if !committed {
			sqlTx.Rollback()
			// What the transaction read or wrote may be in the cache.
			cache.reset()
		}
	}()
	run := &runner{tx: sqlTx, stmts: db.writeStmts}
	tx := &convTx{reader: reader{run}, run: run, cache: cache}
	version, err := cache.begin(ctx, run)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.flushIndex(ctx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return dbError(err, "commit")
	}
	committed = true
	cache.committed(context.WithoutCancel(ctx), conn, version)
	return nil
}

// convTx is desk.ConversationTx on one write transaction. Like the
// *sql.Tx under it, it is for the goroutine running Update's fn only.
type convTx struct {
	reader
	run   *runner
	depth int // open savepoints
	// index is what Index was given, written at the end of the
	// transaction: FTS5 flushes its pending terms to a new segment at
	// every savepoint's release, so indexing inside each command's
	// savepoint wrote (and later merged) one segment per message.
	index []indexEntry
	// cache stands in for reads of conversations and participants
	// (writecache.go); touched lists the conversations this transaction
	// put in it or changed there, so a savepoint rolled back can drop its
	// share.
	cache   *writeCache
	touched []string
}

// Conversation reads through the write cache.
func (t *convTx) Conversation(ctx context.Context, id string) (desk.Conversation, error) {
	if c, ok := t.cache.conv(id); ok {
		return c, nil
	}
	c, err := t.reader.Conversation(ctx, id)
	if err != nil {
		return c, err
	}
	t.cache.putConv(c)
	t.touched = append(t.touched, id)
	return c, nil
}

// Participants reads through the write cache.
func (t *convTx) Participants(ctx context.Context, conversationID string) ([]desk.Participant, error) {
	if ps, ok := t.cache.participants(conversationID); ok {
		return ps, nil
	}
	ps, err := t.reader.Participants(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	t.cache.putParticipants(conversationID, ps)
	t.touched = append(t.touched, conversationID)
	return ps, nil
}

// NextNumber counts up the named counter in this transaction.
func (t *convTx) NextNumber(ctx context.Context, name string) (int64, error) {
	var n int64
	err := t.run.queryRow(ctx, `INSERT INTO counters (name, value) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`, name).Scan(&n)
	return n, dbError(err, "count "+name)
}

// ConversationForUpdate is Conversation: the transaction already holds
// SQLite's only write lock, so the row cannot change under it.
func (t *convTx) ConversationForUpdate(ctx context.Context, id string) (desk.Conversation, error) {
	return t.Conversation(ctx, id)
}

func (t *convTx) CreateConversation(ctx context.Context, c desk.Conversation) error {
	_, err := t.run.exec(ctx, qInsertConversation,
		c.ID, c.EmployeeID, c.Subject, c.Category, string(c.Status), c.AssigneeID, c.Seq, c.ClientMsgID,
		millis(c.CreatedAt), millis(c.UpdatedAt), nullMillis(c.QueuedAt), nullMillis(c.ResolvedAt), c.PublicSeq, c.BroadcastSeq,
		c.Ref, c.Priority, c.Type, encodeTags(c.Tags), c.TeamID)
	t.cache.forget(c.ID) // nothing should be there; read it back when needed
	return dbError(err, "create conversation")
}

func (t *convTx) SaveConversation(ctx context.Context, c desk.Conversation) error {
	var res sql.Result
	var err error
	if old, ok := t.cache.convs[c.ID]; ok && old.Status == c.Status && old.AssigneeID == c.AssigneeID &&
		nullMillis(old.QueuedAt) == nullMillis(c.QueuedAt) && nullMillis(old.ResolvedAt) == nullMillis(c.ResolvedAt) &&
		old.Priority == c.Priority && old.Type == c.Type && slices.Equal(old.Tags, c.Tags) {
		res, err = t.run.exec(ctx, qUpdateConversationSeqs, c.Seq, millis(c.UpdatedAt), c.PublicSeq, c.BroadcastSeq, c.ID)
	} else {
		res, err = t.run.exec(ctx, qUpdateConversation,
			string(c.Status), c.AssigneeID, c.Seq, millis(c.UpdatedAt), nullMillis(c.QueuedAt), nullMillis(c.ResolvedAt),
			c.PublicSeq, c.BroadcastSeq, c.Priority, c.Type, encodeTags(c.Tags), c.ID)
	}
	if err != nil {
		return dbError(err, "save conversation")
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError(err, "save conversation")
	} else if n == 0 {
		return desk.Errorf(desk.ENotFound, "conversation not found")
	}
	t.cache.saved(c)
	t.touched = append(t.touched, c.ID)
	return nil
}

func (t *convTx) SaveParticipant(ctx context.Context, conversationID string, p desk.Participant) error {
	_, err := t.run.exec(ctx, qUpsertParticipant,
		conversationID, string(p.Role), p.ID, p.Active, p.LastReadSeq, millis(p.JoinedAt))
	if err != nil {
		// The statement failed alone; what the cache holds of it is
		// unknown, so it goes.
		t.cache.forget(conversationID)
		return dbError(err, "save participant")
	}
	t.cache.savedParticipant(conversationID, p)
	t.touched = append(t.touched, conversationID)
	return nil
}

func (t *convTx) AppendEvent(ctx context.Context, ev desk.ConvEvent) error {
	data := string(ev.Data)
	if data == "" {
		data = "null"
	}
	_, err := t.run.exec(ctx, qInsertEvent,
		ev.ConversationID, ev.Seq, string(ev.Type), string(ev.Actor.Role), ev.Actor.ID,
		ev.Private, ev.ClientMsgID, data, millis(ev.CreatedAt))
	return dbError(err, "append event")
}

func (t *convTx) SaveEmployee(ctx context.Context, e desk.Employee) error {
	_, err := t.run.exec(ctx, qUpsertEmployee, e.ID, e.Name, e.Department, e.Position, millis(e.UpdatedAt))
	t.cache.forgetEmployee(e.ID) // their name is joined into participants
	return dbError(err, "save employee")
}

// Savepoint names each savepoint by its nesting depth, which keeps names
// unique among the open ones and the statements few (so they stay
// prepared).
func (t *convTx) Savepoint(ctx context.Context, fn func() error) error {
	t.depth++
	defer func() { t.depth-- }()
	name := "sp_" + strconv.Itoa(t.depth)
	if _, err := t.run.exec(ctx, "SAVEPOINT "+name); err != nil {
		return dbError(err, "savepoint")
	}
	indexed, touched := len(t.index), len(t.touched)
	if err := fn(); err != nil {
		t.index = t.index[:indexed] // undone with the rest of fn
		for _, id := range t.touched[touched:] {
			t.cache.forget(id) // read or written in what is undone
		}
		t.touched = t.touched[:touched]

		// ROLLBACK TO undoes fn's writes but leaves the savepoint open.
		_, rerr := t.run.exec(ctx, "ROLLBACK TO "+name)
		if rerr == nil {
			_, rerr = t.run.exec(ctx, "RELEASE "+name)
		}
		if rerr != nil {
			return errors.Join(err, dbError(rerr, "roll back to savepoint"))
		}
		return err
	}
	_, err := t.run.exec(ctx, "RELEASE "+name)
	return dbError(err, "release savepoint")
}

// dbError turns a driver error into the domain's: a unique or primary key
// violation is EConflict, a missing parent row (foreign key) ENotFound, a
// database locked by another process EUnavailable, and anything else is
// wrapped with what we were doing. nil stays nil.
func dbError(err error, doing string) error {
	if err == nil {
		return nil
	}
	var serr *sqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return desk.Wrap(desk.EConflict, fmt.Errorf("%s: %w", doing, err), "already exists")
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return desk.Wrap(desk.ENotFound, fmt.Errorf("%s: %w", doing, err), "conversation not found")
		}
		switch serr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return desk.Wrap(desk.EUnavailable, fmt.Errorf("%s: %w", doing, err), "database busy")
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// runner runs statements on the read pool (tx nil) or in a write
// transaction. The hot statements are prepared once per pool at Open
// (stmts); in a transaction each is bound to it on first use (bound).
type runner struct {
	pool  *sql.DB
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	bound map[string]*sql.Stmt
}

// inTx returns the context a transaction's statement runs under (see
// Update): ctx itself once it has ended, so that the statement fails with
// its error before it starts.
func (r *runner) inTx(ctx context.Context) context.Context {
	if r.tx == nil || ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// stmt returns query's prepared statement, or nil if it has none.
func (r *runner) stmt(ctx context.Context, query string) *sql.Stmt {
	s := r.stmts[query]
	if s == nil || r.tx == nil {
		return s
	}
	if b := r.bound[query]; b != nil {
		return b
	}
	b := r.tx.StmtContext(ctx, s)
	if r.bound == nil {
		r.bound = make(map[string]*sql.Stmt)
	}
	r.bound[query] = b
	return b
}

func (r *runner) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = r.inTx(ctx)
	if s := r.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	if r.tx != nil {
		return r.tx.ExecContext(ctx, query, args...)
	}
	return r.pool.ExecContext(ctx, query, args...)
}

func (r *runner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = r.inTx(ctx)
	if s := r.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	if r.tx != nil {
		return r.tx.QueryContext(ctx, query, args...)
	}
	return r.pool.QueryContext(ctx, query, args...)
}

func (r *runner) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = r.inTx(ctx)
	if s := r.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	if r.tx != nil {
		return r.tx.QueryRowContext(ctx, query, args...)
	}
	return r.pool.QueryRowContext(ctx, query, args...)
}

// prepare prepares queries on pool.
func prepare(ctx context.Context, pool *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	stmts := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		s, err := pool.PrepareContext(ctx, q)
		if err != nil {
			closeStmts(stmts)
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		stmts[q] = s
	}
	return stmts, nil
}

func closeStmts(stmts map[string]*sql.Stmt) {
	for _, s := range stmts {
		s.Close()
	}
}

// writeBatch is BatchSize: under load, a commit's cost is mostly the
// pages it writes to the WAL, and the more messages share a transaction
// the more of those pages they share (the conversations' rows and list
// indexes, the participants): at 256 rather than 64, BenchmarkSend spent
// a quarter less time committing per message. SQLite's savepoints have no
// limit like PostgreSQL's cached subtransactions, and at under 100 µs a
// message a full batch still commits within tens of milliseconds.
const writeBatch = 256

// BatchSize is how many commands the desk's writer should commit in one
// transaction at most.
func (db *DB) BatchSize() int { return writeBatch }
