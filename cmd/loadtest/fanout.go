package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// senderID is the sender_id of the typing events; an agent connection of
// that id, seeded with the receivers, checks the server's answers.
const senderID = "lt-sender"

// senderName is the sender_name every typing event carries.
const senderName = "lt"

// sender emits the typing events through the push API, to every agent
// connection. Its own agent connection answers pings and receives the
// events too, which is how the probe checks them; it must keep reading,
// since a connection nobody reads is a slow consumer.
type sender struct {
	ws   *websocket.Conn
	push *pusher
	pong chan struct{} // one per pong received
	echo chan []byte   // typing frames that are not timed events
	buf  []byte        // event scratch
	conv []byte        // conversation id scratch

	errFrames atomic.Int64           // error frames the server answered with
	firstErr  atomic.Pointer[string] // the first of them
	done      chan struct{}          // closed when the read loop ends
	readErr   error                  // why it ended, set before done closes
}

// newSender starts the read loop of an opened sender connection.
func newSender(r *recorder, ws *websocket.Conn, push *pusher) *sender {
	s := &sender{ws: ws, push: push, pong: make(chan struct{}, 1), echo: make(chan []byte, 1), done: make(chan struct{})}
	r.wg.Go(func() {
		defer close(s.done)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				s.readErr = err
				r.noteClose("sender ", err)
				return
			}
			switch {
			case bytes.Contains(b, []byte(`"pong"`)):
				select {
				case s.pong <- struct{}{}:
				default:
				}
			case bytes.Contains(b, []byte(`"error"`)):
				if s.errFrames.Add(1) == 1 {
					e := string(b)
					s.firstErr.Store(&e)
				}
			case bytes.Contains(b, []byte(`"probe-`)):
				select {
				case s.echo <- b:
				default:
				}
			}
		}
	})
	return s
}

// write sends one text frame with a deadline, so a stalled server cannot
// hang the run.
func (s *sender) write(b []byte) error {
	s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return s.ws.WriteMessage(websocket.TextMessage, b)
}

// ping sends an application ping and returns the time until its pong.
func (s *sender) ping(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	if err := s.write([]byte(`{"type":"ping"}`)); err != nil {
		return 0, err
	}
	select {
	case <-s.pong:
		return time.Since(t0), nil
	case <-s.done:
		return 0, fmt.Errorf("connection ended: %w", s.readErr)
	case <-time.After(5 * time.Second):
		return 0, fmt.Errorf("no pong within 5s")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// typingEvent appends the seed's typing event for conversation conv.
func typingEvent(b, conv []byte) []byte {
	b = append(b, `{"type":"typing","data":{"conversation_id":"`...)
	b = append(b, conv...)
	return append(b, `","sender_id":"`+senderID+`","sender_name":"`+senderName+`","sender_type":"agent"}}`...)
}

// probe pushes one untimed typing event and checks the push API's answer
// and that the sender's connection receives the event exactly as pushed.
// conns is how many agent connections the answer should count.
func (s *sender) probe(ctx context.Context, conns int) (pushAnswer, error) {
	event := typingEvent(nil, []byte("probe-1"))
	a, err := s.push.push(ctx, event)
	if err != nil {
		return a, fmt.Errorf("push: %w", err)
	}
	if !a.Published || a.Delivered != conns {
		return a, fmt.Errorf("push answered delivered %d, published %v; want %d, true", a.Delivered, a.Published, conns)
	}
	select {
	case b := <-s.echo:
		if !bytes.Equal(b, event) {
			return a, fmt.Errorf("pushed %s, received %s", event, b)
		}
		return a, nil
	case <-time.After(5 * time.Second):
		return a, fmt.Errorf("the pushed event did not arrive within 5s")
	case <-ctx.Done():
		return a, ctx.Err()
	}
}

// fanoutResult is what one fan-out run measured.
type fanoutResult struct {
	sent, receivers     int
	received, stray     int64
	lat                 []int32 // µs, sorted
	firstSend, lastRecv int64   // ns since recorder.base
	closes              map[string]int
	sendErr             error
	pushed              []int // the push API's "delivered" for each event
	nodes               []nodeFanout
}

// nodeFanout is the part of a fan-out run delivered by one node.
type nodeFanout struct {
	receivers int
	lat       []int32 // µs, sorted
	lastRecv  int64   // ns since recorder.base
}

// expected is how many deliveries a lossless server would have made.
func (f fanoutResult) expected() int64 { return int64(f.sent) * int64(f.receivers) }

// runFanout sends the events of ph, one per interval (0 for back to back),
// and waits until every receiver has them all, nothing has arrived for
// drain, or ctx ends.
func runFanout(ctx context.Context, r *recorder, s *sender, peers []*peer, nodes int, ph *phase, interval, drain time.Duration) fanoutResult {
	events := ph.hi - ph.lo
	for _, p := range peers {
		p.mu.Lock()
		if cap(p.lat) < events {
			p.lat = make([]int32, 0, events) // no growth, so no GC, while timing
		}
		p.lat, p.last = p.lat[:0], 0
		p.mu.Unlock()
	}
	r.received.Store(0)
	r.stray.Store(0)
	r.phase.Store(ph)

	res := fanoutResult{receivers: len(peers), firstSend: r.now(), nodes: make([]nodeFanout, nodes)}
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for seq := ph.lo; seq < ph.hi && ctx.Err() == nil; seq++ {
		if tick != nil && seq > ph.lo {
			select {
			case <-tick:
			case <-ctx.Done():
			}
		}
		// The conversation id carries the send time on the recorder's
		// monotonic clock: the receivers parse it back.
		s.conv = fmt.Appendf(s.conv[:0], "lt-%d-%d", seq, r.now())
		s.buf = typingEvent(s.buf[:0], s.conv)
		a, err := s.push.push(ctx, s.buf)
		if res.sendErr = err; err != nil {
			break
		}
		res.pushed = append(res.pushed, a.Delivered)
		res.sent++
	}
	waitDeliveries(ctx, r, res.expected(), drain)

	for _, p := range peers {
		n := &res.nodes[p.node]
		p.mu.Lock()
		res.lat = append(res.lat, p.lat...)
		res.lastRecv = max(res.lastRecv, p.last)
		n.receivers++
		n.lat = append(n.lat, p.lat...)
		n.lastRecv = max(n.lastRecv, p.last)
		p.mu.Unlock()
	}
	slices.Sort(res.lat)
	for i := range res.nodes {
		slices.Sort(res.nodes[i].lat)
	}
	res.received = int64(len(res.lat))
	res.stray = r.stray.Load()
	res.closes = ph.closed()
	return res
}

// waitDeliveries returns when want deliveries have been counted, none has
// arrived for drain, a minute has passed, or ctx ends.
func waitDeliveries(ctx context.Context, r *recorder, want int64, drain time.Duration) {
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	deadline := time.Now().Add(time.Minute)
	last, progress := int64(-1), time.Now()
	for {
		got := r.received.Load()
		now := time.Now()
		if got != last {
			last, progress = got, now
		}
		if got >= want || now.Sub(progress) > drain || now.After(deadline) {
			return
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			return
		}
	}
}
