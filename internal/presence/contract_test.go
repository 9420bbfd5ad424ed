package presence

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// newTrackerFunc builds one tracker under test that announces on b; the
// suite runs it. Each call gets a tracker of its own (for Redis, its own key
// prefix), so subtests run in parallel.
type newTrackerFunc func(t *testing.T, b desk.Bus, opts Options) Tracker

// runContract checks the Tracker contract. Reads are waited for, never
// assumed, so an implementation that syncs in the background passes too.
func runContract(t *testing.T, newTracker newTrackerFunc) {
	t.Run("connect and disconnect", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		wantStatus(t, tr, "a1", Offline)
		tr.Connected("a1")
		waitStatus(t, tr, "a1", Online)
		// Wait for each announcement: a connection that comes and goes
		// before the tracker looks need not be announced at all.
		rec.wait(t, "a1", Online)
		tr.Disconnected("a1")
		waitStatus(t, tr, "a1", Offline)
		rec.wait(t, "a1", Online, Offline)
		ev := rec.events()[0]
		if ev.To.Kind != desk.ToPresenceFollowers || string(ev.Frame) != `{"type":"presence","data":{"agents":[{"agent_id":"a1","status":"online"}]}}` {
			t.Errorf("announced %s to %+v", ev.Frame, ev.To)
		}
	})

	t.Run("online while any connection is", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		tr.Connected("a1")
		tr.Connected("a1")
		waitStatus(t, tr, "a1", Online)
		rec.wait(t, "a1", Online)
		tr.Disconnected("a1")
		// Once the marker shows, the Disconnected before it has been seen.
		tr.Connected("marker")
		waitStatus(t, tr, "marker", Online)
		wantStatus(t, tr, "a1", Online)
		tr.Disconnected("a1")
		waitStatus(t, tr, "a1", Offline)
		rec.wait(t, "a1", Online, Offline)
	})

	t.Run("an unmatched disconnect is ignored", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		tr.Disconnected("a1")
		tr.Connected("a1")
		waitStatus(t, tr, "a1", Online)
		rec.wait(t, "a1", Online)
		tr.Disconnected("a1")
		waitStatus(t, tr, "a1", Offline)
		rec.wait(t, "a1", Online, Offline)
	})

	t.Run("away is chosen, announced and kept across reconnects", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		ctx := t.Context()
		tr.Connected("a1")
		waitStatus(t, tr, "a1", Online)
		rec.wait(t, "a1", Online)
		wantSet(t, tr, "a1", Away, Away, true)
		// Announced before SetStatus returned.
		rec.want(t, "a1", Online, Away)
		wantStatus(t, tr, "a1", Away)
		wantSet(t, tr, "a1", Away, Away, false)
		tr.Disconnected("a1")
		waitStatus(t, tr, "a1", Offline)
		if got, err := tr.Statuses(ctx); err != nil || len(got) != 0 {
			t.Errorf("Statuses = %v, %v; want none", got, err)
		}
		rec.wait(t, "a1", Online, Away, Offline)
		tr.Connected("a1")
		waitStatus(t, tr, "a1", Away)
		rec.wait(t, "a1", Online, Away, Offline, Away)
		wantSet(t, tr, "a1", Online, Online, true)
		rec.want(t, "a1", Online, Away, Offline, Away, Online)
	})

	t.Run("a choice made while offline applies on connect", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		wantSet(t, tr, "a1", Away, Offline, false)
		tr.Connected("a1")
		waitStatus(t, tr, "a1", Away)
		rec.wait(t, "a1", Away)
	})

	t.Run("busy is chosen, replaces away, and is kept across reconnects", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		tr.Connected("a1")
		rec.wait(t, "a1", Online)
		wantSet(t, tr, "a1", Busy, Busy, true)
		wantSet(t, tr, "a1", Away, Away, true)
		wantSet(t, tr, "a1", Busy, Busy, true)
		rec.want(t, "a1", Online, Busy, Away, Busy)
		tr.Disconnected("a1")
		waitStatus(t, tr, "a1", Offline)
		rec.wait(t, "a1", Online, Busy, Away, Busy, Offline)
		tr.Connected("a1")
		waitStatus(t, tr, "a1", Busy)
		rec.wait(t, "a1", Online, Busy, Away, Busy, Offline, Busy)
		if got, err := tr.Statuses(t.Context()); err != nil || got["a1"] != Busy {
			t.Errorf("Statuses = %v, %v; want a1 busy", got, err)
		}
		waitFor(t, "online count 0 (busy agents take no new work)", func() bool { return tr.OnlineCount() == 0 })
		wantSet(t, tr, "a1", Online, Online, true)
		rec.wait(t, "a1", Online, Busy, Away, Busy, Offline, Busy, Online)
	})

	t.Run("only online, away and busy can be chosen", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		for _, s := range []Status{Offline, "", "dnd", "Away", "BUSY"} {
			_, _, err := tr.SetStatus(t.Context(), "a1", s)
			if desk.ErrorCode(err) != desk.EInvalid {
				t.Errorf("SetStatus(%q) = %v, want %s", s, err, desk.EInvalid)
			}
		}
		if got := rec.events(); len(got) != 0 {
			t.Errorf("announced %d events for refused statuses", len(got))
		}
	})

	t.Run("statuses and the online count", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		for _, a := range []string{"a1", "a2", "a3"} {
			tr.Connected(a)
		}
		waitStatus(t, tr, "a3", Online)
		wantSet(t, tr, "a2", Away, Away, true)
		tr.Disconnected("a3")
		waitStatus(t, tr, "a3", Offline)
		want := map[string]Status{"a1": Online, "a2": Away}
		if got, err := tr.Statuses(t.Context()); err != nil || !maps.Equal(got, want) {
			t.Errorf("Statuses = %v, %v; want %v", got, err, want)
		}
		waitFor(t, "online count 1 (away agents do not count)", func() bool { return tr.OnlineCount() == 1 })
	})

	t.Run("OnChange follows each announcement", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		var calls atomic.Int64
		tr := start(t, newTracker(t, rec.bus(), Options{OnChange: func() { calls.Add(1) }}))
		tr.Connected("a1")
		rec.wait(t, "a1", Online)
		waitFor(t, "OnChange", func() bool { return calls.Load() >= 1 })
		wantSet(t, tr, "a1", Away, Away, true)
		if calls.Load() < 2 {
			t.Errorf("OnChange called %d times, want it after SetStatus too", calls.Load())
		}
	})

	t.Run("hub callbacks never wait for the bus", func(t *testing.T) {
		t.Parallel()
		b := &blockingBus{entered: make(chan struct{}, 1), release: make(chan struct{})}
		tr := start(t, newTracker(t, b, Options{}))
		tr.Connected("a1")
		select {
		case <-b.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the tracker never published")
		}
		// The loop is stuck in Publish; the hub's calls must still return.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 1000 {
				a := fmt.Sprint("b", i%10)
				tr.Connected(a)
				tr.Disconnected(a)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Connected/Disconnected blocked while the bus was stuck")
		}
		close(b.release)
	})

	t.Run("concurrent use", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		tr := start(t, newTracker(t, rec.bus(), Options{}))
		ctx := t.Context()
		const agents, rounds = 8, 20
		var wg sync.WaitGroup
		for w := range agents {
			a := fmt.Sprint("a", w)
			wg.Go(func() {
				for r := range rounds {
					tr.Connected(a)
					tr.Connected(a)
					s := Away
					if r%2 == 0 {
						s = Online
					}
					if _, _, err := tr.SetStatus(ctx, a, s); err != nil {
						t.Errorf("SetStatus: %v", err)
					}
					if _, err := tr.Statuses(ctx); err != nil {
						t.Errorf("Statuses: %v", err)
					}
					tr.OnlineCount()
					tr.Disconnected(a)
					tr.Disconnected(a)
				}
			})
		}
		wg.Wait()
		waitFor(t, "everyone offline", func() bool {
			got, err := tr.Statuses(ctx)
			return err == nil && len(got) == 0
		})
		for w := range agents {
			a := fmt.Sprint("a", w)
			waitFor(t, a+"'s offline announced", func() bool {
				s := rec.statuses(a)
				return len(s) == 0 || s[len(s)-1] == Offline
			})
			s := rec.statuses(a)
			for i := 1; i < len(s); i++ {
				if s[i] == s[i-1] {
					t.Errorf("%s: %s announced twice in a row: %v", a, s[i], s)
				}
			}
		}
	})
}

// start runs tr until the test ends.
func start(t *testing.T, tr Tracker) Tracker {
	t.Helper()
	stop := run(tr)
	t.Cleanup(stop)
	return tr
}

// run starts tr.Run and returns a function that stops it and waits.
func run(tr Tracker) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tr.Run(ctx) }()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

func wantStatus(t *testing.T, tr Tracker, agent string, want Status) {
	t.Helper()
	if got, err := tr.Status(t.Context(), agent); err != nil || got != want {
		t.Fatalf("Status(%s) = %q, %v; want %q", agent, got, err, want)
	}
}

func waitStatus(t *testing.T, tr Tracker, agent string, want Status) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s %s", agent, want), func() bool {
		got, err := tr.Status(t.Context(), agent)
		return err == nil && got == want
	})
}

func wantSet(t *testing.T, tr Tracker, agent string, s, want Status, wantChanged bool) {
	t.Helper()
	got, changed, err := tr.SetStatus(t.Context(), agent, s)
	if err != nil || got != want || changed != wantChanged {
		t.Fatalf("SetStatus(%s, %s) = %q, %v, %v; want %q, %v", agent, s, got, changed, err, want, wantChanged)
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// recorder collects what trackers announce, from any goroutine.
type recorder struct {
	mu  sync.Mutex
	evs []desk.Event
}

// bus returns an in-process bus that delivers to the recorder; several
// trackers may share one recorder through buses of their own.
func (r *recorder) bus() desk.Bus {
	return bus.NewMemory(func(ev desk.Event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.evs = append(r.evs, ev)
	})
}

func (r *recorder) events() []desk.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

// statuses returns what was announced for agent, in order.
func (r *recorder) statuses(agent string) []Status {
	var out []Status
	for _, ev := range r.events() {
		var f frame
		if err := json.Unmarshal(ev.Frame, &f); err != nil || f.Type != "presence" || ev.To.Kind != desk.ToPresenceFollowers {
			panic(fmt.Sprintf("announced %s to %+v", ev.Frame, ev.To))
		}
		for _, c := range f.Data.Agents {
			if c.AgentID == agent {
				out = append(out, c.Status)
			}
		}
	}
	return out
}

// want checks what has been announced for agent so far.
func (r *recorder) want(t *testing.T, agent string, want ...Status) {
	t.Helper()
	if got := r.statuses(agent); !slices.Equal(got, want) {
		t.Fatalf("announced for %s: %v, want %v", agent, got, want)
	}
}

// wait waits until at least len(want) announcements for agent arrived and
// checks them.
func (r *recorder) wait(t *testing.T, agent string, want ...Status) {
	t.Helper()
	waitFor(t, fmt.Sprintf("announcements %v for %s", want, agent), func() bool {
		return len(r.statuses(agent)) >= len(want)
	})
	r.want(t, agent, want...)
}

// blockingBus holds every Publish until release is closed, like a stuck
// Redis.
type blockingBus struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingBus) Publish(ctx context.Context, _ desk.Event) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return desk.Wrap(desk.EUnavailable, ctx.Err(), "bus stuck")
	}
}
