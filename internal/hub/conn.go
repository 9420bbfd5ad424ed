package hub

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// closeGrace bounds the closing handshake: how long a close frame may take to
// write, and how long we wait for the peer's reply before dropping TCP.
const closeGrace = time.Second

// item is one queued outbound frame, encoded (frame.go). Conversation
// events carry their conversation, seq and their audience's previous seq,
// for ordering (see stream.go).
type item struct {
	frame []byte
	size  int
	conv  string
	seq   int64
	prev  int64
}

// Conn is the outbound side of one live WebSocket connection: a bounded queue
// and the writer that drains it.
//
// The writer exists only while the queue is non-empty: an idle connection
// costs no goroutine and no write buffer, which is most of what keeps memory
// per connection low (see docs/benchmarks.md). At most one writer runs at a
// time, so it alone owns the socket's write side; Send and Close never block
// on the network. The writer's first pass is made by whoever queued the
// frame (writeInline): it writes what the socket takes at once, and only
// what is left starts a writer goroutine.
type Conn struct {
	// Everything here is kept as long as the socket lives, by every idle
	// one: at 10,000 sockets each 8 bytes is 80 KB, and twice that in
	// RSS with the GC's headroom (docs/benchmarks.md, issue 14). Hence no
	// strings made per connection (ID is formatted when logged) and no
	// context until a frame handler asks for one.
	User  desk.Principal
	token string // the token itself, to re-check it; never logged

	ws  *websocket.Conn
	hub *Hub
	id  uint64           // ID's number
	fp  desk.Fingerprint // of the token it was opened with

	mu      sync.Mutex
	writing bool // a writer runs: inline or a goroutine
	done    bool // unregistered: nothing more is queued
	// inline: the goroutine holding mu writes, once it lets go, what
	// it queued if no writer runs (writeInline); startWriterLocked then
	// sets flush instead of starting a goroutine.
	inline, flush bool
	// followsPresence: the client asked for presence announcements.
	followsPresence bool

	// Positions in the hub's slices, for O(1) removal; guarded by hub.mu.
	allIdx, agentIdx int32

	queue   []item
	queued  int         // bytes in queue plus the batch being written
	closing *desk.Close // set once; the writer sends it after the current batch
	// life ends when the connection starts closing: frame handlers and
	// fills working for it stop. Made by the first Context call.
	life *lifetime
	// streams orders each conversation's events (stream.go); nil until
	// the first one.
	streams map[string]*stream
	ticks   uint64
	// reader is woken when the connection starts closing or its socket is
	// closed under it (SetReader).
	reader Waker
}

// Waker is a connection's read side, which may be waiting away from its
// socket (the gateway holds idle ones in one shared epoll instance, where
// neither a close frame's read deadline nor a closed socket reaches them).
// Wake makes it wait on the socket itself again; it must not block, and
// does nothing when the read side is not away.
type Waker interface{ Wake() }

// SetReader names the connection's read side, before it starts.
func (c *Conn) SetReader(w Waker) {
	c.mu.Lock()
	c.reader = w
	c.mu.Unlock()
}

// wakeReader is called once the connection is closing or its socket
// closed, never before: a read side going away checks for both after it
// went (so one of the two sees the other).
func (c *Conn) wakeReader() {
	c.mu.Lock()
	w := c.reader
	c.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}

// closeSocket closes the socket under the connection: its read side ends.
func (c *Conn) closeSocket() {
	c.ws.NetConn().Close()
	c.wakeReader()
}

// lifetime is a connection's context and how to end it.
type lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// ended is the Context of a connection already closing when first asked.
var ended = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// ID names the connection in logs: the node, then a number.
func (c *Conn) ID() string {
	return c.hub.opts.Node + "-c" + strconv.FormatUint(c.id, 10)
}

// Context ends when the connection starts closing (by either side, or the
// server draining). Work done for the connection's frames runs under it.
func (c *Conn) Context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.life != nil {
		return c.life.ctx
	}
	if c.closing != nil || c.done {
		return ended
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.life = &lifetime{ctx: ctx, cancel: cancel}
	return ctx
}

// endLocked cancels the connection's context, if one was made.
func (c *Conn) endLocked() {
	if c.life != nil {
		c.life.cancel()
	}
}

// Send queues a text frame for this connection alone. It reports false if
// the connection is closing. Overflowing the queue closes the connection as
// a slow consumer.
func (c *Conn) Send(payload []byte) bool {
	ok := c.enqueue(item{frame: textFrame(payload), size: len(payload)})
	if ok {
		c.hub.opts.Observer.FramesQueued(1)
	}
	return ok
}

func (c *Conn) enqueue(it item) bool {
	c.mu.Lock()
	c.inline = true
	ok, overflow := c.enqueueLocked(it)
	c.unlockAndFlush()
	if overflow {
		c.closeSlow()
	}
	return ok
}

// unlockAndFlush ends an inline section: it lets go of mu, then writes
// what was queued if it started the writer.
func (c *Conn) unlockAndFlush() {
	if c.unlockInline() {
		c.writeInline()
	}
}

// unlockInline ends an inline section and lets go of mu. true: it
// started the writer, and the caller must call writeInline.
func (c *Conn) unlockInline() (flush bool) {
	c.inline = false
	flush = c.flush
	c.flush = false
	c.mu.Unlock()
	return flush
}

// enqueueLocked queues it unless the connection is closing or its queue
// would overflow; on overflow the caller, once unlocked, calls closeSlow.
func (c *Conn) enqueueLocked(it item) (ok, overflow bool) {
	if c.closing != nil || c.done {
		return false, false
	}
	if c.queued+it.size > c.hub.opts.SendQueueBytes {
		return false, true
	}
	c.queue = append(c.queue, it)
	c.queued += it.size
	c.startWriterLocked()
	return true, false
}

func (c *Conn) closeSlow() {
	c.hub.opts.Observer.SlowConsumer()
	c.hub.log.Warn("closing slow consumer", "conn_id", c.ID(), string(c.User.Role)+"_id", c.User.ID)
	c.Close(wire.CloseTryAgainLater, wire.ReasonSlowConsumer)
}

// Close asks the connection to close with code and reason. Frames still
// queued are dropped: whoever closes wants the client to reconnect and
// resume, not to read stale frames. It never blocks.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	if c.closing != nil || c.done {
		c.mu.Unlock()
		return
	}
	c.closing = &desk.Close{Code: code, Reason: reason}
	c.queue = nil
	c.stopStreamsLocked()
	c.endLocked()
	if c.writing {
		// The writer may be stuck on a peer that stopped reading: make its
		// current write give up soon so the close frame can follow.
		c.ws.NetConn().SetWriteDeadline(time.Now().Add(closeGrace))
	}
	c.startWriterLocked()
	w := c.reader
	c.mu.Unlock()
	// The read side waits for the client's close reply, or the deadline
	// sendClose sets, on the socket itself.
	if w != nil {
		w.Wake()
	}
}

func (c *Conn) startWriterLocked() {
	if c.writing {
		return
	}
	c.writing = true
	c.hub.writers.Add(1)
	if c.inline {
		c.flush = true
		return
	}
	go c.writeLoop(nil, 0)
}

// writeInline is the writer's first pass, made by the goroutine that
// queued the frames and found no writer running (the connection's own
// reader, the pinger), or by one of the delivery's (Hub.Deliver). It
// writes what the socket takes without waiting, as a bare server's loop
// would, and leaves the rest to a writer goroutine. On a fan-out to
// 10,000 reading clients almost every frame ends here: a goroutine per
// socket per event, and its write deadline, were a seventh of the
// server's CPU (docs/benchmarks.md, issue 14).
func (c *Conn) writeInline() {
	c.mu.Lock()
	if c.closing != nil || c.done || len(c.queue) == 0 {
		c.mu.Unlock()
		go c.writeLoop(nil, 0) // it sends the close frame, or just ends
		return
	}
	batch := c.queue
	c.queue = nil
	c.mu.Unlock()
	nc := c.ws.NetConn()
	for i, it := range batch {
		n, err := tryWrite(nc, it.frame)
		if err != nil {
			c.closeSocket()
			c.finishWriting()
			c.hub.writers.Done()
			return
		}
		if n < len(it.frame) {
			// The socket is full: a goroutine finishes this frame, then the
			// rest. The frame must be finished even if the connection is
			// closing meanwhile, or the close frame would land inside it.
			go c.writeLoop(batch[i:], n)
			return
		}
		c.mu.Lock()
		c.queued -= it.size
		stop := c.closing != nil // Close drops what is not yet written
		c.mu.Unlock()
		batch[i] = item{}
		if stop {
			break
		}
	}
	c.mu.Lock()
	if len(c.queue) > 0 || c.closing != nil {
		c.mu.Unlock()
		go c.writeLoop(nil, 0)
		return
	}
	c.writing = false
	c.mu.Unlock()
	c.hub.writers.Done()
}

// writeLoop writes first, its first frame from byte off (what
// writeInline left), then drains the queue in batches, then sends a
// pending close frame, then exits. Any write error ends the connection:
// the reader sees the closed socket and unregisters it.
func (c *Conn) writeLoop(first []item, off int) {
	defer c.hub.writers.Done()
	batch := first
	var closing *desk.Close
	for {
		c.mu.Lock()
		if batch == nil {
			batch = c.queue
			c.queue = nil
		} else if c.closing != nil {
			// Close dropped what was queued; only a frame begun is finished.
			batch = batch[:min(off, 1)]
		}
		closing = c.closing
		if len(batch) == 0 && closing == nil {
			c.writing = false
			// No deadline is left behind: writeInline's writes would
			// refuse to start once it has passed.
			c.ws.NetConn().SetWriteDeadline(time.Time{})
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		// A frame finished after Close gets the close's grace, not the
		// whole write timeout.
		timeout := c.hub.opts.WriteTimeout
		if closing != nil {
			timeout = min(timeout, closeGrace)
		}
		for i, it := range batch {
			if off > 0 {
				it.frame = it.frame[off:]
				off = 0
			}
			if err := c.write(it, timeout); err != nil {
				c.closeSocket()
				c.finishWriting()
				return
			}
			c.mu.Lock()
			c.queued -= it.size
			stop := c.closing != nil
			c.mu.Unlock()
			batch[i] = item{} // let the frame go as soon as it is written
			if stop {
				break
			}
		}
		if closing != nil || c.isClosing() {
			c.sendClose()
			c.finishWriting()
			return
		}
		batch = nil
	}
}

// write sends one frame, bounded by timeout.
func (c *Conn) write(it item, timeout time.Duration) error {
	nc := c.ws.NetConn()
	nc.SetWriteDeadline(time.Now().Add(timeout))
	_, err := nc.Write(it.frame)
	return err
}

// FollowPresence makes this connection receive presence announcements
// (audience desk.ToPresenceFollowers).
func (c *Conn) FollowPresence() {
	c.mu.Lock()
	c.followsPresence = true
	c.mu.Unlock()
}

func (c *Conn) follows() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.followsPresence
}

// Closing reports whether Close was called: the reader then stops acting on
// the client's frames and only waits for its close reply.
func (c *Conn) Closing() bool { return c.isClosing() }

func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing != nil
}

// sendClose writes the close frame, stops delivery to this connection at
// once, and gives the peer closeGrace to answer before the reader gives up.
func (c *Conn) sendClose() {
	c.mu.Lock()
	cl := c.closing
	c.mu.Unlock()
	c.hub.remove(c)
	msg := websocket.FormatCloseMessage(cl.Code, cl.Reason)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace)); err != nil {
		c.closeSocket()
		return
	}
	c.ws.SetReadDeadline(time.Now().Add(closeGrace))
}

func (c *Conn) finishWriting() {
	c.mu.Lock()
	c.writing = false
	c.queue = nil
	c.mu.Unlock()
}

// Ping queues a protocol-level ping, the server's liveness probe.
func (c *Conn) ping() { c.enqueue(item{frame: pingFrame}) }

// pong answers a client's ping through the queue, gorilla's ping handler
// for this connection: gorilla's own would write from the reader, maybe
// inside a frame writeInline left half written.
func (c *Conn) pong(data string) error {
	c.enqueue(item{frame: frame(websocket.PongMessage, []byte(data)), size: len(data)})
	return nil
}
