package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/search"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
)

// "loadtest dbfloor" is the database's floor for "loadtest messages": a
// bare program that stores in a desk's PostgreSQL database only what the
// desk must store for each message (the event, its search document, the
// sender's read position, the conversation's seq), grouped as the desk's
// writers group them (each writer owning its conversations, up to 64
// messages per transaction), with nothing read, nothing checked and
// nothing delivered, as fast as it can. What the desk does beyond that
// (locking, reading participants, idempotency, the WebSocket side) is
// what separates the two figures.

type dbFloorConfig struct {
	databaseURL   string
	dbPath        string // SQLite instead of PostgreSQL
	conversations int
	writers       int
	batch         int
	duration      time.Duration
	trips         string
	watchComm     string
}

// floorTrips are the ways a transaction's statements can travel: all of
// them in one pipelined round trip, one round trip per message, or one
// per statement (as the desk did before issue 14).
var floorTrips = []string{"batch", "message", "statement"}

func parseDBFloorConfig(args []string, stderr io.Writer) (dbFloorConfig, error) {
	var c dbFloorConfig
	fs := flag.NewFlagSet("loadtest dbfloor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadtest dbfloor --database-url postgres://… | --db file.db [flags]   (a fresh database: it applies the desk's migrations)")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.databaseURL, "database-url", "", "the PostgreSQL database to write to, as the desk's --database-url")
	fs.StringVar(&c.dbPath, "db", "", "or the SQLite file to write to, as the desk's --db (one writer; --writers and --round-trips do not apply)")
	fs.IntVar(&c.conversations, "conversations", 1000, "conversations the messages are spread over, round robin")
	fs.IntVar(&c.writers, "writers", postgres.DefaultWriters, "writers committing side by side, each owning its share of the conversations (the desk's postgres.DefaultWriters)")
	fs.IntVar(&c.batch, "batch", 0, "messages per transaction; 0: as many as the desk's group commit takes on that database (64 on PostgreSQL, sqlite.DB.BatchSize on SQLite)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to write")
	fs.StringVar(&c.trips, "round-trips", "batch", "how a transaction's statements travel: "+strings.Join(floorTrips, ", "))
	fs.StringVar(&c.watchComm, "watch-comm", "postgres", "also report the CPU time of every process with this command name")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	case (c.databaseURL == "") == (c.dbPath == ""):
		return c, errors.New("one of --database-url and --db is required")
	case c.conversations < 1 || c.writers < 1 || c.batch < 0 || c.duration <= 0:
		return c, errors.New("--conversations, --writers and --duration must be positive, --batch 0 or more")
	case !slices.Contains(floorTrips, c.trips):
		return c, fmt.Errorf("--round-trips must be one of %s", strings.Join(floorTrips, ", "))
	}
	return c, nil
}

func (c dbFloorConfig) flags() string {
	return fmt.Sprintf("--conversations %d --writers %d --batch %d --duration %s --round-trips %s",
		c.conversations, c.writers, c.batch, c.duration, c.trips)
}

// floorConv is one conversation as a floor writer keeps it: in memory,
// since nothing is read back.
// printFloorResult prints what was committed and how long transactions
// took, the same on either database.
func printFloorResult(out io.Writer, total int64, lat []time.Duration, elapsed time.Duration) {
	slices.Sort(lat)
	fmt.Fprintf(out, "committed: %d messages in %d transactions over %.2f s = %.0f messages/s\n",
		total, len(lat), elapsed.Seconds(), perSecond(total, elapsed))
	fmt.Fprintf(out, "transaction (begin to commit): p50 %s, p90 %s, p99 %s, max %s\n",
		ms(percentile(lat, 0.50)), ms(percentile(lat, 0.90)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)))
}

// floorHeader prints the run's first lines, the same on either database,
// and returns the run's tag (its conversations are fl-{tag}-…).
func floorHeader(out io.Writer) string {
	fmt.Fprintf(out, "servicedesk load test: database floor for messages, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(out, "client: %s %s/%s, nproc %d, GOMAXPROCS %d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	return strings.ToLower(rand.Text()[:8])
}

type floorConv struct {
	id, employee string
	seq          int64
}

// floorMsg is one message as the floors store it.
type floorMsg struct {
	conv, employee, clientID, body string
	seq                            int64
	data                           []byte // the event's stored JSON
}

// nextMessage advances cv's seq and returns its next message, the k-th of
// the run, as the desk stores an employee's message (the body carries the
// send time, as loadtest messages' do).
func (cv *floorConv) nextMessage(tag string, k int, began time.Time) floorMsg {
	cv.seq++
	m := floorMsg{conv: cv.id, employee: cv.employee, seq: cv.seq,
		clientID: fmt.Sprintf("fl-%s-%s-%d", tag, cv.id, k), body: "lt " + strconv.FormatInt(began.UnixNano(), 10)}
	m.data = messageData(m, began)
	return m
}

// messageData is m's stored JSON, as the desk encodes an employee's
// message created at.
func messageData(m floorMsg, at time.Time) []byte {
	data, _ := json.Marshal(desk.Message{
		ID: m.conv + ":" + strconv.FormatInt(m.seq, 10), Body: m.body, ClientMsgID: m.clientID,
		SenderType: desk.RoleEmployee, SenderID: m.employee, SenderName: "Floor " + m.employee, CreatedAt: at.UTC().Truncate(time.Millisecond),
	})
	return data
}

// pgFloorStmts are what the PostgreSQL floor sends for m, at now.
func pgFloorStmts(m floorMsg, now time.Time) []stmtArgs {
	return []stmtArgs{
		{floorEvent, []any{m.conv, m.seq, m.data, m.employee, m.clientID, now}},
		{floorDoc, []any{m.conv, m.seq, search.Terms(m.body)}},
		{floorRead, []any{m.conv, m.employee, m.seq}},
		{floorConvUpdate, []any{m.conv, m.seq, now}},
	}
}

// floorStats is what one writer did.
type floorStats struct {
	messages int64
	txLat    []time.Duration
	err      error
}

func runDBFloor(ctx context.Context, c dbFloorConfig, out io.Writer) error {
	if c.dbPath != "" {
		return runSQLiteFloor(ctx, c, out)
	}
	if c.batch == 0 {
		c.batch = pgBatch
	}
	// The desk's own migrations: the same tables and indexes it writes.
	db, err := postgres.Open(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	db.Close()
	cfg, err := pgxpool.ParseConfig(c.databaseURL)
	if err != nil {
		return errors.New("--database-url must look like postgres://user:password@host:5432/dbname")
	}
	cfg.MaxConns = int32(c.writers + 1)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	tag := floorHeader(out)
	var version string
	if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}
	fmt.Fprintf(out, "database: PostgreSQL %s, the desk's migrations applied\n", version)
	fmt.Fprintf(out, "parameters: %s\n", c.flags())
	fmt.Fprintln(out, "per message: INSERT events, INSERT search_docs, UPDATE participants (read position), UPDATE conversations (seq); nothing read")
	convs, err := seedFloor(ctx, pool, tag, c.conversations)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "setup: %d conversations (fl-%s-0…%d), each with its employee and agent\n", len(convs), tag, len(convs)-1)

	sessions, err := openDBSessions(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer sessions.close()
	watch := cpuWatch{comms: splitList(c.watchComm)}
	db0 := sessions.sample(ctx)
	before := watch.sample()
	start := time.Now()
	stats := make([]floorStats, c.writers)
	var wg sync.WaitGroup
	for w := range c.writers {
		var mine []*floorConv
		for i := w; i < len(convs); i += c.writers {
			mine = append(mine, &convs[i])
		}
		wg.Go(func() { stats[w] = floorWriter(ctx, pool, c, tag, mine, start.Add(c.duration)) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := watch.sample()
	db1 := sessions.sample(ctx)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}

	var total int64
	var lat []time.Duration
	for _, s := range stats {
		if s.err != nil {
			return s.err
		}
		total += s.messages
		lat = append(lat, s.txLat...)
	}
	printFloorResult(out, total, lat, elapsed)
	printFloorCPU(out, before, after)
	printDBSessions(out, db0, db1, after.at.Sub(before.at))
	return nil
}

// seedFloor creates the conversations, open and claimed, with their two
// participants. Each has a reference number and the employee's client id,
// as every conversation the desk creates does: on PostgreSQL a message's
// update of the row writes an entry in their unique indexes too.
func seedFloor(ctx context.Context, pool *pgxpool.Pool, tag string, n int) ([]floorConv, error) {
	_, err := pool.Exec(ctx, `
		INSERT INTO conversations (id, employee_id, subject, category, status, assignee_id, seq, client_msg_id, ref, created_at, updated_at)
		SELECT 'fl-' || $1 || '-' || i, 'fl-emp-' || $1 || '-' || i, 'floor', 'other', 'open', 'fl-agent', 2, 'create', 'FL-' || $1 || '-' || i, now(), now()
		FROM generate_series(0, $2 - 1) AS i`, tag, n)
	if err != nil {
		return nil, fmt.Errorf("seed conversations: %w", err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO participants (conversation_id, role, user_id, active, last_read_seq, joined_at)
		SELECT 'fl-' || $1 || '-' || i, r.role, CASE r.role WHEN 'agent' THEN 'fl-agent' ELSE 'fl-emp-' || $1 || '-' || i END, true, 2, now()
		FROM generate_series(0, $2 - 1) AS i, (VALUES ('employee'), ('agent')) AS r(role)`, tag, n)
	if err != nil {
		return nil, fmt.Errorf("seed participants: %w", err)
	}
	convs := make([]floorConv, n)
	for i := range convs {
		convs[i] = floorConv{id: fmt.Sprintf("fl-%s-%d", tag, i), employee: fmt.Sprintf("fl-emp-%s-%d", tag, i), seq: 2}
	}
	return convs, nil
}

const (
	floorEvent = `INSERT INTO events (conversation_id, seq, type, data, actor_role, actor_id, private, client_msg_id, created_at)
		VALUES ($1, $2, 'message.created', $3, 'employee', $4, false, $5, $6)`
	floorDoc        = `INSERT INTO search_docs (conversation_id, seq, terms) VALUES ($1, $2, to_tsvector('simple', $3))`
	floorRead       = `UPDATE participants SET last_read_seq = $3 WHERE conversation_id = $1 AND role = 'employee' AND user_id = $2`
	floorConvUpdate = `UPDATE conversations SET seq = $2, public_seq = $2, updated_at = $3 WHERE id = $1`
)

// floorWriter commits transactions of c.batch messages to its
// conversations, round robin, until the deadline. A transaction under way
// then finishes (cancelling it would close its connection, and lose its
// session's CPU time from the figures).
func floorWriter(ctx context.Context, pool *pgxpool.Pool, c dbFloorConfig, tag string, convs []*floorConv, deadline time.Time) floorStats {
	var s floorStats
	next, k := 0, 0
	for ctx.Err() == nil && time.Now().Before(deadline) {
		began := time.Now()
		now := began.UTC().Truncate(time.Millisecond)
		var stmts [][]stmtArgs
		for range c.batch {
			cv := convs[next]
			next = (next + 1) % len(convs)
			k++
			stmts = append(stmts, pgFloorStmts(cv.nextMessage(tag, k, began), now))
		}
		if err := floorCommit(ctx, pool, c.trips, stmts); err != nil {
			s.err = err
			return s
		}
		s.messages += int64(len(stmts))
		s.txLat = append(s.txLat, time.Since(began))
	}
	return s
}

// pgBatch is what the desk's writers commit at most at once on
// PostgreSQL (conversation's maxBatch).
const pgBatch = 64

type stmtArgs struct {
	sql  string
	args []any
}

// floorCommit runs one transaction of messages, each a list of
// statements, travelling as trips says.
func floorCommit(ctx context.Context, pool *pgxpool.Pool, trips string, msgs [][]stmtArgs) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	send := func(stmts []stmtArgs) error {
		var b pgx.Batch
		for _, s := range stmts {
			b.Queue(s.sql, s.args...)
		}
		return tx.SendBatch(ctx, &b).Close()
	}
	switch trips {
	case "batch":
		if err := send(slices.Concat(msgs...)); err != nil {
			return err
		}
	case "message":
		for _, m := range msgs {
			if err := send(m); err != nil {
				return err
			}
		}
	default:
		for _, m := range msgs {
			for _, s := range m {
				if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
					return err
				}
			}
		}
	}
	return tx.Commit(ctx)
}

// printFloorCPU prints where the machine's time went: this program, the
// watched processes (the database), and everything else.
func printFloorCPU(out io.Writer, a, b cpuSample) {
	wall := b.at.Sub(a.at)
	cores := func(d time.Duration) float64 { return float64(d) / float64(wall) }
	floor := b.client - a.client
	line := fmt.Sprintf("cpu over %.2f s, in cores: floor program %.2f", wall.Seconds(), cores(floor))
	accounted := floor
	for i, c := range a.watch.comms {
		d := commDelta(a.watched[i], b.watched[i])
		line += fmt.Sprintf(", %s %.2f", c, cores(d))
		accounted += d
	}
	if b.capacity > a.capacity {
		busy := b.busy - a.busy
		line += fmt.Sprintf(", whole machine %.2f of %.0f busy, everything else %.2f",
			cores(busy), cores(b.capacity-a.capacity), max(0, cores(busy-accounted)))
	}
	fmt.Fprintln(out, line)
}
