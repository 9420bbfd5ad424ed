package conversation

import (
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Out of hours and no one online: an employee who asks while the desk is
// closed, or while no agent is online, is told at once when to expect an
// answer, by a conversation.notice event (a line from the desk in the
// history), and the queue position carries an estimated wait.

// EventNotice is the desk speaking to the employee: data kind "closed"
// (out of business hours; next_open says when it opens) or "no_agents"
// (open, but nobody online).
const EventNotice desk.EventType = "conversation.notice"

// Hours is the desk's working time (*calendar.Calendar).
type Hours interface {
	Open(t time.Time) bool
	NextOpen(t time.Time) (time.Time, error)
}

// notice tells the employee, in the same transaction as their request,
// that nobody will answer right away and when someone will.
//
// Only a desk with business hours configured says anything: without them
// a request simply waits, as it always has.
func (w *eventWriter) notice(actor desk.Principal) {
	s := w.s
	if s.hours == nil {
		return
	}
	data := map[string]any{}
	switch {
	case !s.hours.Open(w.now):
		data["kind"] = "closed"
		if next, err := s.hours.NextOpen(w.now); err == nil {
			data["next_open"] = next.UTC()
		}
	case s.presence.OnlineCount() == 0:
		data["kind"] = "no_agents"
	default:
		return
	}
	w.append(EventNotice, actor, data, "")
}

// waits estimates how long the queue takes from how fast agents have been
// taking conversations from it lately: the time between the last claims
// (at most claimSample of them, none older than claimHorizon) times the
// employee's position. With fewer than 3 recent claims there is no
// estimate. Each node keeps its own sample of the claims it wrote.
type waits struct {
	mu     sync.Mutex
	claims []time.Time // newest last
}

const (
	claimSample  = 20
	claimHorizon = 2 * time.Hour
)

func (w *waits) claimed(at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.claims = append(w.claims, at)
	if len(w.claims) > claimSample {
		w.claims = w.claims[len(w.claims)-claimSample:]
	}
}

// estimate returns the expected wait for the position-th in the queue, or
// 0 when the recent history says nothing.
func (w *waits) estimate(now time.Time, position int) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	recent := w.claims[:0:0]
	for _, t := range w.claims {
		if now.Sub(t) <= claimHorizon {
			recent = append(recent, t)
		}
	}
	if len(recent) < 3 || position < 1 {
		return 0
	}
	every := recent[len(recent)-1].Sub(recent[0]) / time.Duration(len(recent)-1)
	return every * time.Duration(position)
}
