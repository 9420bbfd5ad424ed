package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// drainRun is one "loadtest drain" run: clients spread over the nodes
// each follow a conversation; one node is sent SIGTERM, closes its
// sockets with 1012, and its clients reconnect to the others and resume
// their conversation by seq.
type drainRun struct {
	cfg      drainConfig
	tag      string
	conv     string      // with agent clients, the conversation they share
	msgRC    *restClient // the surviving node the drain-time messages go through
	msgToken string      // and who sends them
	d        *websocket.Dialer
	base     time.Time
	ctx      context.Context // ends when the run stops: waiting reconnects give up
	cancel   context.CancelFunc
	clients  []*drainClient
	wg       sync.WaitGroup // client goroutines

	stopping    atomic.Bool
	termAt      atomic.Int64 // when SIGTERM was sent, ns since base; 0 before
	initialDone atomic.Int64 // first resumes answered with resumed
	closed      atomic.Int64 // clients whose first socket closed
	pending     atomic.Int64 // closed, and neither resumed again nor given up

	presenceFrames, presenceBytes atomic.Int64

	mu          sync.Mutex
	initialLast int64          // the last first resume, ns since base
	failures    map[string]int // failed reconnect attempts, by reason
}

// now is the time since base, monotonic.
func (r *drainRun) now() int64 { return int64(time.Since(r.base)) }

// noteFailure counts one failed reconnect attempt.
func (r *drainRun) noteFailure(reason string) {
	r.mu.Lock()
	r.failures[reason]++
	r.mu.Unlock()
}

// runDrain performs the whole drain measurement and prints it to out.
// Every phase has a deadline, so it returns on its own. The conversation
// it creates stays in the servers' database.
func runDrain(ctx context.Context, cfg drainConfig, out io.Writer) error {
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	if need := uint64(cfg.n + fdHeadroom); need > limit {
		return fmt.Errorf("--n %d needs about %d open files, the limit is %d", cfg.n, need, limit)
	}
	if exited(cfg.drainPid) {
		return fmt.Errorf("--drain-pid %d: no such running process", cfg.drainPid)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &drainRun{
		cfg: cfg, tag: strings.ToLower(rand.Text()[:8]), d: newDialer(cfg.dialTimeout),
		base: time.Now(), ctx: runCtx, cancel: cancel, failures: map[string]int{},
	}
	printDrainHeader(out, cfg, limit)

	r.clients = make([]*drainClient, cfg.n)
	for i := range r.clients {
		r.clients[i] = &drainClient{i: i, node: i % len(cfg.urls), buf: make([]byte, 0, 1024)}
	}
	r.msgRC = newRESTClient(httpBase(cfg.reconnectURLs[0]), 2, cfg.dialTimeout)
	ready := make([]bool, cfg.n)
	if cfg.clients == "agents" {
		cleanup, err := r.setupAgents(ctx, out, ready)
		if err != nil {
			return err
		}
		defer cleanup()
	} else if err := r.setupEmployees(ctx, out, ready); err != nil {
		return err
	}
	defer r.stop()
	opened := make([]bool, cfg.n)
	dial := func(ctx context.Context, i int) (*websocket.Conn, error) {
		c := r.clients[i]
		if !ready[i] {
			return nil, errors.New("not set up")
		}
		return dialWS(ctx, r.d, cfg.urls[c.node], c.path, c.token, sourceDialer(i, cfg.sources))
	}
	watch := cpuWatch{comms: cfg.watchComms}
	for _, pid := range cfg.pids {
		watch.servers = append(watch.servers, cpuProc{label: processLabel(pid), pid: pid})
	}
	cpuStart := watch.sample()
	start := r.now()
	h := connectAll(ctx, cfg.n, cfg.concurrency, dial, func(i int, ws *websocket.Conn) {
		c := r.clients[i]
		if !c.setWS(ws, &r.stopping) {
			return
		}
		opened[i] = true
		r.wg.Add(1)
		go r.runClient(c, ws)
	})
	first := r.waitInitial(ctx, int64(h.opened))
	cpuConnected := watch.sample()
	for _, c := range r.clients {
		c.want.Store(c.progress.Load())
	}
	printDrainConnect(out, r, h, opened, start, first)
	fmt.Fprint(out, "  ")
	printCPU(out, cpuStart, cpuConnected)
	if err := sleep(ctx, cfg.settle); err != nil {
		return err
	}
	r.presenceFrames.Store(0)
	r.presenceBytes.Store(0)

	var onDrained []*drainClient
	drainIdx := indexOf(cfg.urls, cfg.drainURL)
	for i, c := range r.clients {
		if opened[i] && c.node == drainIdx {
			onDrained = append(onDrained, c)
		}
	}
	cpu0 := watch.sample()
	r.termAt.Store(r.now())
	if err := syscall.Kill(cfg.drainPid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM to %d: %w", cfg.drainPid, err)
	}
	msgs := make(chan drainMessages, 1)
	go func() { msgs <- r.sendMessages(runCtx, onDrained) }()
	w := r.waitResumed(ctx, msgs)
	cpu1 := watch.sample()
	caught := r.waitCaughtUp(ctx, opened)
	r.stop()
	printDrainResult(out, r, w, caught, len(onDrained), opened)
	printCPU(out, cpu0, cpu1)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

// runClient is one client's life: its sessions, and the reconnects
// between them, until the run stops or it gives up.
func (r *drainRun) runClient(c *drainClient, ws *websocket.Conn) {
	defer r.wg.Done()
	for {
		resumed, err := r.session(c, ws)
		if r.stopping.Load() {
			return
		}
		reason := closeText(err)
		switch {
		case c.closedAt == 0:
			c.closedAt, c.closeReason = r.now(), reason
			r.closed.Add(1)
			r.pending.Add(1)
		case resumed:
			// It had resumed on another node, and lost that socket too.
			c.closedAgain++
			c.resumedAt = 0
			r.pending.Add(1)
			r.noteFailure("closed again after resuming: " + reason)
		default:
			r.noteFailure("resume: " + reason)
		}
		if ws = r.reconnect(c); ws == nil {
			return
		}
	}
}

// session resumes the conversation on ws and then reads until the socket
// ends, applying the conversation's events by the protocol's rules. It
// reports whether the resume was answered.
func (r *drainRun) session(c *drainClient, ws *websocket.Conn) (resumed bool, err error) {
	defer ws.Close()
	c.resuming, c.held = true, c.held[:0]
	ws.SetReadDeadline(time.Now().Add(r.cfg.resumeTimeout))
	ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.resumeAt = r.now()
	if err := ws.WriteMessage(websocket.TextMessage, resumeFrame(c.conv, c.applied)); err != nil {
		return false, err
	}
	for {
		_, rd, err := ws.NextReader()
		var size int64
		if err == nil {
			c.buf, size, err = readHead(rd, c.buf)
		}
		if err != nil {
			return resumed, err
		}
		kind, f := classify(c.buf, size > int64(len(c.buf)))
		switch kind {
		case framePresence:
			r.presenceFrames.Add(1)
			r.presenceBytes.Add(size)
		case frameEvent:
			if f.ConversationID != c.conv {
				continue
			}
			if c.resuming {
				c.held = append(c.held, f.Seq)
			} else {
				c.apply(f.Seq)
			}
		case frameResumed:
			if f.ConversationID != c.conv || !c.resuming {
				continue
			}
			c.endResume()
			if f.More {
				c.resuming = true
				if err := ws.WriteMessage(websocket.TextMessage, resumeFrame(c.conv, c.applied)); err != nil {
					return false, err
				}
				continue
			}
			ws.SetReadDeadline(time.Time{})
			resumed = true
			r.resumed(c)
		case frameError:
			c.errFrames++
			if c.firstErr == "" {
				c.firstErr = f.Code
			}
			if c.resuming && f.ConversationID == c.conv {
				return false, fmt.Errorf("resume answered with error %s", f.Code)
			}
		}
	}
}

// resumed records a resume answered: the first one, at the first
// connect, or the one after a reconnect.
func (r *drainRun) resumed(c *drainClient) {
	now := r.now()
	if c.closedAt == 0 {
		if !c.initial {
			c.initial = true
			r.initialDone.Add(1)
			r.mu.Lock()
			r.initialLast = max(r.initialLast, now)
			r.mu.Unlock()
		}
		return
	}
	c.resumedAt = now
	r.pending.Add(-1)
}

// reconnect waits out the backoff and opens a new socket on one of the
// remaining nodes, trying again on failure, until it has one, the client
// has waited --deadline since its socket closed, or the run stops.
func (r *drainRun) reconnect(c *drainClient) *websocket.Conn {
	limit := c.closedAt + int64(r.cfg.deadline)
	for {
		c.attempts++
		wait := backoffDelay(r.cfg.backoff, c.attempts)
		if r.now()+int64(wait) > limit {
			c.failed = fmt.Sprintf("not resumed within --deadline %s", r.cfg.deadline)
			r.pending.Add(-1)
			return nil
		}
		if sleep(r.ctx, wait) != nil {
			return nil
		}
		target := (c.i + c.attempts - 1) % len(r.cfg.reconnectURLs)
		t0 := r.now()
		ws, err := dialWS(r.ctx, r.d, r.cfg.reconnectURLs[target], c.path, c.token, sourceDialer(c.i, r.cfg.sources))
		if err != nil {
			if r.stopping.Load() {
				return nil
			}
			r.noteFailure("handshake: " + failureReason(err))
			continue
		}
		if !c.setWS(ws, &r.stopping) {
			return nil
		}
		c.dialAt, c.openAt, c.target = t0, r.now(), target
		return ws
	}
}

// waitInitial waits until opened clients have had their first resume
// answered, or a minute has passed.
func (r *drainRun) waitInitial(ctx context.Context, opened int64) int64 {
	deadline := time.Now().Add(time.Minute)
	for r.initialDone.Load() < opened && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	return r.initialDone.Load()
}

// drainMessages is what was sent while the node drained.
type drainMessages struct {
	sent              int
	firstSeq, lastSeq int64
	lat               []time.Duration
	failures          map[string]int
}

// sendMessages sends --messages messages, one every --message-interval
// from the SIGTERM on, through a node that stays up, as r.msgToken: with
// agent clients, the employee writes in the shared queued conversation,
// which goes live to every agent socket; with employee clients, the agent
// answers in the conversations of clients on the drained node, one
// message each. The clients that are reconnecting must find them in
// their replay.
func (r *drainRun) sendMessages(ctx context.Context, onDrained []*drainClient) drainMessages {
	m := drainMessages{failures: map[string]int{}}
	targets := onDrained
	if r.cfg.clients == "agents" {
		targets = r.clients // they share one conversation
	}
	for k := range r.cfg.messages {
		if k > 0 && sleep(ctx, r.cfg.messageInterval) != nil {
			break
		}
		if len(targets) == 0 {
			m.failures["no client to write to"]++
			continue
		}
		c := targets[k%len(targets)]
		var ans struct {
			Seq int64 `json:"seq"`
		}
		t0 := time.Now()
		err := r.msgRC.call(ctx, "POST", "/api/conversations/"+c.conv+"/messages", r.msgToken, map[string]string{
			"body": fmt.Sprintf("message %d during the drain", k+1), "client_msg_id": fmt.Sprintf("lt-drain-%s-%d", r.tag, k),
		}, &ans)
		if err != nil {
			m.failures[failureReason(err)]++
			continue
		}
		m.lat = append(m.lat, time.Since(t0))
		m.sent++
		if m.firstSeq == 0 {
			m.firstSeq = ans.Seq
		}
		m.lastSeq = max(m.lastSeq, ans.Seq)
		if r.cfg.clients == "agents" {
			for _, c := range r.clients {
				c.want.Store(max(c.want.Load(), ans.Seq))
			}
		} else {
			c.want.Store(max(c.want.Load(), ans.Seq))
		}
	}
	return m
}

// drainWait is what happened between the SIGTERM and the end of the
// reconnects.
type drainWait struct {
	exitAt   int64 // when the drained process was seen gone, ns since base; 0 if not
	doneAt   int64 // when every closed client had resumed or given up
	timedOut bool
	msgs     drainMessages
}

// exitGrace is how long after the drained process is gone every socket it
// held has surely been seen closed by its client.
const exitGrace = 100 * time.Millisecond

// waitResumed waits until the drained node has exited, every closed
// client has resumed or given up, and the employee's messages are sent;
// or until --deadline plus the drain's own 10 s has passed.
func (r *drainRun) waitResumed(ctx context.Context, msgs <-chan drainMessages) drainWait {
	var w drainWait
	gotMsgs := false
	limit := time.Now().Add(r.cfg.deadline + 10*time.Second)
	for ctx.Err() == nil {
		if w.exitAt == 0 && exited(r.cfg.drainPid) {
			w.exitAt = r.now()
		}
		if !gotMsgs {
			select {
			case w.msgs = <-msgs:
				gotMsgs = true
			default:
			}
		}
		if w.exitAt != 0 && r.now()-w.exitAt > int64(exitGrace) && gotMsgs && r.pending.Load() == 0 {
			w.doneAt = r.now()
			return w
		}
		if time.Now().After(limit) {
			w.timedOut = true
			if !gotMsgs {
				w.msgs = <-msgs
			}
			return w
		}
		time.Sleep(2 * time.Millisecond)
	}
	return w
}

// waitCaughtUp waits up to five seconds for every client that opened to
// have applied the last event of its conversation, the messages sent
// during the drain included, live or replayed. It returns how many have.
func (r *drainRun) waitCaughtUp(ctx context.Context, opened []bool) int {
	deadline := time.Now().Add(5 * time.Second)
	want := 0
	for _, ok := range opened {
		if ok {
			want++
		}
	}
	for {
		n := 0
		for i, c := range r.clients {
			if opened[i] && c.progress.Load() >= c.want.Load() {
				n++
			}
		}
		if n == want || time.Now().After(deadline) || ctx.Err() != nil {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends every client: reconnect waits are cancelled and sockets
// closed with a close frame first, so the servers hold the TIME_WAIT.
// It returns when every client goroutine has ended.
func (r *drainRun) stop() {
	if r.stopping.Swap(true) {
		return
	}
	r.cancel()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	deadline := time.Now().Add(2 * time.Second)
	for _, c := range r.clients {
		c.mu.Lock()
		if c.ws != nil {
			c.ws.WriteControl(websocket.CloseMessage, msg, deadline)
		}
		c.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(5 * time.Second):
	}
	for _, c := range r.clients {
		c.mu.Lock()
		if c.ws != nil {
			c.ws.Close()
		}
		c.mu.Unlock()
	}
	<-done
}
