package main

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// msgRun is the state one messages run shares between its goroutines.
//
// Message k of the run (0 ≤ k < total) goes to conversation k mod ready and
// carries client_msg_id "lt-<tag>-<i>-<k>", where i is the employee's
// index, and body "lt <unix ns at send>". Everything the readers record is
// indexed by k, so it is sized before the first socket opens.
type msgRun struct {
	cfg       msgConfig
	tag       string // per-run random tag, so runs against one database never collide
	total     int64
	clientKey []byte // `"client_msg_id":"lt-<tag>-`

	sentAt []atomic.Int64 // unix ns when message k was written; 0 until then
	ackLat []int32        // µs from send to ack of message k, +1 so 0 means none; each k written by one reader only

	acked     atomic.Int64
	delivered atomic.Int64 // first deliveries, summed over agent connections
	echoed    atomic.Int64 // employees' own message.created
	// stopped is set when the drain wait ends: what arrives later is
	// counted as late, not as delivered or acked.
	stopped   atomic.Bool
	lateAcks  atomic.Int64
	lateDeliv atomic.Int64
	closing   atomic.Bool // we are closing: closes are ours, not the server's
	wg        sync.WaitGroup

	mu        sync.Mutex
	errFrames map[string]int // error frame code → count
	closes    map[string]int // who and close code → count
	other     map[string]int // frames of no interest, by type, for the record
}

func newMsgRun(cfg msgConfig, tag string) *msgRun {
	total := cfg.total()
	return &msgRun{
		cfg: cfg, tag: tag, total: total,
		clientKey: []byte(`"client_msg_id":"lt-` + tag + `-`),
		sentAt:    make([]atomic.Int64, total),
		ackLat:    make([]int32, total),
		errFrames: map[string]int{}, closes: map[string]int{}, other: map[string]int{},
	}
}

// employeeID and openingID name what the run creates.
func (r *msgRun) employeeID(i int) string { return "lt-emp-" + r.tag + "-" + strconv.Itoa(i) }
func (r *msgRun) openingID(i int) string  { return "lt-" + r.tag + "-" + strconv.Itoa(i) + "-open" }

// employee is one employee's socket and conversation.
type employee struct {
	i         int
	id, token string
	conv      string
	ws        *websocket.Conn
	frame     []byte      // the message frame up to the k of its client_msg_id
	dead      bool        // a write failed; only the sender touches it
	abandoned atomic.Bool // setup failed and closed it: its end is no news
}

// agentConn is one of the agent's sockets and what it received. Only its
// reader touches the fields until the readers have ended.
type agentConn struct {
	ws      *websocket.Conn
	seen    []uint64 // bit k: message k arrived
	high    []int64  // per employee index: highest k arrived, +1
	lat     []int32  // µs from send to receipt, first deliveries only
	ks      []int32  // the message each lat belongs to, for the timeline
	dup     int      // a message that arrived again
	reorder int      // a message older than one already arrived from its conversation
	last    int64    // unix ns of the latest first delivery
}

func (r *msgRun) newAgentConn(ws *websocket.Conn) *agentConn {
	return &agentConn{
		ws:   ws,
		seen: make([]uint64, (r.total+63)/64),
		high: make([]int64, r.cfg.conversations),
		lat:  make([]int32, 0, r.total), // no growth, so no GC, while timing
		ks:   make([]int32, 0, r.total),
	}
}

// readAgent records every timed message.created the agent receives.
func (r *msgRun) readAgent(a *agentConn) {
	buf := make([]byte, 0, 1024)
	for {
		_, rd, err := a.ws.NextReader()
		if err == nil {
			buf, err = readInto(rd, buf[:0])
		}
		if err != nil {
			r.noteClose("agent ", err)
			return
		}
		now := time.Now().UnixNano()
		i, k, sent, ok := r.parseDelivery(buf)
		if !ok || k >= r.total || i >= len(a.high) {
			continue
		}
		if r.stopped.Load() {
			r.lateDeliv.Add(1)
			continue
		}
		word, bit := k/64, uint64(1)<<(k%64)
		if a.seen[word]&bit != 0 {
			a.dup++
			continue
		}
		a.seen[word] |= bit
		if k+1 < a.high[i] { // an older message than one already here
			a.reorder++
		}
		a.high[i] = max(a.high[i], k+1)
		a.lat = append(a.lat, int32(max(0, now-sent)/1e3))
		a.ks = append(a.ks, int32(k))
		a.last = now
		r.delivered.Add(1)
	}
}

// readEmployee times acks and counts echoes and error frames.
func (r *msgRun) readEmployee(e *employee) {
	buf := make([]byte, 0, 512)
	for {
		_, rd, err := e.ws.NextReader()
		if err == nil {
			buf, err = readInto(rd, buf[:0])
		}
		if err != nil {
			if !e.abandoned.Load() {
				r.noteClose("employee ", err)
			}
			return
		}
		now := time.Now().UnixNano()
		switch {
		case hasPrefix(buf, `{"type":"ack"`):
			_, k, ok := r.parseClientMsgID(buf)
			if !ok || k >= r.total {
				r.count(r.other, "ack of an unknown message")
				continue
			}
			if r.stopped.Load() {
				r.lateAcks.Add(1)
				continue
			}
			if r.ackLat[k] != 0 {
				r.count(r.other, "ack repeated")
				continue
			}
			if sent := r.sentAt[k].Load(); sent > 0 {
				r.ackLat[k] = int32(max(0, now-sent)/1e3) + 1
			}
			r.acked.Add(1)
		case hasPrefix(buf, `{"type":"error"`):
			r.count(r.errFrames, string(stringField(buf, `"code":"`)))
		case contains(buf, `"type":"message.created"`):
			if _, _, ok := r.parseClientMsgID(buf); ok {
				r.echoed.Add(1)
			}
		case hasPrefix(buf, `{"type":"queue.position"`):
			// Setup traffic: positions move while the queue fills and empties.
		default:
			r.count(r.other, string(stringField(buf, `"type":"`)))
		}
	}
}

// count adds one to m[key] under the run's lock.
func (r *msgRun) count(m map[string]int, key string) {
	r.mu.Lock()
	m[key]++
	r.mu.Unlock()
}

// snapshot copies m under the run's lock.
func (r *msgRun) snapshot(m map[string]int) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(m)
}

// noteClose records a connection that ended while we were not closing it.
func (r *msgRun) noteClose(who string, err error) {
	if r.closing.Load() {
		return
	}
	reason := who + failureReason(err)
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		reason = fmt.Sprintf("%scode %d", who, ce.Code)
		if ce.Text != "" {
			reason += " (" + ce.Text + ")"
		}
	}
	r.count(r.closes, reason)
}

// closeAll closes every socket with a close frame first, waits a bounded
// time for the readers to see the server's reply, then drops the rest.
func (r *msgRun) closeAll(conns []*websocket.Conn) { closeSockets(&r.closing, &r.wg, conns) }
