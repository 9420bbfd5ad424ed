package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// drainClient is one client that follows a conversation the way the web
// console and the employee page do (docs/protocol.md, "Resuming"): on every
// connect it sends resume from the highest seq it has applied, holds the
// conversation's events until resumed, then applies them in seq order,
// dropping any it already has.
type drainClient struct {
	i     int
	token string
	path  string       // the WebSocket endpoint: /ws/{agent_id} or /ws/h5/{employee_id}
	conv  string       // the conversation it follows
	node  int          // index in drainConfig.urls of its first node
	want  atomic.Int64 // the last seq of its conversation that it must get

	mu sync.Mutex
	ws *websocket.Conn // the current socket, for closing at the end

	// Only the client's own goroutine touches the rest while the run
	// lasts; the report reads it after that goroutine has ended.
	buf       []byte
	applied   int64        // highest seq applied
	progress  atomic.Int64 // applied, for the run to watch
	resuming  bool         // a resume is in flight: hold the events
	held      []int64      // seqs held meanwhile
	dups      int          // events dropped as already applied
	gaps      int          // seqs skipped: a loss
	errFrames int
	firstErr  string

	initial     bool   // the first resume, at the first connect, ended with resumed
	closedAt    int64  // the first close, ns since drainRun.base; 0 if never closed
	closeReason string // its code and reason
	closedAgain int    // closes after having resumed on another node
	attempts    int    // reconnect attempts, successful or not
	dialAt      int64  // start of the last successful handshake
	openAt      int64  // its end
	resumeAt    int64  // when its resume was sent
	resumedAt   int64  // when resumed arrived on the new socket; 0 if it never did
	target      int    // index in drainConfig.reconnectURLs of the node it resumed on
	failed      string // why it gave up, when it did
}

// setWS makes ws the socket the run closes at its end, unless it is
// already stopping: then it closes ws and returns false.
func (c *drainClient) setWS(ws *websocket.Conn, stopping *atomic.Bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stopping.Load() {
		ws.Close()
		return false
	}
	c.ws = ws
	return true
}

// apply records one event of the conversation in seq order.
func (c *drainClient) apply(seq int64) {
	switch {
	case seq <= c.applied:
		c.dups++
	case seq == c.applied+1:
		c.applied = seq
	default:
		c.gaps += int(seq - c.applied - 1)
		c.applied = seq
	}
	c.progress.Store(c.applied)
}

// endResume applies the held events, sorted, as the protocol says.
func (c *drainClient) endResume() {
	slices.Sort(c.held)
	for _, s := range c.held {
		c.apply(s)
	}
	c.held, c.resuming = c.held[:0], false
}

// frame kinds an agent client tells apart.
const (
	frameOther = iota
	frameEvent
	frameResumed
	frameError
	framePresence
)

var presencePrefix = []byte(`{"type":"presence"`)

// inFrame is the part of a frame the client reads.
type inFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
	More           bool   `json:"more"`
	Code           string `json:"code"`
}

// classify names a frame whose first bytes are head (all of it unless
// cut). Presence frames are recognised by their prefix without decoding:
// they can be hundreds of kilobytes.
func classify(head []byte, cut bool) (int, inFrame) {
	var f inFrame
	if bytes.HasPrefix(head, presencePrefix) {
		return framePresence, f
	}
	if cut || json.Unmarshal(head, &f) != nil {
		return frameOther, f
	}
	switch {
	case f.Type == "resumed":
		return frameResumed, f
	case f.Type == "error":
		return frameError, f
	case f.ConversationID != "" && f.Seq > 0:
		return frameEvent, f // an event's type is what happened: message.created…
	}
	return frameOther, f
}

// resumeFrame is the resume request for conv after seq.
func resumeFrame(conv string, after int64) []byte {
	return fmt.Appendf(nil, `{"type":"resume","conversation_id":%q,"after_seq":%d}`, conv, after)
}

// backoffDelay is the wait before reconnect attempt n (from 1): a uniform
// random delay in [cap/2, cap) where cap doubles from base up to
// backoffMax, as internal/web/static/shared/socket.js does, so clients
// dropped together do not all return in the same millisecond.
func backoffDelay(base time.Duration, n int) time.Duration {
	if base <= 0 {
		return 0
	}
	limit := base
	for i := 1; i < n && limit < backoffMax; i++ {
		limit *= 2
	}
	limit = min(limit, backoffMax)
	return limit/2 + rand.N(limit/2+1)
}

// closeText names how a socket ended, in a few stable words.
func closeText(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Text != "" {
			return fmt.Sprintf("code %d (%s)", ce.Code, ce.Text)
		}
		return fmt.Sprintf("code %d", ce.Code)
	}
	return failureReason(err)
}
