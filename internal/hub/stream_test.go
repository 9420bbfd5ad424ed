package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

var employee = desk.Principal{Role: desk.RoleEmployee, ID: "e1"}

// pair is a hub with one registered connection and the client's end of it.
type pair struct {
	hub    *Hub
	conn   *Conn
	client *websocket.Conn
}

func newPair(t *testing.T, opts Options) *pair {
	t.Helper()
	if opts.SendQueueBytes == 0 {
		opts.SendQueueBytes = 1 << 20
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = time.Minute
	}
	h := New(opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	registered := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c, err := h.Register(ws, employee, "fp")
		if err != nil {
			ws.Close()
			return
		}
		registered <- c
		go func() {
			defer h.Unregister(c)
			for {
				if _, _, err := ws.NextReader(); err != nil {
					return
				}
			}
		}()
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &pair{hub: h, conn: <-registered, client: client}
}

// event is seq of conversation cv_1 for the employee, naming prev.
func event(seq, prev int64) desk.Event {
	return desk.Event{
		To: desk.Audience{Kind: desk.ToUser, User: employee}, Frame: fmt.Appendf(nil, `{"seq":%d}`, seq),
		ConversationID: "cv_1", Seq: seq, Prev: prev,
	}
}

// seqs reads n frames and returns their seqs (0 for a frame without one).
func (p *pair) seqs(t *testing.T, n int) []int64 {
	t.Helper()
	var out []int64
	for range n {
		p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := p.client.ReadMessage()
		if err != nil {
			t.Fatalf("after %v: %v", out, err)
		}
		var f struct{ Seq int64 }
		json.Unmarshal(b, &f)
		out = append(out, f.Seq)
	}
	return out
}

// quiet checks that nothing more arrives for a moment.
func (p *pair) quiet(t *testing.T) {
	t.Helper()
	p.client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, b, err := p.client.ReadMessage(); err == nil {
		t.Fatalf("unexpected frame %s", b)
	}
}

// recordingFiller answers fills from a stored stream and counts them.
type recordingFiller struct {
	mu     sync.Mutex
	stored []int64 // the seqs the viewer may see
	calls  []int64 // afterSeq of each call
	fail   []error // returned by the first calls, in turn
}

func (f *recordingFiller) fill(_ context.Context, _ desk.Principal, _ string, after int64) ([]Replayed, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, after)
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return nil, false, err
	}
	var out []Replayed
	for _, s := range f.stored {
		if s > after {
			out = append(out, Replayed{Seq: s, Frame: fmt.Appendf(nil, `{"seq":%d}`, s)})
		}
	}
	return out, false, nil
}

func (f *recordingFiller) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// TestStreamOrdersEveryArrivalOrder delivers an employee's stream (seq 3 is
// a note they never see) in every order the bus could bring it: the
// connection gets each event once, in seq order, and never needs the store
// when everything arrives.
func TestStreamOrdersEveryArrivalOrder(t *testing.T) {
	evs := []desk.Event{event(2, 1), event(4, 2), event(5, 4), event(6, 5)}
	var perms [][]desk.Event
	var permute func(rest, acc []desk.Event)
	permute = func(rest, acc []desk.Event) {
		if len(rest) == 0 {
			perms = append(perms, slices.Clone(acc))
			return
		}
		for i := range rest {
			next := append(slices.Clone(rest[:i]), rest[i+1:]...)
			permute(next, append(acc, rest[i]))
		}
	}
	permute(evs, nil)
	f := &recordingFiller{}
	p := newPair(t, Options{GapWait: time.Minute, Fill: f.fill})
	for i, order := range perms {
		// Each round is a conversation of its own, started at seq 1.
		conv := fmt.Sprintf("cv_%d", i)
		first := event(1, 0)
		first.ConversationID = conv
		p.hub.Deliver(first)
		for _, ev := range order {
			ev.ConversationID = conv
			p.hub.Deliver(ev)
			p.hub.Deliver(ev) // and every event twice, as a republish would
		}
		if got := p.seqs(t, 5); !slices.Equal(got, []int64{1, 2, 4, 5, 6}) {
			t.Fatalf("order %v: delivered %v", order, got)
		}
	}
	p.quiet(t)
	if n := f.callCount(); n != 0 {
		t.Errorf("%d fills, want none", n)
	}
	if streams, held := p.conn.Streams(); streams != maxStreams && streams != len(perms) || held != 0 {
		t.Errorf("%d streams, %d held", streams, held)
	}
}

// TestStreamFillsALostEvent: the audience-copy bug of issue 8 (the
// employee's copy of seq 4 never came, 5 did): after GapWait the stream is
// filled from the store and nothing is skipped.
func TestStreamFillsALostEvent(t *testing.T) {
	f := &recordingFiller{stored: []int64{1, 2, 4, 5}}
	p := newPair(t, Options{GapWait: 20 * time.Millisecond, Fill: f.fill})
	p.hub.Deliver(event(1, 0))
	p.hub.Deliver(event(2, 1))
	p.hub.Deliver(event(5, 4))
	if got := p.seqs(t, 4); !slices.Equal(got, []int64{1, 2, 4, 5}) {
		t.Fatalf("delivered %v", got)
	}
	// The lost copy turns up late: already sent, dropped.
	p.hub.Deliver(event(4, 2))
	p.hub.Deliver(event(6, 5))
	if got := p.seqs(t, 1); got[0] != 6 {
		t.Fatalf("then %v", got)
	}
	p.quiet(t)
	if n := f.callCount(); n != 1 {
		t.Errorf("%d fills, want 1", n)
	}
}

// TestStreamFillRetriesAnUnavailableStore: the store down for a while
// delays the fill; it is not given up on.
func TestStreamFillRetriesAnUnavailableStore(t *testing.T) {
	down := desk.Errorf(desk.EUnavailable, "database unavailable")
	f := &recordingFiller{stored: []int64{1, 2, 3}, fail: []error{down, down}}
	p := newPair(t, Options{GapWait: 10 * time.Millisecond, Fill: f.fill})
	p.hub.Deliver(event(1, 0))
	p.hub.Deliver(event(3, 2))
	if got := p.seqs(t, 3); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("delivered %v", got)
	}
	if n := f.callCount(); n != 3 {
		t.Errorf("%d fill attempts, want 3", n)
	}
}

// TestStreamDeliversWhatItMayNotFill: a connection no longer allowed to read
// the conversation still gets the events addressed to it.
func TestStreamDeliversWhatItMayNotFill(t *testing.T) {
	f := &recordingFiller{fail: []error{desk.Errorf(desk.EForbidden, "not a participant")}}
	p := newPair(t, Options{GapWait: 10 * time.Millisecond, Fill: f.fill})
	p.hub.Deliver(event(1, 0))
	p.hub.Deliver(event(4, 3))
	p.hub.Deliver(event(6, 5))
	if got := p.seqs(t, 3); !slices.Equal(got, []int64{1, 4, 6}) {
		t.Fatalf("delivered %v", got)
	}
}

// TestStreamResumeHoldsLiveEvents: events arriving while a replay is read
// follow it, once each, with the gap between them filled.
func TestStreamResumeHoldsLiveEvents(t *testing.T) {
	f := &recordingFiller{stored: []int64{1, 2, 3, 4, 5, 6}}
	p := newPair(t, Options{GapWait: 20 * time.Millisecond, Fill: f.fill})
	gen := p.conn.BeginResume("cv_1", 1)
	p.hub.Deliver(event(3, 2)) // already in the replay
	p.hub.Deliver(event(6, 5)) // committed after the replay was read; 5 was lost
	replay := []Replayed{{Seq: 2, Frame: []byte(`{"seq":2}`)}, {Seq: 3, Frame: []byte(`{"seq":3}`)}, {Seq: 4, Frame: []byte(`{"seq":4}`)}}
	if !p.conn.EndResume("cv_1", gen, replay, []byte(`{"type":"resumed"}`)) {
		t.Fatal("EndResume refused")
	}
	if got := p.seqs(t, 6); !slices.Equal(got, []int64{2, 3, 4, 0, 5, 6}) {
		t.Fatalf("delivered %v (0 is resumed)", got)
	}
}

// TestStreamHeldEventsCountAgainstTheQueue: a gap that cannot fill does
// not let held events grow without bound; the connection is closed as a
// slow consumer and its client resumes.
func TestStreamHeldEventsCountAgainstTheQueue(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	fill := func(ctx context.Context, _ desk.Principal, _ string, _ int64) ([]Replayed, bool, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil, false, ctx.Err()
	}
	p := newPair(t, Options{GapWait: time.Millisecond, Fill: fill, SendQueueBytes: 200})
	p.hub.Deliver(event(1, 0))
	for seq := int64(3); seq < 40; seq++ {
		p.hub.Deliver(event(seq, seq-1))
	}
	p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := p.client.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != wire.CloseTryAgainLater {
				t.Fatalf("closed with %d, want %d", ce.Code, wire.CloseTryAgainLater)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestStreamForgetsTheQuietest: a connection keeps at most maxStreams.
func TestStreamForgetsTheQuietest(t *testing.T) {
	p := newPair(t, Options{})
	for i := range maxStreams + 10 {
		ev := event(1, 0)
		ev.ConversationID = fmt.Sprintf("cv_%d", i)
		p.hub.Deliver(ev)
	}
	p.seqs(t, maxStreams+10)
	if n, _ := p.conn.Streams(); n != maxStreams {
		t.Errorf("%d streams kept, want %d", n, maxStreams)
	}
}

// TestShutdownIsBounded: a connection whose reader never lets go (its
// handler stuck on a database that hangs) cannot hold Shutdown past its
// deadline and a short grace.
func TestShutdownIsBounded(t *testing.T) {
	h := New(Options{SendQueueBytes: 1 << 20, PingInterval: time.Minute}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	registered := make(chan *Conn, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c, err := h.Register(ws, employee, "fp")
		if err != nil {
			return
		}
		registered <- c
		go func() {
			<-release // a reader stuck in a handler: it never unregisters in time
			h.Unregister(c)
		}()
	}))
	defer srv.Close()
	defer close(release)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := <-registered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := h.Shutdown(ctx, wire.CloseServiceRestart, "server restarting"); err == nil {
		t.Fatal("Shutdown reported a clean stop")
	}
	if elapsed := time.Since(start); elapsed > 100*time.Millisecond+shutdownGrace+time.Second {
		t.Errorf("Shutdown took %v", elapsed)
	}
	if c.Context().Err() == nil {
		t.Error("the connection's context is still live after Shutdown")
	}
}
