package conversation

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/servicedesk/servicedesk/internal/calendar"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/sla"
)

// Service levels: each conversation's first-response, next-response and
// resolution clocks (internal/sla) move in the transaction of what moved
// them, and every change is an sla.updated event, private to agents, with
// the clock's new state; a sweep marks the breaches that time alone
// brings.

// EventSLA: one of the conversation's clocks started, paused, resumed,
// was met, breached or stopped. Data: the clock (sla.Clock).
const EventSLA desk.EventType = "sla.updated"

// EventEscalated: a policy's escalation was done, once: data kind (the
// clock), action, offset_minutes, and agent_id (whom it notified) or
// priority (the raised one). Agents only.
const EventEscalated desk.EventType = "sla.escalated"

// Policies is the service-level policies in force (*sla.Service).
type Policies interface {
	Policies() []sla.Policy
}

// SLAStore is what the sweep and the lists read of the clocks outside a
// conversation's transaction (the SQL stores).
type SLAStore interface {
	DueSLAConversations(ctx context.Context, now time.Time, limit int) ([]string, error)
	SLAClocksOf(ctx context.Context, ids []string) (map[string][]desk.SLAClock, error)
}

// slaSweepEvery is how often a node looks for clocks past their due time.
const slaSweepEvery = 10 * time.Second

// happenings reads what this batch did to the conversation, as its clocks
// see it, and whether its priority changed.
func (w *eventWriter) happenings() ([]sla.Happening, bool) {
	var hs []sla.Happening
	retarget := false
	created := false
	for _, ev := range w.events {
		switch ev.Type {
		case desk.EventCreated:
			hs, created = append(hs, sla.Created), true
		case desk.EventMessage:
			switch ev.Actor.Role {
			case desk.RoleAgent:
				hs = append(hs, sla.AgentReplied)
			case desk.RoleEmployee:
				if !created { // the request's own first message
					hs = append(hs, sla.EmployeeWrote)
				}
			}
		case desk.EventPending:
			hs = append(hs, sla.WentPending)
		case desk.EventReopened:
			hs = append(hs, sla.Reopened)
		case desk.EventResolved:
			hs = append(hs, sla.Resolved)
		case desk.EventWithdrawn:
			hs = append(hs, sla.Withdrawn)
		case desk.EventUpdated:
			var d struct{ Priority string }
			json.Unmarshal(ev.Data, &d)
			retarget = retarget || d.Priority != ""
		}
	}
	return hs, retarget
}

// slaApply moves the clocks for this batch's events (and, sweeping, for
// the time that passed), and records each change as an event.
func (w *eventWriter) slaApply(sweep bool) {
	s := w.s
	if s.policies == nil || w.err != nil || w.slaDone {
		return
	}
	w.slaDone = true
	hs, retarget := w.happenings()
	if len(hs) == 0 && !retarget && !sweep {
		return
	}
	policies := s.policies.Policies()
	rows, err := w.tx.SLAClocks(w.ctx, w.c.ID)
	if err != nil {
		w.err = err
		return
	}
	if len(policies) == 0 && len(rows) == 0 {
		return // no service levels here: no clock to start or move
	}
	clocks := sla.Clocks{}
	for _, r := range rows {
		var c sla.Clock
		if err := json.Unmarshal(r.Data, &c); err != nil {
			w.err = desk.Wrap(desk.EInternal, err, "read sla clock")
			return
		}
		clocks[r.Kind] = &c
	}
	p, ok := sla.Match(policies, w.c.Priority, w.c.Category, w.c.TeamID)
	tm := s.slaTime(p.BusinessHours)
	var changed []string
	add := func(kinds []string) {
		for _, k := range kinds {
			if !slices.Contains(changed, k) {
				changed = append(changed, k)
			}
		}
	}
	for _, h := range hs {
		add(clocks.Apply(h, w.now, p, ok, tm))
	}
	if retarget {
		add(clocks.Retarget(w.now, p, ok, tm))
	}
	add(clocks.Breach(w.now))
	if ok {
		for _, f := range clocks.Escalate(w.now, p) {
			add([]string{f.Kind})
			if raised := w.escalate(f); raised != "" {
				// The new priority may fall under another policy.
				p, ok = sla.Match(policies, raised, w.c.Category, w.c.TeamID)
				tm = s.slaTime(p.BusinessHours)
				add(clocks.Retarget(w.now, p, ok, tm))
			}
		}
	}
	for _, kind := range sla.Kinds {
		if !slices.Contains(changed, kind) {
			continue
		}
		c := clocks[kind]
		raw, err := json.Marshal(c)
		if err != nil {
			w.err = desk.Wrap(desk.EInternal, err, "encode sla clock")
			return
		}
		row := desk.SLAClock{Kind: kind, Data: raw, State: c.State, Breached: c.Breached}
		if next := sla.NextAt(c, p); !next.IsZero() {
			row.DueAt = &next
		}
		if w.err = w.tx.SaveSLAClock(w.ctx, w.c.ID, row); w.err != nil {
			return
		}
		w.append(EventSLA, desk.Principal{Role: desk.RoleAgent}, json.RawMessage(raw), "")
	}
}

// escalate does one escalation and records it; it returns the raised
// priority when it raised it.
func (w *eventWriter) escalate(f sla.Fired) string {
	data := map[string]any{"kind": f.Kind, "action": f.Escalation.Action, "offset_minutes": int64(f.Escalation.Offset / time.Minute)}
	system := desk.Principal{Role: desk.RoleAgent}
	raised := ""
	var tell string // whom to send a card
	switch f.Escalation.Action {
	case sla.NotifyAssignee:
		tell = w.c.AssigneeID
	case sla.NotifyLead:
		if team, err := w.tx.TeamForCategory(w.ctx, w.c.Category); err == nil && team.LeadID != "" {
			tell = team.LeadID
			w.participant(agentPrincipal(tell)) // the lead may read it and hears what follows
		}
	case sla.RaisePriority:
		if i := slices.Index(desk.Priorities, w.c.Priority); i >= 0 && i < len(desk.Priorities)-1 {
			raised = desk.Priorities[i+1]
			w.c.Priority = raised
			data["priority"] = raised
			w.append(desk.EventUpdated, system, map[string]any{"by": "", "priority": raised, "escalated": true}, "")
		}
	case sla.Requeue:
		if a := w.c.AssigneeID; a != "" && inWork(w.c.Status) {
			w.leave(agentPrincipal(a))
			now := w.now
			w.c.AssigneeID, w.c.Status, w.c.QueuedAt = "", desk.StatusQueued, &now
			w.requeued = true
			data["agent_id"] = a
			ev := w.append(desk.EventLeft, system, map[string]any{
				"participant": participantRef{Role: desk.RoleAgent, ID: a, Name: w.s.agentName(w.ctx, a)},
				"assignee_id": "", "status": w.c.Status, "escalated": true,
			}, "")
			w.oweQueued(ev.Seq)
		}
	}
	if tell != "" {
		data["agent_id"] = tell
	}
	ev := w.append(EventEscalated, system, data, "")
	if tell != "" {
		w.owe(agentPrincipal(tell), desk.NotifySLA, ev.Seq)
	}
	return raised
}

// slaTime is how targets count: the desk's working time when the policy
// says business hours and the desk keeps some, calendar time otherwise.
func (s *Service) slaTime(businessHours bool) sla.Time {
	if businessHours {
		if t, ok := s.hoursNow().(sla.Time); ok {
			return t
		}
	}
	return calendar.Always()
}

// SweepSLA marks the breaches that time alone brought: every running
// clock past its due time gets its sla.updated event, once, whichever
// node gets there first (the clock is re-read under the conversation's
// lock, so a second node finds it breached already). It returns how many
// conversations it looked at.
func (s *Service) SweepSLA(ctx context.Context) (int, error) {
	if s.policies == nil || s.slaStore == nil {
		return 0, nil
	}
	ids, err := s.slaStore.DueSLAConversations(ctx, s.now(), 200)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		c, err := s.store.Conversation(ctx, id)
		if err != nil {
			return 0, err
		}
		system := desk.Principal{Role: desk.RoleAgent, ID: c.AssigneeID}
		if _, err := s.update(ctx, system, id, func(w *eventWriter, _ []desk.Participant) (bool, error) {
			w.slaApply(true)
			return w.requeued, w.err
		}); err != nil {
			// One conversation's trouble does not hold up the others'.
			s.log.Warn("sla sweep of a conversation failed", "conversation_id", id, "error", err)
		}
	}
	return len(ids), nil
}

// clocksOf returns one conversation's clocks, in Kinds order.
func (s *Service) clocksOf(ctx context.Context, id string) ([]sla.Clock, error) {
	if s.slaStore == nil {
		return nil, nil
	}
	all, err := s.slaStore.SLAClocksOf(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	return decodeClocks(all[id])
}

func decodeClocks(rows []desk.SLAClock) ([]sla.Clock, error) {
	var out []sla.Clock
	for _, kind := range sla.Kinds {
		for _, r := range rows {
			if r.Kind != kind {
				continue
			}
			var c sla.Clock
			if err := json.Unmarshal(r.Data, &c); err != nil {
				return nil, desk.Wrap(desk.EInternal, err, "read sla clock")
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *Service) runSLASweep(ctx context.Context) {
	every(ctx, slaSweepEvery, func() {
		if _, err := s.SweepSLA(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sla sweep failed", "error", err)
		}
	})
}
