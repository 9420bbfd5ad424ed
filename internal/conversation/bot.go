package conversation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// The assistant's turn: on a desk with an AI assistant (internal/firstline),
// a new request whose category allows it starts in StatusBot instead of the
// queue. The assistant answers once (BotReply); the employee may ask for a
// person at any time (Handover), and so does writing again. A conversation
// the assistant could not help with is handed over by it at once. Either
// way it joins the queue at the place it would have had: QueuedAt is when
// the employee asked, not the hand-off. Agents see bot conversations (every
// agent hears of them, as of the queue) and may claim one directly.

// Bot is the principal the assistant writes as.
var Bot = desk.Principal{Role: desk.RoleBot, ID: "assistant"}

// BotName is the name the assistant's messages carry; the pages may show
// their own words for sender_type "bot".
const BotName = "智能助手"

const (
	// botAnswerWithin: a bot conversation without the assistant's answer
	// this long after it was asked (the node answering it died, say) is
	// handed over by the sweep. It exceeds any answer's own time limit.
	botAnswerWithin = 2 * time.Minute
	// botIdleClose: an answered bot conversation the employee neither
	// handed over nor closed is closed after this long without news: the
	// answer helped, or the employee went elsewhere.
	botIdleClose = 24 * time.Hour
	// botSweepEvery is how often each node looks at bot conversations.
	botSweepEvery = 30 * time.Second
)

// Reasons a conversation is handed over, as EventHandedOver's data says.
const (
	HandoverAsked   = "asked"   // the employee pressed 转人工
	HandoverWrote   = "wrote"   // the employee wrote again
	HandoverUnknown = "unknown" // the assistant had no answer in the articles
	HandoverFailed  = "failed"  // the model failed, timed out, or is switched off
	HandoverTimeout = "timeout" // no answer came in time (the sweep)
)

// BotReply stores the assistant's answer in a conversation it is
// answering. articles are the knowledge-base articles the answer cites. A
// retry with the same clientMsgID returns the stored answer; a conversation
// that has meanwhile been handed over or closed refuses it (EConflict).
func (s *Service) BotReply(ctx context.Context, conversationID, body string, articles []desk.ArticleRef, clientMsgID string) (desk.ConvEvent, error) {
	if err := s.checkBody(body); err != nil {
		return desk.ConvEvent{}, err
	}
	if err := checkClientMsgID(clientMsgID); err != nil {
		return desk.ConvEvent{}, err
	}
	v, err := s.exec(ctx, conversationID, func(ctx context.Context, tx desk.ConversationTx) (outcome, error) {
		c, parts, err := s.load(ctx, tx, conversationID, Bot)
		if err != nil {
			return outcome{}, err
		}
		if clientMsgID != "" {
			if ev, err := tx.EventByClientMsgID(ctx, c.ID, Bot, clientMsgID); err == nil {
				return outcome{value: ev}, nil
			} else if desk.ErrorCode(err) != desk.ENotFound {
				return outcome{}, err
			}
		}
		if c.Status != desk.StatusBot {
			return outcome{}, desk.Errorf(desk.EConflict, "the conversation is no longer the assistant's")
		}
		w := s.writer(ctx, tx, &c, parts)
		ev := w.appendMessage(desk.EventMessage, Bot, desk.Message{Body: body, ClientMsgID: clientMsgID, Articles: articles})
		w.oweEmployee(desk.NotifyReply, ev.Seq)
		events, err := w.commit(true)
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

// Handover puts a conversation the assistant is answering in the queue for
// a person: asked by its employee, or by the assistant (Bot) when it could
// not help. A conversation that is not the assistant's any more is
// returned unchanged: the employee's 转人工 may cross an agent's claim.
func (s *Service) Handover(ctx context.Context, actor desk.Principal, conversationID, reason string) (desk.Conversation, error) {
	if actor.Role != desk.RoleEmployee && actor != Bot {
		return desk.Conversation{}, desk.Errorf(desk.EForbidden, "only the employee or the assistant hands a conversation over")
	}
	return s.update(ctx, actor, conversationID, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if w.c.Status != desk.StatusBot {
			return false, nil
		}
		return w.handOver(actor, reason)
	})
}

// handOver moves a bot conversation to the queue, dated from when the
// employee asked, and routes it as a new request would be.
func (w *eventWriter) handOver(by desk.Principal, reason string) (bool, error) {
	asked := w.c.CreatedAt
	w.c.Status, w.c.QueuedAt = desk.StatusQueued, &asked
	ev := w.append(desk.EventHandedOver, by, map[string]string{
		"by": string(by.Role), "reason": reason, "status": string(desk.StatusQueued),
	}, "")
	team, err := w.tx.TeamForCategory(w.ctx, w.c.Category)
	if err != nil && desk.ErrorCode(err) != desk.ENotFound {
		return false, err
	}
	assigned, err := w.assign(team)
	if err != nil {
		return false, err
	}
	if !assigned {
		w.oweQueued(ev.Seq)
		w.notice(desk.Principal{Role: desk.RoleEmployee, ID: w.c.EmployeeID})
	}
	return true, nil
}

// runBotSweep sweeps bot conversations until ctx ends.
func (s *Service) runBotSweep(ctx context.Context) {
	every(ctx, botSweepEvery, func() {
		if n, err := s.SweepBot(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep the assistant's conversations", "error", err)
		} else if n > 0 {
			s.log.Info("assistant conversations moved on", "count", n)
		}
	})
}

// every runs fn every d until ctx ends: the sweeps' loop.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// SweepBot hands over the bot conversations still waiting for the
// assistant's answer after botAnswerWithin, and closes those answered and
// idle for botIdleClose; it returns how many it changed. Nodes may sweep at
// once: each change re-checks in its transaction.
func (s *Service) SweepBot(ctx context.Context) (int, error) {
	rows, err := s.store.ListConversations(ctx, desk.ConversationQuery{Statuses: []desk.Status{desk.StatusBot}, Limit: 500})
	if err != nil {
		return 0, err
	}
	now := s.now()
	changed := 0
	for _, r := range rows {
		c := r.Conversation
		if now.Sub(c.UpdatedAt) < botAnswerWithin {
			continue
		}
		answered, err := s.botAnswered(ctx, c.ID)
		if err != nil {
			return changed, err
		}
		switch {
		case !answered:
			if _, err := s.Handover(ctx, Bot, c.ID, HandoverTimeout); err != nil {
				return changed, err
			}
		case now.Sub(c.UpdatedAt) >= botIdleClose:
			if _, err := s.closeIdleBot(ctx, c.ID); err != nil {
				return changed, err
			}
		default:
			continue
		}
		changed++
	}
	return changed, nil
}

// botAnswered reports whether the assistant has written in a conversation.
func (s *Service) botAnswered(ctx context.Context, id string) (bool, error) {
	evs, err := s.store.Events(ctx, id, 0, 200, false)
	if err != nil {
		return false, err
	}
	for _, ev := range evs {
		if ev.Type == desk.EventMessage && ev.Actor.Role == desk.RoleBot {
			return true, nil
		}
		if ev.Type == desk.EventMessage {
			var m desk.Message
			if json.Unmarshal(ev.Data, &m) == nil && m.SenderType == desk.RoleBot {
				return true, nil
			}
		}
	}
	return false, nil
}

// closeIdleBot resolves an answered bot conversation nobody took further.
func (s *Service) closeIdleBot(ctx context.Context, id string) (desk.Conversation, error) {
	return s.update(ctx, Bot, id, func(w *eventWriter, parts []desk.Participant) (bool, error) {
		if w.c.Status != desk.StatusBot || w.now.Sub(w.c.UpdatedAt) < botIdleClose {
			return false, nil
		}
		now := w.now
		w.c.Status, w.c.ResolvedAt = desk.StatusResolved, &now
		w.append(desk.EventResolved, Bot, map[string]any{"by": Bot.ID, "auto": true, "reason": "assistant_idle"}, "")
		return false, nil
	})
}
