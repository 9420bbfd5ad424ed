package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// senderID is the agent that emits the typing events; its token is
// seeded with the receivers'.
const senderID = "lt-sender"

// senderName is the sender_name every typing event carries.
const senderName = "loadtest"

// sender is the extra agent connection that emits typing events. It reads
// its connection too: the server broadcasts to the sender as well, and a
// connection nobody reads is a slow consumer.
type sender struct {
	ws   *websocket.Conn
	pong chan struct{} // one per pong received
	echo chan []byte   // typing frames that are not timed events
	buf  []byte        // frame scratch

	errFrames atomic.Int64           // error frames the server answered with
	firstErr  atomic.Pointer[string] // the first of them
	done      chan struct{}          // closed when the read loop ends
	readErr   error                  // why it ended, set before done closes
}

// newSender starts the read loop of an opened sender connection.
func newSender(r *recorder, ws *websocket.Conn) *sender {
	s := &sender{ws: ws, pong: make(chan struct{}, 1), echo: make(chan []byte, 1), done: make(chan struct{})}
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

// probe sends one untimed typing event and checks the broadcast the
// sender receives against the seed's frame shape.
func (s *sender) probe(ctx context.Context) error {
	const conv = "probe-1"
	if err := s.write(fmt.Appendf(nil, `{"type":"typing","conversation_id":%q,"sender_name":%q}`, conv, senderName)); err != nil {
		return err
	}
	var b []byte
	select {
	case b = <-s.echo:
	case <-time.After(5 * time.Second):
		return fmt.Errorf("sender got no typing broadcast within 5s")
	case <-ctx.Done():
		return ctx.Err()
	}
	var f struct {
		Type string `json:"type"`
		Data struct {
			ConversationID string `json:"conversation_id"`
			SenderID       string `json:"sender_id"`
			SenderName     string `json:"sender_name"`
			SenderType     string `json:"sender_type"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("typing broadcast is not JSON: %w", err)
	}
	d := f.Data
	if f.Type != "typing" || d.ConversationID != conv || d.SenderID != senderID || d.SenderName != senderName || d.SenderType != "agent" {
		return fmt.Errorf("unexpected typing broadcast %s", b)
	}
	return nil
}

// fanoutResult is what one fan-out run measured.
type fanoutResult struct {
	sent, receivers     int
	received, stray     int64
	lat                 []int32 // µs, sorted
	firstSend, lastRecv int64   // ns since recorder.base
	closes              map[string]int
	sendErr             error
}

// expected is how many deliveries a lossless server would have made.
func (f fanoutResult) expected() int64 { return int64(f.sent) * int64(f.receivers) }

// runFanout sends the events of ph, one per interval (0 for back to back),
// and waits until every receiver has them all, nothing has arrived for
// drain, or ctx ends.
func runFanout(ctx context.Context, r *recorder, s *sender, peers []*peer, ph *phase, interval, drain time.Duration) fanoutResult {
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

	res := fanoutResult{receivers: len(peers), firstSend: r.now()}
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
		s.buf = fmt.Appendf(s.buf[:0], `{"type":"typing","conversation_id":"lt-%d-%d","sender_name":%q}`, seq, r.now(), senderName)
		if res.sendErr = s.write(s.buf); res.sendErr != nil {
			break
		}
		res.sent++
	}
	waitDeliveries(ctx, r, res.expected(), drain)

	for _, p := range peers {
		p.mu.Lock()
		res.lat = append(res.lat, p.lat...)
		res.lastRecv = max(res.lastRecv, p.last)
		p.mu.Unlock()
	}
	slices.Sort(res.lat)
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
