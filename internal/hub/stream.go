package hub

import (
	"context"
	"slices"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// Per-connection ordering: every conversation a connection receives events
// of is a stream, and the connection is sent each stream's events once, in
// seq order, without gaps.
//
// A stream's cursor is the highest seq queued to the connection. Each live
// event names the previous seq its audience was sent (desk.Event.Prev), so:
//   - seq ≤ cursor: already sent (a duplicate publish, or the replay
//     carried it): dropped;
//   - prev ≤ cursor: nothing missing: queued;
//   - prev > cursor: something before it has not arrived. It is held, and
//     so is everything after it, for GapWait: events published by two
//     nodes can cross on the bus, and the missing one usually follows
//     within a millisecond. If the gap is still there after GapWait, the
//     stream is filled from the store (Options.Fill, with the connection's
//     own access rights), then the held events follow.
//
// A resume is the same thing asked for by the client: the cursor becomes
// its after_seq, live events are held while the store is read, and the
// replay is followed by whatever was held. Held events count against the
// connection's send queue, so a stream that cannot be filled ends, at worst,
// with the connection closed as a slow consumer; the client resumes.

// Defaults for Options.
const (
	// DefaultGapWait: see the comment above. Two nodes' publishes of
	// consecutive seqs land within a millisecond or two of each other; a
	// gap still open after 150 ms is an event the bus lost or has not
	// carried yet, and reading the store is cheaper than waiting longer.
	DefaultGapWait = 150 * time.Millisecond
	// maxStreams bounds the streams a connection remembers. An agent's
	// console sees every queued conversation go by; past this, the stream
	// quiet for longest is forgotten, and its next event starts it afresh.
	maxStreams = 256
	// fillRetryMax caps the wait between attempts to fill a gap while the
	// store is unavailable; after fillAttempts the connection is closed so
	// that its client resumes by itself once things are back.
	fillRetryMax = 4 * time.Second
	fillAttempts = 8
)

// Replayed is one stored event to send during a resume or a fill.
type Replayed struct {
	Seq   int64
	Frame []byte
}

// Filler reads the events of a conversation after afterSeq that viewer may
// see, in ascending seq, at most one page; more reports that there are
// others after the page. The hub calls it to fill a gap in a connection's
// stream, with the connection's context.
type Filler func(ctx context.Context, viewer desk.Principal, conversationID string, afterSeq int64) (events []Replayed, more bool, err error)

// stream is one conversation's ordering state on one connection; guarded
// by Conn.mu.
type stream struct {
	cursor int64  // the highest seq queued to the connection
	held   []item // ascending and unique by seq, waiting for the gap below them
	// busy: a resume or fill is reading the store; gen tells the current
	// one from one it replaced.
	busy  bool
	gen   uint64
	timer *time.Timer // the gap wait, while one runs
	used  uint64      // when last used, in Conn.ticks, for eviction
}

// deliver queues a live event, in its stream's order. flush: it started
// the writer, and the caller must call writeInline.
func (c *Conn) deliver(it item) (ok, flush bool) {
	c.mu.Lock()
	c.inline = true
	var overflow bool
	if it.conv == "" || it.seq <= 0 {
		ok, overflow = c.enqueueLocked(it) // not a stored event: nothing to order
	} else {
		ok, overflow = c.deliverLocked(it)
	}
	flush = c.unlockInline()
	if overflow {
		c.closeSlow()
	}
	return ok, flush
}

func (c *Conn) deliverLocked(it item) (ok, overflow bool) {
	if c.closing != nil || c.done {
		return false, false
	}
	st := c.streams[it.conv]
	if st == nil {
		// The first event of a conversation this connection has not
		// resumed: its client has no position in it to keep.
		st = c.newStreamLocked(it.conv)
		ok, overflow = c.enqueueLocked(it)
		if ok {
			st.cursor = it.seq
		}
		return ok, overflow
	}
	c.ticks++
	st.used = c.ticks
	switch {
	case it.seq <= st.cursor:
		return true, false // already sent
	case !st.busy && len(st.held) == 0 && it.prev <= st.cursor:
		ok, overflow = c.enqueueLocked(it)
		if ok {
			st.cursor = it.seq
		}
		return ok, overflow
	}
	if overflow = c.holdLocked(st, it); overflow {
		return false, true
	}
	if !st.busy {
		return c.releaseLocked(it.conv, st)
	}
	return true, false
}

// holdLocked adds it to st's held events, in seq order; it reports an
// overflow of the send queue.
func (c *Conn) holdLocked(st *stream, it item) (overflow bool) {
	i, found := slices.BinarySearchFunc(st.held, it.seq, func(h item, seq int64) int { return cmpInt64(h.seq, seq) })
	if found {
		return false // the same event twice, both waiting
	}
	if c.queued+it.size > c.hub.opts.SendQueueBytes {
		return true
	}
	c.queued += it.size
	st.held = slices.Insert(st.held, i, it)
	return false
}

// releaseLocked queues the held events that no longer wait for a gap, and
// starts the gap wait if some still do.
func (c *Conn) releaseLocked(conv string, st *stream) (ok, overflow bool) {
	ok = true
	n := 0
	for _, h := range st.held {
		if h.seq > st.cursor && h.prev > st.cursor {
			break
		}
		n++
		c.queued -= h.size
		if h.seq <= st.cursor {
			continue
		}
		if ok, overflow = c.enqueueLocked(h); !ok {
			break
		}
		st.cursor = h.seq
	}
	st.held = slices.Delete(st.held, 0, n)
	switch {
	case len(st.held) == 0 && st.timer != nil:
		st.timer.Stop()
		st.timer = nil
	case len(st.held) > 0 && st.timer == nil && ok:
		gen := st.gen
		st.timer = time.AfterFunc(c.hub.opts.GapWait, func() { c.gapWaited(conv, gen) })
	}
	return ok, overflow
}

// gapWaited fills the gap still open in a stream after GapWait.
func (c *Conn) gapWaited(conv string, gen uint64) {
	c.mu.Lock()
	st := c.streams[conv]
	if st == nil || st.gen != gen || st.busy || st.timer == nil || c.done || c.closing != nil {
		c.mu.Unlock()
		return
	}
	st.timer = nil
	if len(st.held) == 0 {
		c.mu.Unlock()
		return
	}
	gen = c.beginLocked(st)
	after := st.cursor
	c.mu.Unlock()
	c.hub.opts.Observer.GapFilled()
	go c.fill(conv, gen, after)
}

// fill reads what the stream is missing from the store and queues it. A
// store that is down is retried with backoff; after fillAttempts the
// connection is closed, and its client resumes by itself.
func (c *Conn) fill(conv string, gen uint64, after int64) {
	fill := c.hub.opts.Fill
	ctx := c.Context()
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if fill == nil {
			c.end(conv, gen, nil, nil, true)
			return
		}
		replay, more, err := fill(ctx, c.User, conv, after)
		switch {
		case err == nil:
			if !c.end(conv, gen, replay, nil, !more) {
				return
			}
			if !more {
				return
			}
			if len(replay) > 0 {
				after = replay[len(replay)-1].Seq
			}
			if gen = c.begin(conv); gen == 0 {
				return
			}
			continue
		case ctx.Err() != nil:
			return
		case desk.ErrorCode(err) != desk.EUnavailable && desk.ErrorCode(err) != desk.EInternal:
			// No longer allowed to read it (or it is gone): deliver what
			// was addressed to this connection and accept the gap.
			c.end(conv, gen, nil, nil, true)
			return
		case attempt >= fillAttempts:
			c.hub.log.Warn("could not fill a gap; closing", "conn_id", c.ID(), "conversation_id", conv, "error", err)
			c.Close(wire.CloseTryAgainLater, wire.ReasonCatchUp)
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, fillRetryMax)
	}
}

// begin marks a stream busy (a read of the store under way) and returns
// the read's generation, 0 if the connection is going.
func (c *Conn) begin(conv string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.streams[conv]
	if st == nil || c.done || c.closing != nil {
		return 0
	}
	return c.beginLocked(st)
}

func (c *Conn) beginLocked(st *stream) uint64 {
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	st.busy = true
	st.gen++
	return st.gen
}

// end queues a replay read by the read of generation gen (ascending seq),
// then what was held and now follows, then done if set. skipGap: the
// read was the last word, so the held events go out even if a gap stays
// below them (the viewer may not see what is missing). It reports false if
// the read was replaced or the connection is going.
func (c *Conn) end(conv string, gen uint64, replay []Replayed, done []byte, skipGap bool) bool {
	var items []item
	for _, r := range replay {
		items = append(items, item{frame: textFrame(r.Frame), size: len(r.Frame), conv: conv, seq: r.Seq})
	}
	c.mu.Lock()
	st := c.streams[conv]
	if st == nil || st.gen != gen || !st.busy {
		c.mu.Unlock()
		return false
	}
	ok, overflow := true, false
	for _, it := range items {
		if it.seq <= st.cursor {
			continue
		}
		if ok, overflow = c.enqueueLocked(it); !ok {
			break
		}
		st.cursor = it.seq
	}
	st.busy = false
	if ok && skipGap {
		// The store had nothing more this viewer may see: what is still
		// missing below the held events is not theirs to see.
		for _, h := range st.held {
			if h.seq > st.cursor {
				st.cursor = h.seq - 1
				break
			}
		}
		for i := range st.held {
			st.held[i].prev = min(st.held[i].prev, st.cursor)
			if i > 0 {
				st.held[i].prev = min(st.held[i].prev, st.held[i-1].seq)
			}
		}
	}
	if ok {
		ok, overflow = c.releaseLocked(conv, st)
	}
	if ok && done != nil {
		ok, overflow = c.enqueueLocked(item{frame: textFrame(done), size: len(done)})
	}
	c.mu.Unlock()
	if overflow {
		c.closeSlow()
		return false
	}
	return ok
}

// BeginResume starts a replay of conversation after seq: live events for it
// are held until EndResume, and those still waiting in the queue are
// dropped, since the replay will carry them in order. Events already
// written to the socket cannot be taken back; clients drop any seq they
// already have (docs/protocol.md). It returns the replay's generation.
func (c *Conn) BeginResume(conversationID string, afterSeq int64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || c.closing != nil {
		return 0
	}
	st := c.streams[conversationID]
	if st == nil {
		st = c.newStreamLocked(conversationID)
	}
	st.cursor = afterSeq
	kept := c.queue[:0]
	for _, it := range c.queue {
		if it.conv == conversationID && it.seq > afterSeq {
			c.queued -= it.size
			continue
		}
		kept = append(kept, it)
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	return c.beginLocked(st)
}

// EndResume queues the replay of the resume of generation gen (ascending
// seq), then the held live events that follow it, then done (the
// "resumed" frame); from then on live events flow again, minus any the
// replay already carried.
func (c *Conn) EndResume(conversationID string, gen uint64, replay []Replayed, done []byte) bool {
	if replay == nil {
		replay = []Replayed{}
	}
	return c.end(conversationID, gen, replay, done, false)
}

// FailResume ends a resume that could not be read, sending frame (an error)
// in place of the replay. forget: the connection may not read the
// conversation, so its stream and whatever was held for it go; otherwise
// (the store was unavailable) live events go on and gaps fill as usual.
func (c *Conn) FailResume(conversationID string, gen uint64, frame []byte, forget bool) {
	c.mu.Lock()
	st := c.streams[conversationID]
	if st != nil && st.gen == gen && st.busy && forget {
		c.dropStreamLocked(conversationID, st)
	}
	c.mu.Unlock()
	if !forget {
		c.end(conversationID, gen, nil, nil, false)
	}
	c.Send(frame)
}

// newStreamLocked starts a stream, forgetting the one quiet for longest
// when the connection has maxStreams already.
func (c *Conn) newStreamLocked(conv string) *stream {
	if c.streams == nil {
		c.streams = make(map[string]*stream)
	}
	if len(c.streams) >= maxStreams {
		var oldest string
		var at uint64
		for id, st := range c.streams {
			if !st.busy && len(st.held) == 0 && (oldest == "" || st.used < at) {
				oldest, at = id, st.used
			}
		}
		if oldest != "" {
			c.dropStreamLocked(oldest, c.streams[oldest])
		}
	}
	c.ticks++
	st := &stream{used: c.ticks}
	c.streams[conv] = st
	return st
}

func (c *Conn) dropStreamLocked(conv string, st *stream) {
	if st.timer != nil {
		st.timer.Stop()
	}
	for _, h := range st.held {
		c.queued -= h.size
	}
	delete(c.streams, conv)
}

// stopStreamsLocked ends every gap wait; the connection is going.
func (c *Conn) stopStreamsLocked() {
	for id, st := range c.streams {
		c.dropStreamLocked(id, st)
	}
	c.streams = nil
}

// Streams reports how many conversations the connection keeps ordering
// state for, and how many events are held in them, for tests.
func (c *Conn) Streams() (streams, held int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.streams {
		held += len(st.held)
	}
	return len(c.streams), held
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
