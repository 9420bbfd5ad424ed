// Package hub keeps the live WebSocket connections of one node and fans
// events out to them.
//
// Delivery never waits on a client: each connection has a bounded outbound
// queue drained by its own writer, and a connection whose queue overflows is
// closed as a slow consumer while everyone else keeps receiving. A broadcast
// is encoded once (one frame, frame.go) however many connections
// receive it.
package hub

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Options tune a Hub.
type Options struct {
	// Node prefixes connection ids, so logs from several nodes never
	// share one.
	Node string
	// SendQueueBytes caps the outbound bytes queued per connection.
	SendQueueBytes int
	// PingInterval is how often each connection is pinged.
	PingInterval time.Duration
	// WriteTimeout bounds one frame's write to the socket.
	WriteTimeout time.Duration
	// Observer, if set, is told of connections and frames, for metrics.
	Observer Observer
	// Fill reads what a connection missed of a conversation, to fill a gap
	// in its stream (stream.go). Without it gaps are skipped over.
	Fill Filler
	// GapWait is how long a gap may stay open before it is filled from
	// the store (DefaultGapWait).
	GapWait time.Duration
	// OnAgentOnline, if set, is called when an agent's first connection on
	// this node opens (true) or its last one closes (false). It is called
	// with the hub locked, so it must return at once and not call back
	// into the hub.
	OnAgentOnline func(agentID string, online bool)
}

// Observer is told what the hub does. Its methods are called on hot paths,
// some with the hub locked: they must be cheap and must not block.
type Observer interface {
	ConnOpened(role desk.Role)
	ConnClosed(role desk.Role)
	FramesQueued(n int)
	SlowConsumer()
	Delivered(time.Duration)
	// GapFilled: a connection's stream missed an event and is read from
	// the store.
	GapFilled()
}

type noObserver struct{}

func (noObserver) ConnOpened(desk.Role)    {}
func (noObserver) ConnClosed(desk.Role)    {}
func (noObserver) FramesQueued(int)        {}
func (noObserver) SlowConsumer()           {}
func (noObserver) Delivered(time.Duration) {}
func (noObserver) GapFilled()              {}

// pingBuckets spreads pings over the interval, so 10,000 connections get
// 10,000/pingBuckets pings per tick instead of one burst.
const pingBuckets = 8

// ErrShuttingDown is returned by Register once Shutdown has begun.
var ErrShuttingDown = errors.New("hub: shutting down")

// Hub is the registry of live connections on this node. Its zero value is
// not usable; call New.
type Hub struct {
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	all    []*Conn
	agents []*Conn
	users  map[desk.Principal][]*Conn
	closed bool

	nextID  atomic.Uint64
	writers sync.WaitGroup // writer goroutines, so Shutdown can wait for them
	live    sync.WaitGroup // connections registered and not yet unregistered
}

// New returns an empty hub.
func New(opts Options, log *slog.Logger) *Hub {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	if opts.GapWait <= 0 {
		opts.GapWait = DefaultGapWait
	}
	return &Hub{opts: opts, log: log, users: make(map[desk.Principal][]*Conn)}
}

// Register adds a connection that passed authentication with token. The
// caller owns the read side and must call Unregister when its read loop
// ends.
func (h *Hub) Register(ws *websocket.Conn, user desk.Principal, token string) (*Conn, error) {
	c := &Conn{
		User:     user,
		token:    token,
		fp:       desk.TokenFingerprintOf(token),
		ws:       ws,
		hub:      h,
		id:       h.nextID.Add(1),
		agentIdx: -1,
	}
	ws.SetPingHandler(c.pong)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrShuttingDown
	}
	c.allIdx = int32(len(h.all))
	h.all = append(h.all, c)
	if user.Role == desk.RoleAgent {
		c.agentIdx = int32(len(h.agents))
		h.agents = append(h.agents, c)
	}
	h.users[user] = append(h.users[user], c)
	if user.Role == desk.RoleAgent && len(h.users[user]) == 1 {
		h.agentOnline(user.ID, true)
	}
	h.live.Add(1)
	h.opts.Observer.ConnOpened(user.Role)
	return c, nil
}

// Unregister removes c, if still registered, and closes its socket. The
// reader calls it once its loop ends; it is idempotent.
func (h *Hub) Unregister(c *Conn) {
	c.mu.Lock()
	already := c.done
	c.done = true
	c.queue = nil
	c.stopStreamsLocked()
	c.endLocked()
	c.mu.Unlock()
	if already {
		return
	}
	h.remove(c)
	c.ws.Close()
	h.opts.Observer.ConnClosed(c.User.Role)
	h.live.Done()
}

// remove takes c out of every index, so no later event is queued for it.
func (h *Hub) remove(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.allIdx < 0 {
		return
	}
	h.all = removeAt(h.all, c.allIdx, func(m *Conn, i int32) { m.allIdx = i })
	c.allIdx = -1
	if c.agentIdx >= 0 {
		h.agents = removeAt(h.agents, c.agentIdx, func(m *Conn, i int32) { m.agentIdx = i })
		c.agentIdx = -1
	}
	conns := h.users[c.User]
	for i, m := range conns {
		if m == c {
			conns = append(conns[:i:i], conns[i+1:]...)
			break
		}
	}
	if len(conns) == 0 {
		delete(h.users, c.User)
		if c.User.Role == desk.RoleAgent {
			h.agentOnline(c.User.ID, false)
		}
	} else {
		h.users[c.User] = conns
	}
}

// removeAt swap-removes s[i] and tells the moved element its new index.
func removeAt(s []*Conn, i int32, setIdx func(*Conn, int32)) []*Conn {
	last := int32(len(s) - 1)
	if i != last {
		s[i] = s[last]
		setIdx(s[i], i)
	}
	s[last] = nil
	return s[:last]
}

// Deliver hands ev to the matching local connections: it queues the frame
// (encoded once for all of them) or closes them. It never blocks on a
// client, so a bus may call it inline.
func (h *Hub) Deliver(ev desk.Event) int {
	start := time.Now()
	var fr []byte
	if ev.Close == nil {
		fr = textFrame(ev.Frame)
	}
	n := 0
	it := item{frame: fr, size: len(ev.Frame), conv: ev.ConversationID, seq: ev.Seq, prev: ev.Prev}
	var flush []*Conn
	act := func(c *Conn) {
		if ev.Close != nil {
			c.Close(ev.Close.Code, ev.Close.Reason)
			n++
			return
		}
		ok, f := c.deliver(it)
		if ok {
			n++
		}
		if f {
			flush = append(flush, c)
		}
	}
	// Holding the read lock while acting is safe: queueing and closing never
	// take h.mu; the writer goroutine removes connections later, on its own.
	// The writing waits until it is let go.
	h.mu.RLock()
	defer func() {
		h.mu.RUnlock()
		if ev.Close == nil {
			h.opts.Observer.FramesQueued(n)
		}
		h.opts.Observer.Delivered(time.Since(start))
		writeInline(flush)
	}()
	switch ev.To.Kind {
	case desk.ToAllAgents:
		for _, c := range h.agents {
			act(c)
		}
	case desk.ToUser:
		for _, c := range h.users[ev.To.User] {
			act(c)
		}
	case desk.ToUsers:
		for _, u := range ev.To.Users {
			for _, c := range h.users[u] {
				act(c)
			}
		}
	case desk.ToPresenceFollowers:
		for _, c := range h.agents {
			if c.follows() {
				act(c)
			}
		}
	case desk.ToToken:
		fp, ok := desk.ParseFingerprint(ev.To.Fingerprint)
		for _, c := range h.all {
			if ok && c.fp == fp {
				act(c)
			}
		}
	}
	return n
}

// flushChunk is the most connections the delivering goroutine writes to
// itself (see writeInline).
const flushChunk = 128

// writeInline makes the writers' first pass for conns, whose queues a
// delivery just filled. A few (a conversation's participants) are written
// to by the delivering goroutine. More are split among one goroutine per
// core: the bus's goroutine goes back to the bus at once, every core
// writes, and a burst of events piles up in the connections' queues, where
// a slow consumer is closed, not on the bus in front of everyone. One
// goroutine per connection per event, as before, cost a tenth of the
// server's CPU at 10,000 sockets; writing them all from the bus's goroutine
// made a burst of 200 events wait 14 s; goroutines of 128 connections each
// kept a paced fan-out's p99 10 – 30 % above the floor's, and one per core
// brings it to the floor's (docs/benchmarks.md, issue 14).
func writeInline(conns []*Conn) {
	if len(conns) <= flushChunk {
		for _, c := range conns {
			c.writeInline()
		}
		return
	}
	size := max(flushChunk, (len(conns)+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
	for len(conns) > 0 {
		part := conns[:min(size, len(conns))]
		conns = conns[len(part):]
		go func() {
			for _, c := range part {
				c.writeInline()
			}
		}()
	}
}

// UserConns returns the number of connections user has on this node.
func (h *Hub) UserConns(user desk.Principal) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.users[user])
}

func (h *Hub) agentOnline(id string, online bool) {
	if h.opts.OnAgentOnline != nil {
		h.opts.OnAgentOnline(id, online)
	}
}

// Reach counts the local connections an audience selects.
func (h *Hub) Reach(to desk.Audience) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	switch to.Kind {
	case desk.ToAllAgents:
		return len(h.agents)
	case desk.ToPresenceFollowers:
		n := 0
		for _, c := range h.agents {
			if c.follows() {
				n++
			}
		}
		return n
	case desk.ToUser:
		return len(h.users[to.User])
	case desk.ToUsers:
		n := 0
		for _, u := range to.Users {
			n += len(h.users[u])
		}
		return n
	case desk.ToToken:
		fp, ok := desk.ParseFingerprint(to.Fingerprint)
		if !ok {
			return 0
		}
		n := 0
		for _, c := range h.all {
			if c.fp == fp {
				n++
			}
		}
		return n
	}
	return 0
}

// Live is one connection's user and the token it was opened with, for
// re-checking tokens (the token never leaves memory and is never logged).
type Live struct {
	Conn  *Conn
	User  desk.Principal
	Token string
}

// Snapshot returns the connections registered now.
func (h *Hub) Snapshot() []Live {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Live, len(h.all))
	for i, c := range h.all {
		out[i] = Live{Conn: c, User: c.User, Token: c.token}
	}
	return out
}

// Count returns the number of registered connections.
func (h *Hub) Count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.all)
}

// Run pings every connection once per PingInterval until ctx is done. The
// reader side closes connections whose peer stays silent; see gateway.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(h.opts.PingInterval / pingBuckets)
	defer t.Stop()
	for bucket := 0; ; bucket = (bucket + 1) % pingBuckets {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.RLock()
		due := make([]*Conn, 0, len(h.all)/pingBuckets+1)
		for i := bucket; i < len(h.all); i += pingBuckets {
			due = append(due, h.all[i])
		}
		h.mu.RUnlock()
		for _, c := range due {
			c.ping()
		}
	}
}

// CloseAll asks every open connection to close with code and reason, and
// keeps accepting new ones. It never blocks.
func (h *Hub) CloseAll(code int, reason string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.all {
		c.Close(code, reason)
	}
}

// shutdownGrace is how long Shutdown waits, once ctx has ended and every
// socket was closed under its connection, for readers and writers to
// notice; past it Shutdown returns anyway and they finish on their own.
const shutdownGrace = time.Second

// Shutdown refuses new connections, closes every open one with code and
// reason, and waits until all are gone or ctx ends; then it drops the rest,
// and returns within shutdownGrace even if something still holds on.
func (h *Hub) Shutdown(ctx context.Context, code int, reason string) error {
	h.mu.Lock()
	h.closed = true
	conns := append([]*Conn(nil), h.all...)
	h.mu.Unlock()
	for _, c := range conns {
		c.Close(code, reason)
	}
	done := make(chan struct{})
	go func() {
		h.live.Wait()
		h.writers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.mu.Lock()
			c.endLocked()
			c.mu.Unlock()
			c.closeSocket()
		}
		t := time.NewTimer(shutdownGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			h.log.Warn("connections still closing after the shutdown timeout")
		}
		return ctx.Err()
	}
}
