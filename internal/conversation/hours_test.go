package conversation_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/calendar"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestOutOfHours: with business hours set, a request on a Saturday is told
// when the desk opens, one during hours with nobody online is told so, and
// the queue position estimates the wait from the pace of recent claims.
func TestOutOfHours(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		cal, err := calendar.New(calendar.Config{Week: "mon-fri 09:00-18:00"})
		if err != nil {
			t.Fatal(err)
		}
		cst := time.FixedZone("CST", 8*3600)
		var clock atomic.Int64
		set := func(t time.Time) { clock.Store(t.UnixNano()) }
		svc := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: bus.NewMemory(func(desk.Event) {}), Hours: cal,
			Now: func() time.Time { return time.Unix(0, clock.Load()) }})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })

		notice := func(who string) map[string]any {
			t.Helper()
			c, _, err := svc.Create(ctx, desk.Principal{Role: desk.RoleEmployee, ID: who}, conversation.NewConversation{Subject: "x", Body: "y", ClientMsgID: who})
			if err != nil {
				t.Fatal(err)
			}
			evs, _ := svc.Events(ctx, desk.Principal{Role: desk.RoleEmployee, ID: who}, c.ID, 0, 10)
			for _, ev := range evs {
				if ev.Type == conversation.EventNotice {
					var d map[string]any
					json.Unmarshal(ev.Data, &d)
					return d
				}
			}
			return nil
		}
		set(time.Date(2026, 12, 5, 10, 0, 0, 0, cst)) // a Saturday
		if d := notice("sat"); d == nil || d["kind"] != "closed" || d["next_open"] != "2026-12-07T01:00:00Z" {
			t.Errorf("on a Saturday: %v, want closed until Monday 09:00 CST", d)
		}
		set(time.Date(2026, 12, 7, 10, 0, 0, 0, cst)) // Monday, nobody online (no presence)
		if d := notice("mon"); d == nil || d["kind"] != "no_agents" {
			t.Errorf("during hours with nobody online: %v", d)
		}

		// Claims every 4 minutes: the third in the queue waits about 12.
		var queued []desk.Conversation
		for i := range 6 {
			c, _, _ := svc.Create(ctx, desk.Principal{Role: desk.RoleEmployee, ID: "q" + string(rune('a'+i))}, conversation.NewConversation{Subject: "x", Body: "y"})
			queued = append(queued, c)
		}
		v, _ := svc.Get(ctx, a1, queued[5].ID)
		if v.EstimatedWait != 0 {
			t.Errorf("an estimate without history: %d s", v.EstimatedWait)
		}
		start := time.Date(2026, 12, 7, 10, 5, 0, 0, cst)
		for i := range 3 {
			set(start.Add(time.Duration(i) * 4 * time.Minute))
			if _, err := svc.Claim(ctx, a1, queued[i].ID); err != nil {
				t.Fatal(err)
			}
		}
		v, _ = svc.Get(ctx, a1, queued[5].ID)
		// Ahead of queued[5]: sat, mon, queued[3], queued[4] → position 5.
		if v.QueuePosition != 5 || v.EstimatedWait != 20*60 {
			t.Errorf("position %d, estimate %d s; want 5 and 1200 s (a claim every 4 minutes)", v.QueuePosition, v.EstimatedWait)
		}
	})
}
