package main

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// phase is one stretch of the run: events with seq in [lo, hi) belong to
// it, and server-side closes are charged to the phase they happen in.
type phase struct {
	lo, hi int

	mu     sync.Mutex
	closes map[string]int // close code or error → count
}

func newPhase(lo, hi int) *phase {
	return &phase{lo: lo, hi: hi, closes: map[string]int{}}
}

// closed returns a copy of the closes seen so far.
func (p *phase) closed() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.closes)
}

// peer is one receiving agent connection and what it recorded in the
// current phase. Only its own goroutine writes it while a phase runs.
type peer struct {
	ws *websocket.Conn

	mu   sync.Mutex
	lat  []int32 // delivery latency in µs
	last int64   // receipt of the latest delivery, ns since recorder.base
}

// recorder is shared by all receivers.
type recorder struct {
	base     time.Time // clock origin for send and receipt times
	phase    atomic.Pointer[phase]
	received atomic.Int64 // deliveries in the current phase
	stray    atomic.Int64 // deliveries of another phase's events
	closing  atomic.Bool  // we are closing; closes are ours, not the server's
	wg       sync.WaitGroup
}

// now is the time since base, monotonic.
func (r *recorder) now() int64 { return int64(time.Since(r.base)) }

// start runs p's receive loop in its own goroutine.
func (r *recorder) start(p *peer) {
	r.wg.Go(func() { r.receive(p) })
}

// receive reads frames until the connection ends, timing every typing
// event it recognises. It reuses one buffer and only scans for the
// conversation id, since the client shares the CPU with the server.
func (r *recorder) receive(p *peer) {
	buf := make([]byte, 0, 512)
	for {
		_, rd, err := p.ws.NextReader()
		if err != nil {
			r.noteClose("", err)
			return
		}
		buf, err = readInto(rd, buf[:0])
		if err != nil {
			r.noteClose("", err)
			return
		}
		now := r.now()
		seq, sent, ok := parseEvent(buf)
		if !ok {
			continue
		}
		ph := r.phase.Load()
		if ph == nil || seq < ph.lo || seq >= ph.hi {
			r.stray.Add(1)
			continue
		}
		p.mu.Lock()
		p.lat = append(p.lat, int32((now-sent)/1e3))
		p.last = now
		p.mu.Unlock()
		r.received.Add(1)
	}
}

// noteClose charges a connection ending to the current phase, unless we
// are the ones closing. who prefixes the reason, to tell the sender apart.
func (r *recorder) noteClose(who string, err error) {
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
	if ph := r.phase.Load(); ph != nil {
		ph.mu.Lock()
		ph.closes[reason]++
		ph.mu.Unlock()
	}
}

var conversationKey = []byte(`"conversation_id"`)

// parseEvent extracts seq and send time from a frame whose conversation
// id is "lt-<seq>-<ns since base>", tolerating spaces around the colon.
func parseEvent(b []byte) (seq int, sent int64, ok bool) {
	i := bytes.Index(b, conversationKey)
	if i < 0 {
		return 0, 0, false
	}
	b = bytes.TrimLeft(b[i+len(conversationKey):], " :")
	b, ok = bytes.CutPrefix(b, []byte(`"lt-`))
	if !ok {
		return 0, 0, false
	}
	end := bytes.IndexByte(b, '"')
	if end < 0 {
		return 0, 0, false
	}
	s, t, ok := bytes.Cut(b[:end], []byte{'-'})
	if !ok {
		return 0, 0, false
	}
	seq64, ok1 := atoi(s)
	sent, ok2 := atoi(t)
	return int(seq64), sent, ok1 && ok2
}

// atoi parses a non-negative decimal without allocating, unlike strconv
// on a converted string.
func atoi(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
