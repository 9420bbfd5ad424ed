package bus

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// sequencer restores per-conversation seq order among events that reached
// Redis in the wrong order. Each node publishes in commit order, but two
// nodes race: node A commits seq 5, node B then commits 6, and B's PUBLISH
// can still land first. The sequencer remembers, per conversation, the last
// seq it delivered:
//   - the first event seen for a conversation, an event with that same seq
//     (another audience of one event), the next seq, or an older one (late:
//     clients order by seq) is delivered at once;
//   - a later seq is held until the gap fills, or until it has waited hold,
//     then delivered anyway, in seq order: a gap may be an event that was
//     never published, and clients fill it by resuming.
//
// Events without a ConversationID or seq pass straight through. A
// conversation's state is forgotten after idle without events.
//
// push and tick may be called from any goroutine. deliver is called with
// the sequencer locked, which is what keeps a conversation's deliveries in
// order; it must not block (hub.Deliver only queues) or call back.
type sequencer struct {
	deliver func(desk.Event)
	now     func() time.Time
	hold    time.Duration
	idle    time.Duration
	wake    chan struct{} // a new event is held: run may need to wake sooner

	mu        sync.Mutex
	convs     map[string]*convState
	holding   map[string]*convState // those with held events
	lastSweep time.Time
}

type convState struct {
	id   string
	last int64     // the highest seq delivered
	seen time.Time // the last event's arrival
	held []heldEvent
}

type heldEvent struct {
	ev       desk.Event
	deadline time.Time
}

func newSequencer(deliver func(desk.Event), now func() time.Time, hold, idle time.Duration) *sequencer {
	return &sequencer{
		deliver: deliver, now: now, hold: hold, idle: idle,
		wake:      make(chan struct{}, 1),
		convs:     make(map[string]*convState),
		holding:   make(map[string]*convState),
		lastSweep: now(),
	}
}

// push delivers ev now or holds it back.
func (s *sequencer) push(ev desk.Event) {
	if ev.ConversationID == "" || ev.Seq <= 0 {
		s.deliver(ev)
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[ev.ConversationID]
	if c == nil {
		s.convs[ev.ConversationID] = &convState{id: ev.ConversationID, last: ev.Seq, seen: now}
		s.deliver(ev)
		return
	}
	c.seen = now
	if ev.Seq <= c.last+1 {
		s.deliver(ev)
		if ev.Seq == c.last+1 {
			c.last = ev.Seq
			s.release(c)
		}
		return
	}
	// After any held events of the same seq, so audiences keep their order.
	i := slices.IndexFunc(c.held, func(h heldEvent) bool { return h.ev.Seq > ev.Seq })
	if i < 0 {
		i = len(c.held)
	}
	c.held = slices.Insert(c.held, i, heldEvent{ev: ev, deadline: now.Add(s.hold)})
	s.holding[c.id] = c
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// release delivers the held events that now follow c.last.
func (s *sequencer) release(c *convState) {
	n := 0
	for _, h := range c.held {
		if h.ev.Seq > c.last+1 {
			break
		}
		s.deliver(h.ev)
		c.last = max(c.last, h.ev.Seq)
		n++
	}
	s.dropHeld(c, n)
}

// dropHeld forgets c's first n held events.
func (s *sequencer) dropHeld(c *convState, n int) {
	if n == 0 {
		return
	}
	c.held = slices.Delete(c.held, 0, n) // zeroes the tail, so frames can be collected
	if len(c.held) == 0 {
		c.held = nil
		delete(s.holding, c.id)
	}
}

// tick delivers what has been held for hold or longer, with everything
// held below it, and forgets idle conversations. It returns when it next
// has work.
func (s *sequencer) tick() time.Time {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sweepEvery := s.idle / 10
	if !now.Before(s.lastSweep.Add(sweepEvery)) {
		for id, c := range s.convs {
			if len(c.held) == 0 && now.Sub(c.seen) >= s.idle {
				delete(s.convs, id)
			}
		}
		s.lastSweep = now
	}
	next := s.lastSweep.Add(sweepEvery)
	for _, c := range s.holding {
		upto := int64(0)
		for _, h := range c.held {
			if !h.deadline.After(now) {
				upto = max(upto, h.ev.Seq)
			}
		}
		n := 0
		for n < len(c.held) && c.held[n].ev.Seq <= upto {
			s.deliver(c.held[n].ev)
			n++
		}
		if n > 0 {
			c.last = upto
			s.dropHeld(c, n)
			s.release(c)
		}
		for _, h := range c.held {
			if h.deadline.Before(next) {
				next = h.deadline
			}
		}
	}
	return next
}

// flush delivers everything held, in seq order per conversation.
func (s *sequencer) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.holding {
		for _, h := range c.held {
			s.deliver(h.ev)
			c.last = max(c.last, h.ev.Seq)
		}
		s.dropHeld(c, len(c.held))
	}
}

// size reports how many conversations are remembered and how many events
// are held, for tests.
func (s *sequencer) size() (convs, held int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.holding {
		held += len(c.held)
	}
	return len(s.convs), held
}

// run calls tick whenever it has work, until ctx ends; then it delivers
// whatever is still held rather than drop it.
func (s *sequencer) run(ctx context.Context) {
	t := time.NewTimer(s.idle / 10)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.flush()
			return
		case <-t.C:
		case <-s.wake:
		}
		t.Reset(max(s.tick().Sub(s.now()), time.Millisecond))
	}
}
