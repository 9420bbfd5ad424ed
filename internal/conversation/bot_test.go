package conversation_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestAssistantAnswersFirst: a request the assistant answers first waits
// outside the queue; its answer is a bot message with the articles it
// cites; 转人工 puts it in the queue at the place it had when asked, ahead
// of one asked later; an answer that comes after the hand-off is refused.
func TestAssistantAnswersFirst(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		svc := h.svc
		c, _, err := svc.Create(ctx, emp, conversation.NewConversation{Subject: "VPN 连不上", Body: "一直超时", Assistant: true})
		if err != nil || c.Status != desk.StatusBot || c.QueuedAt != nil {
			t.Fatalf("create: %+v %v, want status bot and not queued", c, err)
		}
		later, _, _ := svc.Create(ctx, desk.Principal{Role: desk.RoleEmployee, ID: "e2"}, conversation.NewConversation{Subject: "打印机", Body: "脱机"})
		if q := queueIDs(t, svc); len(q) != 1 || q[0] != later.ID {
			t.Fatalf("queue %v: the assistant's conversation must not be in it", q)
		}
		if p, err := svc.Conversations(ctx, a1, conversation.ListQueue, desk.StatusBot, "", 10); err != nil || len(p.Conversations) != 1 || p.Conversations[0].ID != c.ID {
			t.Fatalf("agents' bot list: %+v %v", p, err)
		}

		ev, err := svc.BotReply(ctx, c.ID, "请先重启 VPN 客户端 [1]", []desk.ArticleRef{{ID: "kb_1", Title: "VPN 连不上怎么办"}}, "assistant-1")
		if err != nil {
			t.Fatal(err)
		}
		var m desk.Message
		json.Unmarshal(ev.Data, &m)
		if m.SenderType != desk.RoleBot || m.SenderName != conversation.BotName || len(m.Articles) != 1 || m.Articles[0].ID != "kb_1" {
			t.Fatalf("bot message %s", ev.Data)
		}
		if again, err := svc.BotReply(ctx, c.ID, "请先重启 VPN 客户端 [1]", nil, "assistant-1"); err != nil || again.Seq != ev.Seq {
			t.Fatalf("a retried answer: seq %d %v, want %d", again.Seq, err, ev.Seq)
		}
		evs, _ := svc.Events(ctx, emp, c.ID, 0, 100)
		if last := evs[len(evs)-1]; last.Seq != ev.Seq {
			t.Fatalf("the employee's view ends at %d %s, want the answer", last.Seq, last.Type)
		}

		got, err := svc.Handover(ctx, emp, c.ID, conversation.HandoverAsked)
		if err != nil || got.Status != desk.StatusQueued || got.QueuedAt == nil || got.QueuedAt.Sub(c.CreatedAt).Abs() > time.Millisecond {
			t.Fatalf("handover: %+v %v, want queued since it was asked", got, err)
		}
		if q := queueIDs(t, svc); len(q) != 2 || q[0] != c.ID {
			t.Fatalf("queue %v: the handed-over request comes first, asked first", q)
		}
		if _, err := svc.BotReply(ctx, c.ID, "迟到的回答", nil, "assistant-2"); desk.ErrorCode(err) != desk.EConflict {
			t.Fatalf("an answer after the hand-off: %v, want conflict", err)
		}
		if again, err := svc.Handover(ctx, emp, c.ID, conversation.HandoverAsked); err != nil || again.Status != desk.StatusQueued {
			t.Fatalf("a second 转人工: %+v %v", again, err)
		}
		evs, _ = svc.Events(ctx, a1, c.ID, 0, 100)
		handed := 0
		for _, ev := range evs {
			if ev.Type == desk.EventHandedOver {
				handed++
			}
		}
		if handed != 1 {
			t.Fatalf("%d handed_over events, want 1", handed)
		}
		if _, err := svc.Handover(ctx, a1, c.ID, conversation.HandoverAsked); desk.ErrorCode(err) != desk.EForbidden {
			t.Fatalf("an agent handing over: %v, want forbidden", err)
		}
	})
}

// TestAssistantHandsOverWhenTheEmployeeWrites: writing again is asking for
// a person; an agent may also take a request straight from the assistant.
func TestAssistantHandsOverWhenTheEmployeeWrites(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		svc := h.svc
		c, _, _ := svc.Create(ctx, emp, conversation.NewConversation{Subject: "邮箱", Body: "手机收不到", Assistant: true})
		if _, _, err := svc.Send(ctx, emp, c.ID, "还是不行", "m2"); err != nil {
			t.Fatal(err)
		}
		if v, _ := svc.Get(ctx, a1, c.ID); v.Status != desk.StatusQueued {
			t.Fatalf("after the employee wrote: %s, want queued", v.Status)
		}

		d, _, _ := svc.Create(ctx, emp, conversation.NewConversation{Subject: "Wi-Fi", Body: "连不上", Assistant: true})
		got, err := svc.Claim(ctx, a2, d.ID)
		if err != nil || got.Status != desk.StatusOpen || got.AssigneeID != "a2" {
			t.Fatalf("claim from the assistant: %+v %v", got, err)
		}
		if _, err := svc.BotReply(ctx, d.ID, "x", nil, ""); desk.ErrorCode(err) != desk.EConflict {
			t.Fatalf("an answer after the claim: %v, want conflict", err)
		}
	})
}

// TestAssistantSweep: a request the assistant never answered (its node
// died) reaches the queue; one answered and left alone for a day closes.
func TestAssistantSweep(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		var offset atomic.Int64
		svc := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: bus.NewMemory(func(desk.Event) {}),
			Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })

		lost, _, _ := svc.Create(ctx, emp, conversation.NewConversation{Subject: "a", Body: "b", Assistant: true})
		answered, _, _ := svc.Create(ctx, emp, conversation.NewConversation{Subject: "c", Body: "d", Assistant: true})
		if _, err := svc.BotReply(ctx, answered.ID, "答案", nil, ""); err != nil {
			t.Fatal(err)
		}
		status := func(id string) desk.Status { v, _ := svc.Get(ctx, emp, id); return v.Status }
		if n, err := svc.SweepBot(ctx); n != 0 || err != nil {
			t.Fatalf("at once: %d changed (%v)", n, err)
		}
		offset.Store(int64(3 * time.Minute))
		if n, err := svc.SweepBot(ctx); n != 1 || err != nil || status(lost.ID) != desk.StatusQueued || status(answered.ID) != desk.StatusBot {
			t.Fatalf("three minutes on: %d changed (%v); unanswered %s, answered %s", n, err, status(lost.ID), status(answered.ID))
		}
		offset.Store(int64(25 * time.Hour))
		if n, err := svc.SweepBot(ctx); n != 1 || err != nil || status(answered.ID) != desk.StatusResolved {
			t.Fatalf("a day on: %d changed (%v); answered %s", n, err, status(answered.ID))
		}
	})
}

func queueIDs(t *testing.T, svc *conversation.Service) []string {
	t.Helper()
	p, err := svc.Conversations(context.Background(), a1, conversation.ListQueue, "", "", 50)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range p.Conversations {
		ids = append(ids, c.ID)
	}
	return ids
}
