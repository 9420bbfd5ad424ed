package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

// "loadtest msgfloor" is the floor for "loadtest messages" as a whole: a
// deliberately bare server answering the run's REST calls from memory and
// relaying each message frame (the event to the conversation's agent and
// employee sockets, then the ack) with nothing checked and no queues. With
// --db or --database-url it also stores each message with dbfloor's
// inserts, batched as the desk's writers batch them, and answers only after
// the commit. dbfloor alone leaves out the sockets, which take the same two
// cores; this is what persisting and delivering costs on this machine at
// best.

type msgFloorConfig struct {
	addr, dbPath, databaseURL string
	writers, batch            int
}

type msgFloor struct {
	cfg      msgFloorConfig
	upgrader websocket.Upgrader
	pong     *websocket.PreparedMessage
	tag      string
	seed     maphash.Seed

	mu     sync.Mutex
	convs  map[string]*mfConv
	agents []*floorConn
	n      int

	sqlite *sqliteFloorWriter // on the desk's SQLite write connection, or nil
	pg     *pgxpool.Pool      // or PostgreSQL, or neither
	queues []chan *mfMsg      // one per writer, conversations sharded over them
}

// mfConv is a conversation; seq is its writer's (or, with no database, its
// employee's reader's) alone.
type mfConv struct {
	id, employee string
	seq          int64
}

// mfMsg is a message on its way to a writer: what is stored, and what
// is sent.
type mfMsg struct {
	floorMsg
	cv    *mfConv
	from  *floorConn
	frame []byte
}

func runMsgFloor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c msgFloorConfig
	fs := flag.NewFlagSet("loadtest msgfloor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8201", "listen address")
	fs.StringVar(&c.dbPath, "db", "", "also store every message in this SQLite file (a fresh one: the desk's migrations are applied), one writer")
	fs.StringVar(&c.databaseURL, "database-url", "", "or in this PostgreSQL database (a fresh one)")
	fs.IntVar(&c.writers, "writers", postgres.DefaultWriters, "PostgreSQL writers, each owning its share of the conversations")
	fs.IntVar(&c.batch, "batch", 0, "messages per transaction at most; 0: as the desk's group commit on that database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.dbPath != "" && c.databaseURL != "" {
		return errors.New("--db and --database-url exclude each other")
	}
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	pong, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
	if err != nil {
		return err
	}
	f := &msgFloor{
		cfg:      c,
		upgrader: websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}},
		pong:     pong,
		tag:      strings.ToLower(strconv.FormatInt(time.Now().UnixNano()%1e9, 36)),
		seed:     maphash.MakeSeed(),
		convs:    map[string]*mfConv{},
	}
	store := "nothing stored"
	writers := 0
	switch {
	case c.dbPath != "":
		db, err := sqlite.Open(ctx, c.dbPath)
		if err != nil {
			return err
		}
		defer db.Close()
		if f.sqlite, err = newSQLiteFloorWriter(ctx, db.BareWriter()); err != nil {
			return err
		}
		defer f.sqlite.close()
		writers = 1
		if f.cfg.batch == 0 {
			f.cfg.batch = db.BatchSize()
		}
		store = "SQLite " + c.dbPath + ", one writer"
	case c.databaseURL != "":
		db, err := postgres.Open(ctx, c.databaseURL) // the desk's migrations
		if err != nil {
			return err
		}
		db.Close()
		if f.pg, err = pgxpool.New(ctx, c.databaseURL); err != nil {
			return err
		}
		defer f.pg.Close()
		writers = c.writers
		if f.cfg.batch == 0 {
			f.cfg.batch = pgBatch
		}
		store = fmt.Sprintf("PostgreSQL, %d writers", writers)
	}
	for range writers {
		q := make(chan *mfMsg, 4096)
		f.queues = append(f.queues, q)
		go f.write(ctx, q)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/agents/login", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"token":"fl-agent-token","agent_id":"fl-agent"}`)
	})
	mux.HandleFunc("POST /api/h5/mock-login", f.mockLogin)
	mux.HandleFunc("POST /api/h5/conversations", f.create)
	mux.HandleFunc("POST /api/conversations/{id}/claim", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{}`)
	})
	mux.HandleFunc("GET /ws/{agent_id}", func(w http.ResponseWriter, r *http.Request) { f.serveWS(w, r, true) })
	mux.HandleFunc("GET /ws/h5/{employee_id}", func(w http.ResponseWriter, r *http.Request) { f.serveWS(w, r, false) })
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "msgfloor: listening on %s, pid %d, %s, up to %d messages per transaction (run loadtest messages with --verify 0)\n",
		ln.Addr(), os.Getpid(), store, f.cfg.batch)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		srv.Close()
	}
	if err == http.ErrServerClosed {
		err = nil
	}
	return err
}

func (f *msgFloor) mockLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		EmployeeID string `json:"employee_id"`
	}
	if json.NewDecoder(r.Body).Decode(&in) != nil || in.EmployeeID == "" {
		http.Error(w, `{"error":{"code":"invalid"}}`, http.StatusBadRequest)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"token": "fl-emp." + in.EmployeeID})
}

// create opens the employee's conversation, claimed by the agent: in the
// database as dbfloor seeds them, when there is one.
func (f *msgFloor) create(w http.ResponseWriter, r *http.Request) {
	emp, ok := strings.CutPrefix(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "fl-emp.")
	if !ok {
		http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	f.n++
	cv := &mfConv{id: fmt.Sprintf("fl-%s-%d", f.tag, f.n), employee: emp, seq: 1}
	f.mu.Unlock()
	if err := f.seed1(r.Context(), cv); err != nil {
		http.Error(w, `{"error":{"code":"unavailable"}}`, http.StatusServiceUnavailable)
		return
	}
	f.mu.Lock()
	f.convs[cv.id] = cv
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"id": cv.id})
}

// seed1 stores a new conversation with its employee and agent, with a
// reference number and a client id as the desk's have (see seedFloor).
func (f *msgFloor) seed1(ctx context.Context, cv *mfConv) error {
	now := time.Now()
	switch {
	case f.sqlite != nil:
		tx, err := f.sqlite.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, employee_id, subject, category, status, assignee_id, seq, client_msg_id, ref, created_at, updated_at)
			VALUES (?, ?, 'floor', 'other', 'open', 'fl-agent', 1, 'create', ?, ?, ?)`, cv.id, cv.employee, cv.id, now.UnixMilli(), now.UnixMilli()); err != nil {
			return err
		}
		for _, p := range [][2]string{{"employee", cv.employee}, {"agent", "fl-agent"}} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO participants (conversation_id, role, user_id, active, last_read_seq, joined_at)
				VALUES (?, ?, ?, 1, 1, ?)`, cv.id, p[0], p[1], now.UnixMilli()); err != nil {
				return err
			}
		}
		return tx.Commit()
	case f.pg != nil:
		_, err := f.pg.Exec(ctx, `WITH c AS (
			INSERT INTO conversations (id, employee_id, subject, category, status, assignee_id, seq, client_msg_id, ref, created_at, updated_at)
			VALUES ($1, $2, 'floor', 'other', 'open', 'fl-agent', 1, 'create', $1, now(), now()))
			INSERT INTO participants (conversation_id, role, user_id, active, last_read_seq, joined_at)
			VALUES ($1, 'employee', $2, true, 1, now()), ($1, 'agent', 'fl-agent', true, 1, now())`, cv.id, cv.employee)
		return err
	}
	return nil
}

// serveWS upgrades, echoing the offered bearer subprotocol unchecked.
func (f *msgFloor) serveWS(w http.ResponseWriter, r *http.Request, agent bool) {
	ws, err := upgradeBearer(f.upgrader, w, r)
	if err != nil {
		return
	}
	c := &floorConn{ws: ws}
	if agent {
		f.mu.Lock()
		f.agents = append(f.agents, c)
		f.mu.Unlock()
	}
	go f.read(c)
}

// read handles c's frames until the connection ends.
func (f *msgFloor) read(c *floorConn) {
	readFrames(c, func(buf []byte) bool {
		var m struct {
			Type           string `json:"type"`
			ConversationID string `json:"conversation_id"`
			ClientMsgID    string `json:"client_msg_id"`
			Body           string `json:"body"`
		}
		if json.Unmarshal(buf, &m) != nil {
			return false
		}
		switch m.Type {
		case "ping":
			c.write(f.pong, time.Now().Add(floorWriteTimeout))
		case "message":
			f.mu.Lock()
			cv := f.convs[m.ConversationID]
			f.mu.Unlock()
			if cv == nil {
				return true
			}
			msg := &mfMsg{cv: cv, from: c, floorMsg: floorMsg{conv: cv.id, employee: cv.employee, clientID: m.ClientMsgID, body: m.Body}}
			if f.queues == nil {
				cv.seq++
				msg.seq = cv.seq
				msg.encode()
				f.deliver(msg)
				return true
			}
			f.queues[maphash.String(f.seed, cv.id)%uint64(len(f.queues))] <- msg
		}
		return true
	})
}

// encode makes the stored event's data and the frame the receivers get,
// as the desk's encoding/json writes them.
func (m *mfMsg) encode() {
	now := time.Now()
	m.data = messageData(m.floorMsg, now)
	m.frame, _ = json.Marshal(struct {
		ConversationID string          `json:"conversation_id"`
		Seq            int64           `json:"seq"`
		Type           string          `json:"type"`
		Data           json.RawMessage `json:"data"`
		CreatedAt      time.Time       `json:"created_at"`
	}{m.conv, m.seq, "message.created", m.data, now.UTC().Truncate(time.Millisecond)})
}

// deliver writes the event to the agent's sockets and the employee's,
// then the ack, from the calling goroutine.
func (f *msgFloor) deliver(m *mfMsg) {
	deadline := time.Now().Add(floorWriteTimeout)
	ev, err := websocket.NewPreparedMessage(websocket.TextMessage, m.frame)
	if err != nil {
		return
	}
	f.mu.Lock()
	agents := f.agents
	f.mu.Unlock()
	for _, a := range agents {
		a.write(ev, deadline)
	}
	m.from.write(ev, deadline)
	ack, _ := json.Marshal(struct {
		Type           string `json:"type"`
		ConversationID string `json:"conversation_id"`
		ClientMsgID    string `json:"client_msg_id"`
		ID             string `json:"id"`
		Seq            int64  `json:"seq"`
		Duplicate      bool   `json:"duplicate"`
	}{"ack", m.conv, m.clientID, m.conv + ":" + strconv.FormatInt(m.seq, 10), m.seq, false})
	if pm, err := websocket.NewPreparedMessage(websocket.TextMessage, ack); err == nil {
		m.from.write(pm, deadline)
	}
}

// write commits what q brings, up to a batch per transaction, and hands
// each committed batch to a goroutine of its own to deliver, so the next
// transaction need not wait for the sockets. A failed commit ends the
// floor: it has no retries to offer.
func (f *msgFloor) write(ctx context.Context, q chan *mfMsg) {
	deliveries := make(chan []*mfMsg, 64)
	go func() {
		for batch := range deliveries {
			for _, m := range batch {
				f.deliver(m)
			}
		}
	}()
	for {
		var batch []*mfMsg
		select {
		case m := <-q:
			batch = append(batch, m)
		case <-ctx.Done():
			return
		}
	fill:
		for len(batch) < f.cfg.batch {
			select {
			case m := <-q:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		for _, m := range batch {
			m.cv.seq++
			m.seq = m.cv.seq
			m.encode()
		}
		var err error
		if f.sqlite != nil {
			err = f.commitSQLite(ctx, batch)
		} else {
			err = f.commitPostgres(ctx, batch)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "msgfloor: commit:", err)
			os.Exit(1)
		}
		deliveries <- batch
	}
}

// commitSQLite stores a batch as dbfloor --db does.
func (f *msgFloor) commitSQLite(ctx context.Context, batch []*mfMsg) error {
	msgs := make([]floorMsg, len(batch))
	for i, m := range batch {
		msgs[i] = m.floorMsg
	}
	return f.sqlite.commit(ctx, msgs, time.Now().UTC().Truncate(time.Millisecond).UnixMilli())
}

// commitPostgres stores a batch as dbfloor does: one pipelined round trip.
func (f *msgFloor) commitPostgres(ctx context.Context, batch []*mfMsg) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	msgs := make([][]stmtArgs, len(batch))
	for i, m := range batch {
		msgs[i] = pgFloorStmts(m.floorMsg, now)
	}
	return floorCommit(ctx, f.pg, "batch", msgs)
}
