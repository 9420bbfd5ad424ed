package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	ws   *websocket.Conn
	node int // index of its node in config.urls

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

	presenceFrames, presenceBytes atomic.Int64 // presence announcements received
}

// now is the time since base, monotonic.
func (r *recorder) now() int64 { return int64(time.Since(r.base)) }

// start runs p's receive loop in its own goroutine.
func (r *recorder) start(p *peer) {
	r.wg.Go(func() { r.receive(p) })
}

// receive reads frames until the connection ends, timing every typing
// event it recognises. It keeps only the head of each frame in one reused
// buffer and only scans for the conversation id, since the client shares
// the CPU with the server.
func (r *recorder) receive(p *peer) {
	buf := make([]byte, 0, 512)
	for {
		_, rd, err := p.ws.NextReader()
		if err != nil {
			r.noteClose("", err)
			return
		}
		var size int64
		buf, size, err = readHead(rd, buf)
		if err != nil {
			r.noteClose("", err)
			return
		}
		if bytes.HasPrefix(buf, presencePrefix) {
			r.presenceFrames.Add(1)
			r.presenceBytes.Add(size)
			continue
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

// readHead reads a whole message, keeping as much of its start as fits in
// buf's capacity and discarding the rest, and returns its whole size.
// The timed events are small; presence announcements can list thousands
// of agents, and buffering them whole would grow every receiver's buffer
// to the largest one: gigabytes over 10,000 connections.
func readHead(rd io.Reader, buf []byte) ([]byte, int64, error) {
	buf = buf[:0]
	for len(buf) < cap(buf) {
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, int64(len(buf)), nil
		}
		if err != nil {
			return buf, int64(len(buf)), err
		}
	}
	n, err := io.Copy(io.Discard, rd)
	return buf, int64(len(buf)) + n, err
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
