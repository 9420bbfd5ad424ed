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

// Schedule is the working time admins set, which may change at any moment
// (*settings.Service, through a small adapter).
type Schedule interface {
	// Hours is the working time in force, nil when the desk keeps none.
	Hours() Hours
	// NoticeText is the admins' wording of a notice kind by language
	// ("zh-CN", "en"), or nil for the pages' own.
	NoticeText(kind string) map[string]string
}

// hoursNow is the working time in force: the admins' when they set one.
func (s *Service) hoursNow() Hours {
	if s.schedule != nil {
		return s.schedule.Hours()
	}
	return s.hours
}

// noticeData is a notice's event data, with the admins' wording when
// they gave one (the pages word it themselves otherwise).
func (s *Service) noticeData(kind string) map[string]any {
	data := map[string]any{"kind": kind}
	if s.schedule != nil {
		if text := s.schedule.NoticeText(kind); len(text) > 0 {
			data["text"] = text
		}
	}
	return data
}

// notice tells the employee, in the same transaction as their request,
// that nobody will answer right away and when someone will.
//
// Only a desk with business hours configured says anything: without them
// a request simply waits, as it always has.
func (w *eventWriter) notice(actor desk.Principal) {
	s := w.s
	hours := s.hoursNow()
	if hours == nil {
		return
	}
	var data map[string]any
	switch {
	case !hours.Open(w.now):
		data = s.noticeData("closed")
		if next, err := hours.NextOpen(w.now); err == nil {
			data["next_open"] = next.UTC()
		}
	case s.presence.OnlineCount() == 0:
		data = s.noticeData("no_agents")
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
