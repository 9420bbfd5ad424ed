package conversation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/search"
)

// NewConversation is what an employee submits to ask for help.
type NewConversation struct {
	Subject     string
	Category    string
	Body        string
	ClientMsgID string
	// Articles are the knowledge-base articles the employee read before
	// asking for a person anyway (at most maxSeenArticles): agents see
	// them and need not send them again.
	Articles []string
	// Assistant: the desk's assistant answers first (internal/firstline
	// decides: it is configured, on for the category, and within the
	// employee's rate): the conversation starts in StatusBot, not queued.
	Assistant bool
}

const maxSeenArticles = 10

// Create opens a conversation with its first message and puts it in the
// queue. A retry with the same ClientMsgID returns the original, with
// created false.
func (s *Service) Create(ctx context.Context, employee desk.Principal, in NewConversation) (desk.Conversation, bool, error) {
	in.Subject = strings.TrimSpace(in.Subject)
	if in.Category == "" {
		in.Category = "other"
	}
	switch {
	case employee.Role != desk.RoleEmployee:
		return desk.Conversation{}, false, desk.Errorf(desk.EForbidden, "only employees start conversations")
	case in.Subject == "":
		return desk.Conversation{}, false, desk.Errorf(desk.EInvalid, "subject is required")
	case utf8.RuneCountInString(in.Subject) > maxSubjectRunes:
		return desk.Conversation{}, false, desk.Errorf(desk.EInvalid, "subject must be at most %d characters", maxSubjectRunes)
	case desk.CheckText("subject", in.Subject) != nil:
		return desk.Conversation{}, false, desk.CheckText("subject", in.Subject)
	case !desk.ValidCategoryKey(in.Category):
		return desk.Conversation{}, false, desk.Errorf(desk.EInvalid, "category %q does not exist", in.Category)
	}
	if err := s.checkBody(in.Body); err != nil {
		return desk.Conversation{}, false, err
	}
	if err := checkClientMsgID(in.ClientMsgID); err != nil {
		return desk.Conversation{}, false, err
	}
	if len(in.Articles) > maxSeenArticles {
		return desk.Conversation{}, false, desk.Errorf(desk.EInvalid, "at most %d articles", maxSeenArticles)
	}
	for _, a := range in.Articles {
		if a == "" || len(a) > 64 || strings.ContainsAny(a, " \t\n\"<>") {
			return desk.Conversation{}, false, desk.Errorf(desk.EInvalid, "%q is not an article id", a)
		}
	}
	id, err := newID("cv_")
	if err != nil {
		return desk.Conversation{}, false, err
	}
	type created struct {
		conv desk.Conversation
		new  bool
	}
	// Keyed by employee, not by the new id: a retried create must meet
	// the first one in the same writer to find it.
	v, err := s.exec(ctx, employee.ID, func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
		if in.ClientMsgID != "" {
			c, err := tx.ConversationByClientMsgID(ctx, employee.ID, in.ClientMsgID)
			if err == nil {
				return outcome{value: created{c, false}}, nil
			} else if desk.ErrorCode(err) != desk.ENotFound {
				return outcome{}, err
			}
		}
		open, err := tx.ListConversations(ctx, desk.ConversationQuery{
			EmployeeID: employee.ID, Statuses: []desk.Status{desk.StatusQueued, desk.StatusOpen, desk.StatusPending, desk.StatusBot}, Viewer: employee, Limit: s.maxOpen,
		})
		if err != nil {
			return outcome{}, err
		}
		if len(open) >= s.maxOpen {
			return outcome{}, desk.Errorf(desk.EConflict,
				"you already have %d open requests; add to one of them, or wait until one is resolved", len(open))
		}
		// The list is the admins' (internal/staff): read it here, in the
		// transaction, so every node agrees at once when one is retired.
		cat, err := tx.Category(ctx, in.Category)
		switch {
		case desk.ErrorCode(err) == desk.ENotFound, err == nil && !cat.Active:
			return outcome{}, desk.Errorf(desk.EInvalid, "category %q does not exist or is retired; choose another", in.Category)
		case err != nil:
			return outcome{}, err
		}
		priority := "normal"
		if cat.DefaultPriority != "" {
			priority = cat.DefaultPriority
		}
		now := s.now().UTC()
		year := now.In(s.zone).Year()
		n, err := tx.NextNumber(ctx, fmt.Sprintf("ref:%d", year))
		if err != nil {
			return outcome{}, err
		}
		team, err := tx.TeamForCategory(ctx, in.Category)
		if err != nil && desk.ErrorCode(err) != desk.ENotFound {
			return outcome{}, err
		}
		c := desk.Conversation{
			ID: id, EmployeeID: employee.ID, Subject: in.Subject, Category: in.Category, TeamID: team.ID,
			Status: desk.StatusQueued, CreatedAt: now, UpdatedAt: now, QueuedAt: &now, ClientMsgID: in.ClientMsgID,
			Ref: fmt.Sprintf("IT-%d-%06d", year, n), Priority: priority, Type: "incident", Tags: []string{},
		}
		if in.Assistant {
			c.Status, c.QueuedAt = desk.StatusBot, nil
		}
		if err := tx.CreateConversation(ctx, c); err != nil {
			return outcome{}, err
		}
		// The subject line, the reference and who asked are found by
		// search too (document seq 0).
		empName := ""
		if e, err := tx.Employee(ctx, employee.ID); err == nil {
			empName = e.Name
		}
		if err := tx.Index(ctx, c.ID, 0, search.Terms(c.Subject, c.Ref, employee.ID, empName)); err != nil {
			return outcome{}, err
		}
		w := s.writer(ctx, tx, &c, nil)
		w.join(employee)
		asked := map[string]any{
			"employee_id": c.EmployeeID, "subject": c.Subject, "category": c.Category, "status": string(c.Status),
		}
		if len(in.Articles) > 0 {
			asked["articles"] = in.Articles
		}
		w.append(desk.EventCreated, employee, asked, "")
		msg := w.message(desk.EventMessage, employee, in.Body, in.ClientMsgID)
		w.readUpTo(employee, msg.Seq)
		if c.Status == desk.StatusBot {
			// The assistant answers first (bot.go): nobody is routed yet.
		} else if assigned, err := w.assign(team); err != nil {
			return outcome{}, err
		} else if !assigned {
			w.oweQueued(msg.Seq)
			w.notice(employee)
		}
		events, err := w.commit(true)
		if err != nil {
			return outcome{}, err
		}
		return outcome{events: events, value: created{c, true}, queueChanged: true}, nil
	})
	if err != nil {
		return desk.Conversation{}, false, err
	}
	r := v.(created)
	return r.conv, r.new, nil
}

// Send adds a message from an employee or an agent. A retry with the same
// ClientMsgID returns the stored message with created false. An employee's
// message reopens a resolved conversation.
//
// attachments are ids of the sender's uploads (internal/attachment), at most
// desk.MaxAttachments; with any, the body may be empty. A retry with the
// same clientMsgID returns the original without taking them again.
func (s *Service) Send(ctx context.Context, actor desk.Principal, conversationID, body, clientMsgID string, attachments ...string) (desk.ConvEvent, bool, error) {
	if err := s.checkMessage(body, attachments); err != nil {
		return desk.ConvEvent{}, false, err
	}
	if err := checkClientMsgID(clientMsgID); err != nil {
		return desk.ConvEvent{}, false, err
	}
	// The first attempt leaves a retry to the unique index on client ids
	// rather than read for it before every message, unless the store
	// answers that read with the lock anyway (lookerBesideLock). A retry
	// is then refused (EConflict), and so may be one whose sender has left
	// or whose conversation was resolved since; any refusal rolls the
	// attempt back with its savepoint, and it is run again with the read,
	// which returns the original.
	send := func(lookUp bool) func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
		return func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
			if l, ok := tx.(lookerBesideLock); ok {
				l.LookUpWithLock(conversationID, actor, clientMsgID)
				lookUp = true
			}
			return s.send(ctx, tx, actor, conversationID, body, clientMsgID, attachments, lookUp)
		}
	}
	loads := desk.LockHint{ConversationID: conversationID, Actor: actor, ClientMsgID: clientMsgID}
	v, err := s.execOn(ctx, loads, send(false))
	if clientMsgID != "" && isDomainError(err) {
		v, err = s.execOn(ctx, loads, send(true))
	}
	if err != nil {
		return desk.ConvEvent{}, false, err
	}
	r := v.(sent)
	return r.ev, r.new, nil
}

// sent is what Send's command returns: the message, and whether it is new
// (false: the original of a retry).
type sent struct {
	ev  desk.ConvEvent
	new bool
}

// send is Send's command; lookUp: look clientMsgID up first.
func (s *Service) send(ctx context.Context, tx desk.ConversationTx, actor desk.Principal, conversationID, body, clientMsgID string, attachments []string, lookUp bool) (outcome, error) {
	c, parts, err := s.load(ctx, tx, conversationID, actor)
	if err != nil {
		return outcome{}, err
	}
	if clientMsgID != "" && lookUp { // a retry gets its original, even if the sender has left since
		ev, err := tx.EventByClientMsgID(ctx, c.ID, actor, clientMsgID)
		if err == nil {
			return outcome{value: sent{ev, false}}, nil
		} else if desk.ErrorCode(err) != desk.ENotFound {
			return outcome{}, err
		}
	}
	if actor.Role == desk.RoleAgent && !isActive(parts, actor) {
		return outcome{}, notParticipant(c)
	}
	wasQueued := c.Status == desk.StatusQueued || c.Status == desk.StatusBot
	w := s.writer(ctx, tx, &c, parts)
	// Replying means having read what came before: say so to the
	// others first, or the reply would move the sender's read position
	// silently and their receipt for the last message would never come.
	if from := lastRead(parts, actor); from < c.Seq && isActive(parts, actor) {
		if receipts, err := onlyReceipts(ctx, tx, c.ID, from, c.Seq, actor.Role == desk.RoleAgent, actor); err != nil {
			return outcome{}, err
		} else if !receipts {
			upto := c.Seq
			w.readUpTo(actor, upto)
			w.append(desk.EventRead, actor, map[string]any{"reader": participantRef{Role: actor.Role, ID: actor.ID}, "seq": upto}, "")
		}
	}
	queueChanged := false
	if c.Status == desk.StatusBot && actor.Role == desk.RoleEmployee {
		// Writing again after the assistant's answer (or before it) is
		// asking for a person.
		if queueChanged, err = w.handOver(actor, HandoverWrote); err != nil {
			return outcome{}, err
		}
	}
	if c.Status == desk.StatusResolved {
		if actor.Role != desk.RoleEmployee {
			return outcome{}, desk.Errorf(desk.EConflict, "conversation is resolved")
		}
		queueChanged = w.reopen(actor)
	}
	if c.Status == desk.StatusPending && actor.Role == desk.RoleEmployee {
		// The answer the agent waited for: back to open, to them.
		w.c.Status = desk.StatusOpen
		w.append(desk.EventReopened, actor, map[string]string{
			"by": actor.ID, "status": string(desk.StatusOpen), "assignee_id": c.AssigneeID, "from": string(desk.StatusPending),
		}, "")
	}
	atts, err := s.useAttachments(ctx, tx, attachments, actor, c.ID, false)
	if err != nil {
		return outcome{}, err
	}
	ev := w.message(desk.EventMessage, actor, body, clientMsgID, atts...)
	w.readUpTo(actor, ev.Seq)
	if queueChanged {
		w.oweQueued(ev.Seq) // reopened into the queue
	}
	if actor.Role == desk.RoleAgent {
		w.oweEmployee(desk.NotifyReply, ev.Seq)
	} else if c.AssigneeID != "" && inWork(c.Status) {
		w.owe(agentPrincipal(c.AssigneeID), desk.NotifyEmployeeWrote, ev.Seq)
	}
	events, err := w.commit(wasQueued || queueChanged)
	if err != nil {
		return outcome{}, err
	}
	return outcome{events: events, value: sent{ev, true}, queueChanged: queueChanged}, nil
}

// lookerBesideLock is a transaction that can look up a client id in the
// same round trip as it locks the conversation (PostgreSQL): asked before
// load, it answers Send's EventByClientMsgID without a round trip of its
// own. Other stores ask when asked.
type lookerBesideLock interface {
	LookUpWithLock(conversationID string, actor desk.Principal, clientMsgID string)
}

// Note adds a private note that agents see and the employee never does.
// attachments are as for Send; they stay private like the note. Agents it
// names with @username are told (a card too, with WeCom) and may read the
// conversation from then on, as one who was in it.
func (s *Service) Note(ctx context.Context, agent desk.Principal, conversationID, body string, attachments ...string) (desk.ConvEvent, error) {
	if err := s.checkMessage(body, attachments); err != nil {
		return desk.ConvEvent{}, err
	}
	mentioned, err := s.mentioned(ctx, agent, body)
	if err != nil {
		return desk.ConvEvent{}, err
	}
	v, err := s.execOn(ctx, desk.LockHint{ConversationID: conversationID, Actor: agent}, func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
		c, parts, err := s.load(ctx, tx, conversationID, agent)
		if err != nil {
			return outcome{}, err
		}
		if agent.Role != desk.RoleAgent || !isActive(parts, agent) {
			return outcome{}, notParticipant(c)
		}
		atts, err := s.useAttachments(ctx, tx, attachments, agent, c.ID, true)
		if err != nil {
			return outcome{}, err
		}
		w := s.writer(ctx, tx, &c, parts)
		for _, id := range mentioned {
			w.participant(agentPrincipal(id)) // reads it from now on; no more
		}
		ev := w.mention(agent, body, mentioned, atts)
		events, err := w.commit(false)
		if err != nil {
			return outcome{}, err
		}
		return outcome{events: events, value: ev}, nil
	})
	if err != nil {
		return desk.ConvEvent{}, err
	}
	return v.(desk.ConvEvent), nil
}

// Claim makes agent the assignee of a queued conversation. Of two agents
// claiming at once exactly one wins; the other gets EConflict.
func (s *Service) Claim(ctx context.Context, agent desk.Principal, conversationID string) (desk.Conversation, error) {
	if agent.Role != desk.RoleAgent {
		return desk.Conversation{}, desk.Errorf(desk.EForbidden, "only agents claim conversations")
	}
	name := s.agentName(ctx, agent.ID)
	return s.update(ctx, agent, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if w.c.Status != desk.StatusQueued && w.c.Status != desk.StatusBot {
			return false, alreadyTaken(*w.c)
		}
		if w.c.Status == desk.StatusBot {
			// Taken straight from the assistant: queued since it was asked.
			asked := w.c.CreatedAt
			w.c.QueuedAt = &asked
		}
		// QueuedAt stays: should the last agent leave, the conversation
		// goes back to the queue at the place it had.
		w.c.Status, w.c.AssigneeID = desk.StatusOpen, agent.ID
		s.waits.claimed(w.now)
		w.join(agent)
		ev := w.append(desk.EventClaimed, agent, map[string]string{"agent_id": agent.ID, "agent_name": name}, "")
		w.oweEmployee(desk.NotifyJoined, ev.Seq)
		return true, nil
	})
}

// Invite adds another agent to a conversation; only its assignee may.
func (s *Service) Invite(ctx context.Context, assignee desk.Principal, conversationID, agentID string) (desk.Conversation, error) {
	return s.update(ctx, assignee, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if err := mustAssign(*w.c, assignee, "invite"); err != nil {
			return false, err
		}
		invitee, err := s.agents.AgentByID(w.ctx, agentID)
		if err != nil {
			return false, err
		}
		p := desk.Principal{Role: desk.RoleAgent, ID: invitee.ID}
		if isActive(parts, p) {
			return false, desk.Errorf(desk.EConflict, "%s is already in this conversation", invitee.Name)
		}
		w.join(p)
		ev := w.append(desk.EventJoined, assignee, map[string]any{
			"participant": participantRef{Role: desk.RoleAgent, ID: invitee.ID, Name: invitee.Name},
			"invited_by":  assignee.ID,
		}, "")
		w.owe(p, desk.NotifyInvited, ev.Seq)
		w.oweEmployee(desk.NotifyJoined, ev.Seq)
		return false, nil
	})
}

// Transfer hands a conversation from its assignee to another agent; the
// previous assignee leaves it.
func (s *Service) Transfer(ctx context.Context, assignee desk.Principal, conversationID, agentID string) (desk.Conversation, error) {
	if agentID == assignee.ID {
		return desk.Conversation{}, desk.Errorf(desk.EInvalid, "cannot transfer a conversation to yourself")
	}
	return s.update(ctx, assignee, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if err := mustAssign(*w.c, assignee, "transfer"); err != nil {
			return false, err
		}
		to, err := s.agents.AgentByID(w.ctx, agentID)
		if err != nil {
			return false, err
		}
		p := desk.Principal{Role: desk.RoleAgent, ID: to.ID}
		w.c.AssigneeID = to.ID
		w.join(p)
		w.leave(assignee)
		ev := w.append(desk.EventTransferred, assignee, map[string]string{
			"from_agent_id": assignee.ID, "to_agent_id": to.ID, "to_agent_name": to.Name,
		}, "")
		w.owe(p, desk.NotifyTransferred, ev.Seq)
		w.oweEmployee(desk.NotifyJoined, ev.Seq)
		return false, nil
	})
}

// Leave takes an agent out of a conversation. When its assignee leaves,
// the longest-present remaining agent takes over, or, with none left, the
// conversation goes back to the queue.
func (s *Service) Leave(ctx context.Context, agent desk.Principal, conversationID string) (desk.Conversation, error) {
	defer s.DispatchSoon()
	return s.update(ctx, agent, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if agent.Role != desk.RoleAgent || !isActive(parts, agent) {
			return false, notParticipant(*w.c)
		}
		w.leave(agent)
		requeued := false
		if w.c.AssigneeID == agent.ID {
			w.c.AssigneeID = ""
			for _, p := range parts {
				if p.Role == desk.RoleAgent && p.Active && p.ID != agent.ID {
					w.c.AssigneeID = p.ID
					break
				}
			}
			if w.c.AssigneeID == "" && inWork(w.c.Status) {
				// Back in the queue at the place it had: the employee has
				// waited since then, and the agent leaving is not their doing.
				queued := w.now
				if w.c.QueuedAt != nil {
					queued = *w.c.QueuedAt
				}
				w.c.Status, w.c.QueuedAt, requeued = desk.StatusQueued, &queued, true
			}
		}
		ev := w.append(desk.EventLeft, agent, map[string]any{
			"participant": participantRef{Role: desk.RoleAgent, ID: agent.ID, Name: s.agentName(w.ctx, agent.ID)},
			"assignee_id": w.c.AssigneeID,
			"status":      w.c.Status,
		}, "")
		if requeued {
			w.oweQueued(ev.Seq)
		}
		return requeued, nil
	})
}

// Resolve marks an open conversation done.
func (s *Service) Resolve(ctx context.Context, agent desk.Principal, conversationID string) (desk.Conversation, error) {
	defer s.DispatchSoon() // the agent may have room for a waiting one now
	return s.update(ctx, agent, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if agent.Role != desk.RoleAgent || !isActive(parts, agent) {
			return false, notParticipant(*w.c)
		}
		if !inWork(w.c.Status) {
			return false, desk.Errorf(desk.EConflict, "only an open conversation can be resolved (it is %s)", w.c.Status)
		}
		now := w.now
		w.c.Status, w.c.ResolvedAt = desk.StatusResolved, &now
		ev := w.append(desk.EventResolved, agent, map[string]string{"by": agent.ID}, "")
		w.oweEmployee(desk.NotifyResolved, ev.Seq)
		return false, nil
	})
}

// Fields is what an agent may change about a conversation besides its
// lifecycle; nil leaves a field as it is.
type Fields struct {
	Priority *string   `json:"priority"`
	Type     *string   `json:"type"`
	Tags     *[]string `json:"tags"`
}

// Update sets a conversation's priority, type or tags. Any agent in the
// conversation may, and any agent while it waits in the queue (triage
// before claiming). The change is a private event: these are the desk's
// own labels, not the employee's business.
func (s *Service) Update(ctx context.Context, agent desk.Principal, conversationID string, f Fields) (desk.Conversation, error) {
	if agent.Role != desk.RoleAgent {
		return desk.Conversation{}, desk.Errorf(desk.EForbidden, "only agents change a conversation's fields")
	}
	if f.Priority != nil && !slices.Contains(desk.Priorities, *f.Priority) {
		return desk.Conversation{}, desk.Errorf(desk.EInvalid, "priority must be one of %s", strings.Join(desk.Priorities, ", "))
	}
	if f.Type != nil && !slices.Contains(desk.Types, *f.Type) {
		return desk.Conversation{}, desk.Errorf(desk.EInvalid, "type must be one of %s", strings.Join(desk.Types, ", "))
	}
	var tags []string
	if f.Tags != nil {
		var err error
		if tags, err = desk.CleanTags(*f.Tags); err != nil {
			return desk.Conversation{}, err
		}
	}
	return s.update(ctx, agent, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if w.c.Status != desk.StatusQueued && !isActive(parts, agent) {
			return false, notParticipant(*w.c)
		}
		changed := map[string]any{"by": agent.ID}
		if f.Priority != nil && *f.Priority != w.c.Priority {
			w.c.Priority, changed["priority"] = *f.Priority, *f.Priority
		}
		if f.Type != nil && *f.Type != w.c.Type {
			w.c.Type, changed["type"] = *f.Type, *f.Type
		}
		if f.Tags != nil && !slices.Equal(tags, w.c.Tags) {
			w.c.Tags, changed["tags"] = tags, tags
		}
		if len(changed) > 1 {
			w.append(desk.EventUpdated, agent, changed, "")
		}
		return false, nil
	})
}

// Pend marks a conversation as waiting for the employee's answer: the
// assignee asked something. The employee's next message opens it again.
func (s *Service) Pend(ctx context.Context, agent desk.Principal, conversationID string) (desk.Conversation, error) {
	return s.update(ctx, agent, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if err := mustAssign(*w.c, agent, "wait for the employee"); err != nil {
			return false, err
		}
		if w.c.Status == desk.StatusPending {
			return false, nil
		}
		w.c.Status = desk.StatusPending
		w.append(desk.EventPending, agent, map[string]string{"by": agent.ID}, "")
		return false, nil
	})
}

// Withdraw lets an employee close their own request: solved by itself, or
// no longer needed. It ends as resolved; writing again reopens it.
func (s *Service) Withdraw(ctx context.Context, employee desk.Principal, conversationID string) (desk.Conversation, error) {
	if employee.Role != desk.RoleEmployee {
		return desk.Conversation{}, desk.Errorf(desk.EForbidden, "only the employee withdraws their request")
	}
	return s.update(ctx, employee, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if w.c.Status == desk.StatusResolved {
			return false, desk.Errorf(desk.EConflict, "the request is already closed")
		}
		wasQueued := w.c.Status == desk.StatusQueued
		now := w.now
		w.c.Status, w.c.ResolvedAt = desk.StatusResolved, &now
		w.append(desk.EventWithdrawn, employee, map[string]string{"by": employee.ID}, "")
		return wasQueued, nil
	})
}

// Read records that a participant has read up to seq. Reading backwards
// changes nothing.
func (s *Service) Read(ctx context.Context, actor desk.Principal, conversationID string, seq int64) (int64, error) {
	if seq < 0 {
		return 0, desk.Errorf(desk.EInvalid, "seq must not be negative")
	}
	v, err := s.execOn(ctx, desk.LockHint{ConversationID: conversationID, Actor: actor}, func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
		c, parts, err := s.load(ctx, tx, conversationID, actor)
		if err != nil {
			return outcome{}, err
		}
		if !isActive(parts, actor) {
			return outcome{}, notParticipant(c)
		}
		seq := min(seq, c.Seq)
		from := lastRead(parts, actor)
		if seq <= from {
			return outcome{value: from}, nil
		}
		// Reading past nothing but other people's read receipts records
		// nothing: otherwise two clients that mark everything read would
		// answer each other's receipts forever.
		if news, err := onlyReceipts(ctx, tx, c.ID, from, seq, actor.Role == desk.RoleAgent, desk.Principal{}); err != nil || news {
			return outcome{value: from}, err
		}
		w := s.writer(ctx, tx, &c, parts)
		w.readUpTo(actor, seq)
		w.append(desk.EventRead, actor, map[string]any{"reader": participantRef{Role: actor.Role, ID: actor.ID}, "seq": seq}, "")
		events, err := w.commit(false)
		if err != nil {
			return outcome{}, err
		}
		return outcome{events: events, value: seq}, nil
	})
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// onlyReceipts reports whether the events in (from, to] (private ones only
// withPrivate) are all read receipts, or own's: nothing new to read. It
// looks at a bounded window: a long stretch of receipts alone is not worth
// reading through.
func onlyReceipts(ctx context.Context, tx desk.ConversationTx, id string, from, to int64, withPrivate bool, own desk.Principal) (bool, error) {
	var events []desk.ConvEvent
	k, known := tx.(eventKnower)
	if known {
		events, known = k.KnownEvents(id, from, 32, withPrivate)
	}
	if !known {
		var err error
		if events, err = tx.Events(ctx, id, from, 32, withPrivate); err != nil {
			return false, err
		}
	}
	for _, ev := range events {
		if ev.Seq > to {
			break
		}
		if ev.Type != desk.EventRead && ev.Actor != own {
			return false, nil
		}
	}
	return len(events) > 0 || from < to, nil
}

// eventKnower is a transaction that may know, without a round trip, the
// events after a seq of a conversation it loaded (PostgreSQL's, from what
// its node wrote last): as Events would return them, but with their seq,
// type, actor and privacy only. ok is false when it does not know them all.
type eventKnower interface {
	KnownEvents(conversationID string, afterSeq int64, limit int, includePrivate bool) (events []desk.ConvEvent, ok bool)
}

// RecordEmployee stores an employee's profile (from the WeCom directory at
// sign-in), which agents see beside their conversations.
func (s *Service) RecordEmployee(ctx context.Context, e desk.Employee) error {
	for field, v := range map[string]string{"name": e.Name, "department": e.Department, "position": e.Position} {
		if err := desk.CheckText(field, v); err != nil {
			return err
		}
	}
	e.UpdatedAt = s.now().UTC()
	_, err := s.exec(ctx, e.ID, func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
		return outcome{}, tx.SaveEmployee(ctx, e)
	})
	return err
}

// RememberEmployee stores an employee's display name, for agents' lists.
func (s *Service) RememberEmployee(ctx context.Context, id, name string) error {
	_, err := s.exec(ctx, id, func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
		return outcome{}, tx.SaveEmployee(ctx, desk.Employee{ID: id, Name: name, UpdatedAt: s.now().UTC()})
	})
	return err
}

// update runs a lifecycle change on one conversation: change edits the
// writer's conversation and appends events, and reports whether the queue
// changed. It returns the conversation as saved.
func (s *Service) update(ctx context.Context, actor desk.Principal, conversationID string,
	change func(w *eventWriter, parts []desk.Participant) (bool, error)) (desk.Conversation, error) {
	v, err := s.execOn(ctx, desk.LockHint{ConversationID: conversationID, Actor: actor}, func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
		c, parts, err := s.load(ctx, tx, conversationID, actor)
		if err != nil {
			return outcome{}, err
		}
		// Every agent hears of queued and bot conversations alike.
		wasQueued := c.Status == desk.StatusQueued || c.Status == desk.StatusBot
		w := s.writer(ctx, tx, &c, parts)
		queueChanged, err := change(w, parts)
		if err != nil {
			return outcome{}, err
		}
		events, err := w.commit(wasQueued || queueChanged)
		if err != nil {
			return outcome{}, err
		}
		return outcome{events: events, value: c, queueChanged: queueChanged || wasQueued}, nil
	})
	if err != nil {
		return desk.Conversation{}, err
	}
	return forViewer(v.(desk.Conversation), actor), nil
}

// load reads a conversation for update with its participants, hiding other
// employees' conversations entirely.
func (s *Service) load(ctx context.Context, tx desk.ConversationTx, id string, actor desk.Principal) (desk.Conversation, []desk.Participant, error) {
	c, err := tx.ConversationForUpdate(ctx, id)
	if err != nil {
		return c, nil, err
	}
	if actor.Role == desk.RoleEmployee && c.EmployeeID != actor.ID {
		return c, nil, desk.Errorf(desk.ENotFound, "conversation not found")
	}
	parts, err := tx.Participants(ctx, id)
	return c, parts, err
}

// checkMessage applies checkBody, except that a message carrying files
// may have no text, and bounds the files.
func (s *Service) checkMessage(body string, attachments []string) error {
	if len(attachments) > desk.MaxAttachments {
		return desk.Errorf(desk.EInvalid, "a message may carry at most %d attachments", desk.MaxAttachments)
	}
	seen := map[string]bool{}
	for _, id := range attachments {
		if !desk.ValidAttachmentID(id) {
			return desk.Errorf(desk.EInvalid, "%q is not an attachment id", id)
		}
		if seen[id] {
			return desk.Errorf(desk.EInvalid, "attachment %s is listed twice", id)
		}
		seen[id] = true
	}
	if len(attachments) > 0 && body == "" {
		return nil
	}
	return s.checkBody(body)
}

// useAttachments hands the sender's uploads to the message being written.
func (s *Service) useAttachments(ctx context.Context, tx desk.ConversationTx, ids []string, sender desk.Principal, conversationID string, private bool) ([]desk.Attachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return tx.UseAttachments(ctx, ids, sender, conversationID, private)
}

func (s *Service) checkBody(body string) error {
	switch {
	case strings.TrimSpace(body) == "":
		return desk.Errorf(desk.EInvalid, "body must not be empty")
	case len(body) > s.maxBody:
		return desk.Errorf(desk.EInvalid, "body must be at most %d bytes", s.maxBody)
	}
	return desk.CheckText("body", body)
}

// checkClientMsgID accepts what clients generate for ids (UUIDs, ULIDs,
// counters) and nothing that could confuse a log line or a key.
func checkClientMsgID(id string) error {
	if len(id) > 64 {
		return desk.Errorf(desk.EInvalid, "client_msg_id must be at most 64 characters")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)) {
			return desk.Errorf(desk.EInvalid, "client_msg_id may contain only letters, digits and - _ . :")
		}
	}
	return nil
}

func (s *Service) agentName(ctx context.Context, id string) string {
	if a, err := s.agents.AgentByID(ctx, id); err == nil {
		return a.Name
	}
	return id
}

func mustAssign(c desk.Conversation, actor desk.Principal, what string) error {
	if actor.Role != desk.RoleAgent || c.AssigneeID != actor.ID {
		return desk.Errorf(desk.EForbidden, "only the assignee can %s", what)
	}
	if !inWork(c.Status) {
		return desk.Errorf(desk.EConflict, "only an open conversation can be changed (it is %s)", c.Status)
	}
	return nil
}

// inWork: assigned and not done, whether the agent or the employee is to
// answer next.
func inWork(s desk.Status) bool { return s == desk.StatusOpen || s == desk.StatusPending }

func notParticipant(c desk.Conversation) error {
	if c.Status == desk.StatusQueued {
		return desk.Errorf(desk.EForbidden, "claim the conversation first")
	}
	return desk.Errorf(desk.EForbidden, "you are not a participant of this conversation")
}

func alreadyTaken(c desk.Conversation) error {
	if inWork(c.Status) {
		// Not who: an agent who may not read the conversation learns only
		// that it is taken.
		return desk.Errorf(desk.EConflict, "conversation already claimed")
	}
	return desk.Errorf(desk.EConflict, "conversation is %s", c.Status)
}

// participantRef names a participant inside event data.
type participantRef struct {
	Role desk.Role `json:"role"`
	ID   string    `json:"id"`
	Name string    `json:"name,omitempty"`
}
