package hub

import "github.com/gorilla/websocket"

// resumeState is one conversation a connection resumed: while a replay is
// being read from the store, live events are held back; afterwards, events
// at or below the cursor are dropped as already sent.
type resumeState struct {
	holding bool
	held    []item
	cursor  int64
}

// deliver queues a live event, holding it back or dropping it when this
// connection is resuming its conversation.
func (c *Conn) deliver(it item) bool {
	if it.conv == "" {
		return c.enqueue(it)
	}
	c.mu.Lock()
	ok, overflow := true, false
	rs := c.resumed[it.conv]
	switch {
	case rs == nil:
		ok, overflow = c.enqueueLocked(it)
	case rs.holding:
		rs.held = append(rs.held, it)
	case it.seq <= rs.cursor:
		// already sent by the replay
	default:
		if ok, overflow = c.enqueueLocked(it); ok {
			rs.cursor = it.seq
		}
	}
	c.mu.Unlock()
	if overflow {
		c.closeSlow()
	}
	return ok
}

// BeginResume starts a replay of conversation after seq: live events for it
// are held until EndResume, and those still waiting in the queue are
// dropped, since the replay will carry them in order. Events already
// written to the socket cannot be taken back; clients drop any seq they
// already have (docs/protocol.md).
func (c *Conn) BeginResume(conversationID string, afterSeq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resumed == nil {
		c.resumed = make(map[string]*resumeState)
	}
	c.resumed[conversationID] = &resumeState{holding: true, cursor: afterSeq}
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
}

// Replayed is one stored event to send during a resume.
type Replayed struct {
	Seq   int64
	Frame []byte
}

// EndResume queues the replay (ascending seq), then the held live events
// newer than it, then done (the "resumed" frame); from then on live events
// flow again, minus any the replay already carried.
func (c *Conn) EndResume(conversationID string, replay []Replayed, done []byte) bool {
	c.mu.Lock()
	rs := c.resumed[conversationID]
	if rs == nil || !rs.holding {
		c.mu.Unlock()
		return false
	}
	var items []item
	for _, r := range replay {
		if r.Seq <= rs.cursor {
			continue
		}
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, r.Frame)
		if err != nil {
			continue
		}
		items = append(items, item{msg: pm, size: len(r.Frame), conv: conversationID, seq: r.Seq})
		rs.cursor = r.Seq
	}
	for _, it := range rs.held {
		if it.seq > rs.cursor {
			items = append(items, it)
			rs.cursor = it.seq
		}
	}
	rs.holding, rs.held = false, nil
	// Queue everything under the same lock that ends the hold, so no live
	// event can slip in between the replay and the held ones.
	ok, overflow := true, false
	for _, it := range items {
		if ok, overflow = c.enqueueLocked(it); !ok {
			break
		}
	}
	c.mu.Unlock()
	if overflow {
		c.closeSlow()
		return false
	}
	return ok && c.Send(done)
}
