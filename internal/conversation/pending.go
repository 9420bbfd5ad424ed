package conversation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// A conversation waiting on the employee (pending) does not wait for
// ever: after PendingResolveDays without news (business days when the
// desk has business hours, calendar days otherwise) it is resolved, and a
// day before that the employee is told (a conversation.notice of kind
// "auto_resolve" with "at"). Any message meanwhile starts the count again.

// pendingSweepEvery is how often each node looks at pending conversations.
// Nodes may look at once: each change re-checks in its transaction.
const pendingSweepEvery = 10 * time.Minute

// runPendingSweep sweeps until ctx ends.
func (s *Service) runPendingSweep(ctx context.Context) {
	t := time.NewTicker(pendingSweepEvery)
	defer t.Stop()
	for {
		if n, err := s.SweepPending(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep pending conversations", "error", err)
		} else if n > 0 {
			s.log.Info("pending conversations resolved", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// daysSince counts the days the desk was open after since, up to now
// (calendar days without business hours).
func (s *Service) daysSince(since, now time.Time) int {
	hours := s.hoursNow()
	if hours == nil {
		return int(now.Sub(since) / (24 * time.Hour))
	}
	n := 0
	day := nextDay(since, s.zone)
	for i := 0; i < 400; i++ {
		open, err := hours.NextOpen(day)
		if err != nil || open.After(now) {
			return n
		}
		n++
		day = nextDay(open, s.zone)
	}
	return n
}

// nextDay is the start of the day after t's, in zone.
func nextDay(t time.Time, zone *time.Location) time.Time {
	l := t.In(zone)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, zone)
}

// SweepPending resolves the pending conversations whose wait is over and
// warns those a day from it; it returns how many it resolved.
func (s *Service) SweepPending(ctx context.Context) (int, error) {
	if s.pendingDays <= 0 {
		return 0, nil
	}
	rows, err := s.store.ListConversations(ctx, desk.ConversationQuery{Statuses: []desk.Status{desk.StatusPending}, Limit: 500})
	if err != nil {
		return 0, err
	}
	resolved := 0
	for _, r := range rows {
		c := r.Conversation
		days := s.daysSince(c.UpdatedAt, s.now())
		switch {
		case days >= s.pendingDays:
			if ok, err := s.autoResolve(ctx, c); err != nil {
				return resolved, err
			} else if ok {
				resolved++
			}
		case days >= s.pendingDays-1 && s.pendingDays > 1:
			if err := s.warnPending(ctx, c); err != nil {
				return resolved, err
			}
		}
	}
	return resolved, nil
}

// unchanged: the conversation is still pending with no news since it was
// listed (a reply, or another node's sweep, would have moved it).
func unchanged(w *eventWriter, listed desk.Conversation) bool {
	return w.c.Status == desk.StatusPending && w.c.UpdatedAt.Equal(listed.UpdatedAt)
}

func (s *Service) autoResolve(ctx context.Context, listed desk.Conversation) (bool, error) {
	done := false
	system := desk.Principal{Role: desk.RoleAgent, ID: listed.AssigneeID}
	_, err := s.update(ctx, system, listed.ID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if !unchanged(w, listed) {
			return false, nil
		}
		now := w.now
		w.c.Status, w.c.ResolvedAt = desk.StatusResolved, &now
		ev := w.append(desk.EventResolved, system, map[string]any{"by": listed.AssigneeID, "auto": true, "pending_days": s.pendingDays}, "")
		w.oweEmployee(desk.NotifyResolved, ev.Seq)
		done = true
		return false, nil
	})
	return done, err
}

// warnPending tells the employee when the conversation will be closed,
// once per wait: a notice does not count as news.
func (s *Service) warnPending(ctx context.Context, listed desk.Conversation) error {
	system := desk.Principal{Role: desk.RoleAgent, ID: listed.AssigneeID}
	_, err := s.update(ctx, system, listed.ID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if !unchanged(w, listed) {
			return false, nil
		}
		evs, err := w.tx.Events(w.ctx, listed.ID, max(0, w.c.Seq-20), 20, false)
		if err != nil {
			return false, err
		}
		for _, ev := range evs {
			var d struct{ Kind string }
			json.Unmarshal(ev.Data, &d)
			if ev.Type == EventNotice && d.Kind == "auto_resolve" && !ev.CreatedAt.Before(listed.UpdatedAt) {
				return false, nil // told already
			}
		}
		data := s.noticeData("auto_resolve")
		data["after_days"] = s.pendingDays
		w.append(EventNotice, system, data, "")
		return false, nil
	})
	return err
}
