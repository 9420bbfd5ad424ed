package bus

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testHold = 200 * time.Millisecond
	testIdle = 10 * time.Minute
)

// convEvent is seq of conversation conv, to audience n (several audiences
// of one event share its seq).
func convEvent(conv string, seq int64, audience int) desk.Event {
	return desk.Event{
		To:             desk.Audience{Kind: desk.ToUser, User: desk.Principal{Role: desk.RoleAgent, ID: fmt.Sprint("a-", audience)}},
		Frame:          fmt.Appendf(nil, `{"conversation_id":%q,"seq":%d}`, conv, seq),
		ConversationID: conv,
		Seq:            seq,
	}
}

// delivered names each delivery "conv:seq/audience", in order.
type delivered struct {
	mu  sync.Mutex
	got []string
}

func (d *delivered) deliver(ev desk.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, fmt.Sprintf("%s:%d/%s", ev.ConversationID, ev.Seq, ev.To.User.ID))
}

func (d *delivered) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	got := d.got
	d.got = nil
	return got
}

func TestSequencer(t *testing.T) {
	type step struct {
		push    []desk.Event
		advance time.Duration // then tick
		want    []string      // delivered by this step
	}
	ev := convEvent
	tests := []struct {
		name  string
		steps []step
	}{
		{"first event of a conversation passes at once", []step{
			{push: []desk.Event{ev("c1", 7, 0)}, want: []string{"c1:7/a-0"}},
		}},
		{"in order passes at once", []step{
			{push: []desk.Event{ev("c1", 1, 0), ev("c1", 2, 0), ev("c1", 3, 0)}, want: []string{"c1:1/a-0", "c1:2/a-0", "c1:3/a-0"}},
		}},
		{"another audience of the same seq passes at once", []step{
			{push: []desk.Event{ev("c1", 1, 0), ev("c1", 1, 1), ev("c1", 2, 0), ev("c1", 2, 1)},
				want: []string{"c1:1/a-0", "c1:1/a-1", "c1:2/a-0", "c1:2/a-1"}},
		}},
		{"a gap is held until it fills", []step{
			{push: []desk.Event{ev("c1", 4, 0), ev("c1", 6, 0), ev("c1", 6, 1)}, want: []string{"c1:4/a-0"}},
			{advance: testHold - time.Millisecond},
			{push: []desk.Event{ev("c1", 5, 0)}, want: []string{"c1:5/a-0", "c1:6/a-0", "c1:6/a-1"}},
			{push: []desk.Event{ev("c1", 7, 0)}, want: []string{"c1:7/a-0"}},
		}},
		{"held events come out in seq order", []step{
			{push: []desk.Event{ev("c1", 1, 0), ev("c1", 4, 0), ev("c1", 3, 0), ev("c1", 4, 1), ev("c1", 3, 1)}, want: []string{"c1:1/a-0"}},
			{push: []desk.Event{ev("c1", 2, 0)}, want: []string{"c1:2/a-0", "c1:3/a-0", "c1:3/a-1", "c1:4/a-0", "c1:4/a-1"}},
		}},
		{"an unfilled gap gives way after the hold timeout", []step{
			{push: []desk.Event{ev("c1", 1, 0), ev("c1", 3, 0)}, want: []string{"c1:1/a-0"}},
			{advance: testHold / 2},
			{push: []desk.Event{ev("c1", 5, 0)}},
			{advance: testHold / 2, want: []string{"c1:3/a-0"}},
			{push: []desk.Event{ev("c1", 4, 0)}, want: []string{"c1:4/a-0", "c1:5/a-0"}},
		}},
		{"a timed-out event takes the lower held ones with it", []step{
			{push: []desk.Event{ev("c1", 1, 0), ev("c1", 5, 0)}, want: []string{"c1:1/a-0"}},
			{advance: testHold / 2},
			{push: []desk.Event{ev("c1", 3, 0)}},
			{advance: testHold / 2, want: []string{"c1:3/a-0", "c1:5/a-0"}},
			{push: []desk.Event{ev("c1", 6, 0)}, want: []string{"c1:6/a-0"}},
		}},
		{"a late event passes at once", []step{
			{push: []desk.Event{ev("c1", 1, 0), ev("c1", 3, 0)}, want: []string{"c1:1/a-0"}},
			{advance: testHold, want: []string{"c1:3/a-0"}},
			{push: []desk.Event{ev("c1", 2, 0), ev("c1", 4, 0)}, want: []string{"c1:2/a-0", "c1:4/a-0"}},
		}},
		{"conversations do not wait for each other", []step{
			{push: []desk.Event{ev("c1", 1, 0), ev("c2", 1, 0), ev("c1", 3, 0), ev("c2", 2, 0)},
				want: []string{"c1:1/a-0", "c2:1/a-0", "c2:2/a-0"}},
		}},
		{"events without a conversation or seq bypass it", []step{
			{push: []desk.Event{ev("c1", 1, 0), ev("c1", 3, 0), ev("", 0, 0), ev("c1", 0, 0)},
				want: []string{"c1:1/a-0", ":0/a-0", "c1:0/a-0"}},
		}},
		{"idle conversations are forgotten", []step{
			{push: []desk.Event{ev("c1", 1, 0)}, want: []string{"c1:1/a-0"}},
			{advance: testIdle},
			// Forgotten, so seq 3 counts as the first and is not held.
			{push: []desk.Event{ev("c1", 3, 0)}, want: []string{"c1:3/a-0"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock, d := newFakeClock(), &delivered{}
			s := newSequencer(d.deliver, clock.now, testHold, testIdle)
			for i, st := range tt.steps {
				for _, e := range st.push {
					s.push(e)
				}
				if st.advance > 0 {
					clock.advance(st.advance)
					s.tick()
				}
				if got := d.take(); !slices.Equal(got, st.want) {
					t.Fatalf("step %d delivered %q, want %q", i, got, st.want)
				}
			}
		})
	}
}

func TestSequencerTickSchedule(t *testing.T) {
	clock, d := newFakeClock(), &delivered{}
	s := newSequencer(d.deliver, clock.now, testHold, testIdle)
	start := clock.now()
	if next := s.tick(); !next.Equal(start.Add(testIdle / 10)) {
		t.Fatalf("idle tick due at +%v, want the sweep at +%v", next.Sub(start), testIdle/10)
	}
	s.push(convEvent("c1", 1, 0))
	clock.advance(time.Millisecond)
	s.push(convEvent("c1", 3, 0))
	if next := s.tick(); !next.Equal(start.Add(time.Millisecond + testHold)) {
		t.Fatalf("tick due at +%v, want when seq 3's hold ends, +%v", next.Sub(start), time.Millisecond+testHold)
	}
	select {
	case <-s.wake:
	default:
		t.Fatal("holding an event did not wake the timer")
	}
}

func TestSequencerForgetsIdleState(t *testing.T) {
	clock, d := newFakeClock(), &delivered{}
	s := newSequencer(d.deliver, clock.now, testHold, testIdle)
	for i := range 1000 {
		s.push(convEvent(fmt.Sprint("c", i), 1, 0))
		s.push(convEvent(fmt.Sprint("c", i), 3, 0))
	}
	if convs, held := s.size(); convs != 1000 || held != 1000 {
		t.Fatalf("size = %d conversations, %d held; want 1000, 1000", convs, held)
	}
	clock.advance(testHold)
	s.tick()
	if _, held := s.size(); held != 0 {
		t.Fatalf("%d events still held after the hold timeout", held)
	}
	clock.advance(testIdle - testHold - time.Second)
	s.push(convEvent("c0", 4, 0)) // keeps c0 alive
	clock.advance(time.Second)
	s.tick()
	if convs, _ := s.size(); convs != 1 {
		t.Fatalf("%d conversations remembered after %v idle, want only the active one", convs, testIdle)
	}
	if got := len(d.take()); got != 2001 {
		t.Fatalf("delivered %d events, want 2001", got)
	}
}

func TestSequencerFlush(t *testing.T) {
	clock, d := newFakeClock(), &delivered{}
	s := newSequencer(d.deliver, clock.now, testHold, testIdle)
	for _, e := range []desk.Event{convEvent("c1", 1, 0), convEvent("c1", 5, 0), convEvent("c1", 3, 0)} {
		s.push(e)
	}
	s.flush()
	if got, want := d.take(), []string{"c1:1/a-0", "c1:3/a-0", "c1:5/a-0"}; !slices.Equal(got, want) {
		t.Fatalf("flush delivered %q, want %q", got, want)
	}
}

// TestSequencerConcurrent pushes from several goroutines at once while
// another ticks. The clock stands still, so nothing times out: however the
// pushes interleave, each conversation must come out exactly in seq order.
func TestSequencerConcurrent(t *testing.T) {
	clock, d := newFakeClock(), &delivered{}
	s := newSequencer(d.deliver, clock.now, testHold, testIdle)
	const convs, perConv, pushers = 4, 500, 3
	for c := range convs {
		s.push(convEvent(fmt.Sprint("c", c), 1, 0))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				s.tick()
			}
		}
	})
	// Pusher p sends seqs 2+p, 2+p+pushers, … of every conversation, so
	// each conversation's seqs arrive from three goroutines at once.
	for p := range pushers {
		wg.Go(func() {
			for seq := int64(2 + p); seq <= perConv; seq += pushers {
				for c := range convs {
					s.push(convEvent(fmt.Sprint("c", c), seq, 0))
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	ticker.Wait()
	next := map[string]int64{}
	for _, got := range d.take() {
		var c int
		var seq int64
		if _, err := fmt.Sscanf(got, "c%d:%d/", &c, &seq); err != nil {
			t.Fatalf("parse %q: %v", got, err)
		}
		key := fmt.Sprint("c", c)
		if want := next[key] + 1; seq != want {
			t.Fatalf("%s: delivered seq %d, want %d", key, seq, want)
		}
		next[key] = seq
	}
	for c := range convs {
		if got := next[fmt.Sprint("c", c)]; got != perConv {
			t.Fatalf("c%d: delivered up to seq %d, want %d", c, got, perConv)
		}
	}
	if _, held := s.size(); held != 0 {
		t.Fatalf("%d events still held", held)
	}
}
