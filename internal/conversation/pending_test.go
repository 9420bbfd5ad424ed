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

// TestPendingResolvesItself: waiting on the employee for three days
// without news, the conversation is resolved, after a warning the day
// before; an answer meanwhile starts the count again.
func TestPendingResolvesItself(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		var offset atomic.Int64
		day := func(n float64) { offset.Store(int64(n * float64(24*time.Hour))) }
		svc := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: bus.NewMemory(func(desk.Event) {}), PendingResolveDays: 3,
			Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })

		c, _, _ := svc.Create(ctx, emp, conversation.NewConversation{Subject: "x", Body: "y"})
		svc.Claim(ctx, a1, c.ID)
		svc.Pend(ctx, a1, c.ID)
		notices := func() int {
			evs, _ := svc.Events(ctx, emp, c.ID, 0, 100)
			n := 0
			for _, ev := range evs {
				var d struct{ Kind string }
				json.Unmarshal(ev.Data, &d)
				if ev.Type == conversation.EventNotice && d.Kind == "auto_resolve" {
					n++
				}
			}
			return n
		}
		status := func() desk.Status { v, _ := svc.Get(ctx, a1, c.ID); return v.Status }

		day(1.1)
		if n, _ := svc.SweepPending(ctx); n != 0 || notices() != 0 {
			t.Fatalf("a day in: resolved %d, warned %d", n, notices())
		}
		day(2.1)
		svc.SweepPending(ctx)
		svc.SweepPending(ctx) // a second node, or the next round: no second warning
		if notices() != 1 || status() != desk.StatusPending {
			t.Fatalf("two days in: %d warnings, status %s", notices(), status())
		}
		// The employee answers: open again; pending again later, the count restarts.
		svc.Send(ctx, emp, c.ID, "还没好", "")
		svc.Pend(ctx, a1, c.ID)
		day(3.2)
		if n, _ := svc.SweepPending(ctx); n != 0 || status() != desk.StatusPending {
			t.Fatalf("after the answer the old count resolved it: %d %s", n, status())
		}
		day(5.2) // three days after the new wait began
		if n, err := svc.SweepPending(ctx); n != 1 || err != nil || status() != desk.StatusResolved {
			t.Fatalf("three days without news: resolved %d (%v), status %s", n, err, status())
		}
		evs, _ := svc.Events(ctx, emp, c.ID, 0, 100)
		var last struct {
			Auto bool `json:"auto"`
		}
		json.Unmarshal(evs[len(evs)-1].Data, &last)
		if evs[len(evs)-1].Type != desk.EventResolved || !last.Auto {
			t.Errorf("the last event %s %s, want an automatic resolution", evs[len(evs)-1].Type, evs[len(evs)-1].Data)
		}
	})
}
