package conversation

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/search"
)

// eventWriter records one command's changes to a conversation inside the
// writer's transaction: each event gets the next seq and is stored at once;
// participant changes and the conversation row are saved by save.
type eventWriter struct {
	s   *Service
	ctx context.Context
	tx  desk.ConversationTx
	c   *desk.Conversation
	now time.Time

	parts   []desk.Participant // as loaded, then as changed
	loaded  int                // parts[:loaded] came from the store
	changed map[desk.Principal]bool
	before  []desk.Principal // active agents before the change: they hear of it too
	events  []desk.ConvEvent
	// prevPublic[i] is the public event before events[i]: what the
	// employee's copy of it names as its predecessor.
	prevPublic []int64
	owed       []desk.Notification // cards owed for these events (notify.go)
	slaDone    bool                // the clocks were moved for this batch (sla.go)
	requeued   bool                // an escalation put it back in the queue
	err        error               // the first failure; later calls do nothing
}

func (s *Service) writer(ctx context.Context, tx desk.ConversationTx, c *desk.Conversation, parts []desk.Participant) *eventWriter {
	return &eventWriter{
		s: s, ctx: ctx, tx: tx, c: c, now: s.now().UTC().Truncate(time.Millisecond),
		parts: slices.Clone(parts), loaded: len(parts), changed: map[desk.Principal]bool{}, before: activeAgents(parts),
	}
}

// append stores an event with the conversation's next seq.
func (w *eventWriter) append(typ desk.EventType, actor desk.Principal, data any, clientMsgID string) desk.ConvEvent {
	if w.err != nil {
		return desk.ConvEvent{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		w.err = desk.Wrap(desk.EInternal, err, "encode event")
		return desk.ConvEvent{}
	}
	w.c.Seq++
	if typ != desk.EventRead && typ != EventNotice && typ != EventSLA && typ != EventEscalated {
		// A read receipt is not news, nor the desk's own notice, nor a
		// clock's tick: none lifts the conversation in anyone's list or
		// restarts a pending conversation's wait.
		w.c.UpdatedAt = w.now
	}
	ev := desk.ConvEvent{
		ConversationID: w.c.ID, Seq: w.c.Seq, Type: typ, Data: raw, Actor: actor,
		Private: typ == desk.EventNote || typ == desk.EventUpdated || typ == EventSLA || typ == EventEscalated, ClientMsgID: clientMsgID, CreatedAt: w.now,
	}
	if w.err = w.tx.AppendEvent(w.ctx, ev); w.err != nil {
		return desk.ConvEvent{}
	}
	w.events = append(w.events, ev)
	w.prevPublic = append(w.prevPublic, w.c.PublicSeq)
	if !ev.Private {
		w.c.PublicSeq = ev.Seq
	}
	return ev
}

// message appends a message or note; its data is a desk.Message.
func (w *eventWriter) message(typ desk.EventType, actor desk.Principal, body, clientMsgID string, attachments ...desk.Attachment) desk.ConvEvent {
	return w.appendMessage(typ, actor, desk.Message{Body: body, ClientMsgID: clientMsgID, Attachments: attachments})
}

// appendMessage appends m, filling in its id, sender and time, and makes it
// searchable.
func (w *eventWriter) appendMessage(typ desk.EventType, actor desk.Principal, m desk.Message) desk.ConvEvent {
	m.ID = w.c.ID + ":" + strconv.FormatInt(w.c.Seq+1, 10)
	m.SenderType, m.SenderID, m.SenderName, m.CreatedAt = actor.Role, actor.ID, w.name(actor), w.now
	ev := w.append(typ, actor, m, m.ClientMsgID)
	if w.err == nil && typ == desk.EventMessage && actor.Role == desk.RoleAgent {
		// The reports' first response (internal/reports).
		w.err = w.tx.RecordFirstResponse(w.ctx, w.c.ID, w.now, actor.ID)
	}
	if w.err == nil {
		texts := []string{m.Body}
		for _, a := range m.Attachments {
			texts = append(texts, a.Name)
		}
		w.err = w.tx.Index(w.ctx, w.c.ID, ev.Seq, search.Terms(texts...))
	}
	return ev
}

func (w *eventWriter) name(p desk.Principal) string {
	for i, q := range w.parts {
		if q.Principal() != p {
			continue
		}
		// A stored employee's name came with the participants, read from
		// the employees in this transaction: reading it again (a round
		// trip per message on PostgreSQL) would find the same, even none.
		if q.Name != "" || (i < w.loaded && p.Role == desk.RoleEmployee) {
			return q.Name
		}
		break
	}
	switch p.Role {
	case desk.RoleAgent:
		return w.s.agentName(w.ctx, p.ID)
	case desk.RoleBot:
		return BotName
	}
	if e, err := w.tx.Employee(w.ctx, p.ID); err == nil {
		return e.Name
	}
	return ""
}

// participant returns p's entry, adding it if new.
func (w *eventWriter) participant(p desk.Principal) *desk.Participant {
	w.changed[p] = true
	for i := range w.parts {
		if w.parts[i].Principal() == p {
			return &w.parts[i]
		}
	}
	w.parts = append(w.parts, desk.Participant{Role: p.Role, ID: p.ID, JoinedAt: w.now, LastReadSeq: w.c.Seq})
	return &w.parts[len(w.parts)-1]
}

// join makes p an active participant; an agent joining has read what came
// before, so only what follows counts as unread.
func (w *eventWriter) join(p desk.Principal) {
	q := w.participant(p)
	if !q.Active {
		q.Active, q.JoinedAt, q.LastReadSeq = true, w.now, max(q.LastReadSeq, w.c.Seq)
	}
}

func (w *eventWriter) leave(p desk.Principal) { w.participant(p).Active = false }

func (w *eventWriter) readUpTo(p desk.Principal, seq int64) {
	q := w.participant(p)
	q.LastReadSeq = max(q.LastReadSeq, seq)
}

// reopen brings a resolved conversation back: to its assignee if they are
// still in it, otherwise to the queue (reported true).
func (w *eventWriter) reopen(by desk.Principal) bool {
	requeued := w.c.AssigneeID == "" || !isActive(w.parts, desk.Principal{Role: desk.RoleAgent, ID: w.c.AssigneeID})
	w.c.ResolvedAt = nil
	if requeued {
		now := w.now
		w.c.Status, w.c.AssigneeID, w.c.QueuedAt = desk.StatusQueued, "", &now
	} else {
		w.c.Status = desk.StatusOpen
	}
	w.append(desk.EventReopened, by, map[string]string{"by": by.ID, "status": string(w.c.Status), "assignee_id": w.c.AssigneeID}, "")
	return requeued
}

// commit addresses the events (see deliveries), then writes the changed
// participants and the conversation row. allAgents: every agent hears of
// the events, because the conversation is or was in the queue.
func (w *eventWriter) commit(allAgents bool) ([]delivery, error) {
	w.slaApply(false)
	if w.err != nil {
		return nil, w.err
	}
	allAgents = allAgents || w.requeued
	out := w.deliveries(allAgents)
	for _, p := range w.parts {
		if w.changed[p.Principal()] {
			if err := w.tx.SaveParticipant(w.ctx, w.c.ID, p); err != nil {
				return nil, err
			}
		}
	}
	if err := w.tx.SaveConversation(w.ctx, *w.c); err != nil {
		return nil, err
	}
	for _, n := range w.owed {
		if err := w.tx.Notify(w.ctx, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// delivery is one event and who gets it.
type delivery struct {
	ev desk.ConvEvent
	to []target
}

// target is one audience of an event, with the previous seq that audience
// was sent (desk.Event.Prev).
type target struct {
	to   desk.Audience
	prev int64
}

// deliveries addresses the events: the employee gets all but private ones;
// agents who are or ever were in the conversation get all (one who handed
// it over may still read it, so their open view stays live); every agent
// gets them while the conversation is (or was) in the queue.
//
// Each copy names its audience's previous event, so a connection can
// tell a gap from a seq it was never meant to see: the employee's copies
// the last public event; every agent's copies the last broadcast one
// (remembered on the conversation); participants' copies the event just
// before, since an agent in the conversation may read all of it.
func (w *eventWriter) deliveries(allAgents bool) []delivery {
	agents := agentsEverIn(w.parts)
	for _, p := range w.before {
		if !slices.Contains(agents, p) {
			agents = append(agents, p)
		}
	}
	employee := desk.Audience{Kind: desk.ToUser, User: desk.Principal{Role: desk.RoleEmployee, ID: w.c.EmployeeID}}
	out := make([]delivery, 0, len(w.events))
	for i, ev := range w.events {
		var to []target
		switch {
		case allAgents:
			to = append(to, target{to: desk.Audience{Kind: desk.ToAllAgents}, prev: w.c.BroadcastSeq})
			w.c.BroadcastSeq = ev.Seq
		case len(agents) > 0:
			to = append(to, target{to: desk.Audience{Kind: desk.ToUsers, Users: agents}, prev: ev.Seq - 1})
		}
		if !ev.Private {
			to = append(to, target{to: employee, prev: w.prevPublic[i]})
		}
		out = append(out, delivery{ev: ev, to: to})
	}
	return out
}

func agentsEverIn(parts []desk.Participant) []desk.Principal {
	var out []desk.Principal
	for _, p := range parts {
		if p.Role == desk.RoleAgent {
			out = append(out, p.Principal())
		}
	}
	return out
}

func activeAgents(parts []desk.Participant) []desk.Principal {
	var out []desk.Principal
	for _, p := range parts {
		if p.Active && p.Role == desk.RoleAgent {
			out = append(out, p.Principal())
		}
	}
	return out
}

func isActive(parts []desk.Participant, who desk.Principal) bool {
	for _, p := range parts {
		if p.Principal() == who {
			return p.Active
		}
	}
	return false
}

func lastRead(parts []desk.Participant, who desk.Principal) int64 {
	for _, p := range parts {
		if p.Principal() == who {
			return p.LastReadSeq
		}
	}
	return 0
}
