package conversation_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/sla"
)

// TestServiceLevels: a request's clocks start with it, each change is an
// sla.updated event for agents (never the employee), time alone brings a
// breach, marked once even by two nodes sweeping at once; an answer
// meets a clock, pending pauses them, a priority change retargets them.
func TestServiceLevels(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		type slaDB interface {
			sla.Store
			conversation.SLAStore
			audit.Store
		}
		db := h.db.(slaDB)
		h.db.SetAgentRole(ctx, "a3", desk.AgentRoleAdmin)
		policies := sla.NewService(db, h.db, audit.New(db, nil), nil)
		if _, err := policies.Save(ctx, a3, sla.Policy{Name: "普通", Priority: "normal", FirstResponse: time.Hour, NextResponse: 2 * time.Hour, Resolution: 8 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		if _, err := policies.Save(ctx, a3, sla.Policy{Name: "紧急", Priority: "urgent", FirstResponse: 15 * time.Minute, Resolution: 4 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		if _, err := policies.Save(ctx, a1, sla.Policy{Name: "x", Priority: "low", Resolution: time.Hour}); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("a plain agent saved a policy: %v", err)
		}
		if _, err := policies.Save(ctx, a3, sla.Policy{Name: "重复", Priority: "normal", Resolution: time.Hour}); desk.ErrorCode(err) != desk.EConflict {
			t.Errorf("a second policy for the same priority: %v", err)
		}

		start := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
		var offset atomic.Int64
		now := func() time.Time { return start.Add(time.Duration(offset.Load())) }
		node := func() *conversation.Service {
			svc := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: bus.NewMemory(func(desk.Event) {}),
				Policies: policies, SLAStore: db, Now: now, Writers: 2})
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); svc.Run(runCtx) }()
			t.Cleanup(func() { cancel(); <-done })
			return svc
		}
		one, two := node(), node()

		clocks := func(who desk.Principal, id string) []sla.Clock {
			t.Helper()
			evs, err := one.Events(ctx, who, id, 0, 200)
			if err != nil {
				t.Fatal(err)
			}
			var out []sla.Clock
			for _, ev := range evs {
				if ev.Type == conversation.EventSLA {
					var c sla.Clock
					if err := json.Unmarshal(ev.Data, &c); err != nil {
						t.Fatal(err)
					}
					out = append(out, c)
				}
			}
			return out
		}
		c, _, err := one.Create(ctx, emp, conversation.NewConversation{Subject: "VPN", Category: "network", Body: "连不上"})
		if err != nil {
			t.Fatal(err)
		}
		got := clocks(a1, c.ID)
		if len(got) != 2 || got[0].Kind != sla.FirstResponse || got[0].State != sla.Running || !got[0].DueAt.Equal(start.Add(time.Hour)) ||
			got[1].Kind != sla.Resolution || !got[1].DueAt.Equal(start.Add(8*time.Hour)) {
			t.Fatalf("clocks at the start: %+v", got)
		}
		if len(clocks(emp, c.ID)) != 0 {
			t.Error("the employee sees the clocks")
		}
		if v, err := one.Get(ctx, a1, c.ID); err != nil || len(v.SLA) != 2 || v.SLA[0].Kind != sla.FirstResponse {
			t.Errorf("the agent's view: %+v %v", v.SLA, err)
		}
		if v, _ := one.Get(ctx, emp, c.ID); len(v.SLA) != 0 {
			t.Error("the employee's view has the clocks")
		}
		if page, err := one.Conversations(ctx, a1, conversation.ListQueue, "", "", 10); err != nil || len(page.Conversations) != 1 || len(page.Conversations[0].SLA) != 2 {
			t.Errorf("the queue's clocks: %+v %v", page, err)
		}

		// An hour on, two nodes sweep at once: one breach event.
		offset.Store(int64(time.Hour + time.Second))
		var wg sync.WaitGroup
		for _, n := range []*conversation.Service{one, two} {
			wg.Go(func() {
				if _, err := n.SweepSLA(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if _, err := one.SweepSLA(ctx); err != nil {
			t.Fatal(err)
		}
		breaches := 0
		for _, cl := range clocks(a1, c.ID) {
			if cl.Kind == sla.FirstResponse && cl.Breached && cl.State == sla.Running {
				breaches++
			}
		}
		if breaches != 1 {
			t.Fatalf("%d breach events for one breach", breaches)
		}

		// Claimed and answered: met, late.
		if _, err := one.Claim(ctx, a1, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := one.Send(ctx, a1, c.ID, "请重启客户端", "r1"); err != nil {
			t.Fatal(err)
		}
		last := func(kind string) sla.Clock {
			t.Helper()
			var out sla.Clock
			for _, cl := range clocks(a1, c.ID) {
				if cl.Kind == kind {
					out = cl
				}
			}
			return out
		}
		if fr := last(sla.FirstResponse); fr.State != sla.Met || !fr.Breached {
			t.Errorf("first response after the answer: %+v", fr)
		}
		// The employee asks again: the next-response clock; pending pauses it.
		offset.Store(int64(2 * time.Hour))
		if _, _, err := one.Send(ctx, emp, c.ID, "还是不行", "e2"); err != nil {
			t.Fatal(err)
		}
		if nr := last(sla.NextResponse); nr.State != sla.Running || !nr.DueAt.Equal(start.Add(4*time.Hour)) {
			t.Errorf("next response: %+v", nr)
		}
		if _, err := one.Pend(ctx, a1, c.ID); err != nil {
			t.Fatal(err)
		}
		if nr := last(sla.NextResponse); nr.State != sla.Paused {
			t.Errorf("next response while pending: %+v", nr)
		}
		// Urgent now: the running resolution clock takes the urgent target
		// (4 h, of which 2 h are used by 03:00).
		offset.Store(int64(3 * time.Hour))
		if _, _, err := one.Send(ctx, emp, c.ID, "很急", "e3"); err != nil { // back to open: clocks resume
			t.Fatal(err)
		}
		urgent := "urgent"
		if _, err := one.Update(ctx, a1, c.ID, conversation.Fields{Priority: &urgent}); err != nil {
			t.Fatal(err)
		}
		if res := last(sla.Resolution); res.State != sla.Running || res.Target != 4*time.Hour || !res.DueAt.Equal(start.Add(5*time.Hour)) {
			t.Errorf("resolution after the priority change: %+v (due %s)", res, res.DueAt)
		}
		if _, err := one.Resolve(ctx, a1, c.ID); err != nil {
			t.Fatal(err)
		}
		if res := last(sla.Resolution); res.State != sla.Met || res.Breached {
			t.Errorf("resolution when resolved: %+v", res)
		}
	})
}

// TestEscalations: each escalation of a policy happens once at its moment
// (before or after the breach), even with two nodes sweeping, and is
// recorded for agents: the assignee told, the team's lead called in, the
// priority raised (and the clocks retargeted), the conversation put back
// in the queue.
func TestEscalations(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		type slaDB interface {
			sla.Store
			conversation.SLAStore
			audit.Store
			SaveTeam(ctx context.Context, t desk.Team) error
		}
		db := h.db.(slaDB)
		if err := db.SaveTeam(ctx, desk.Team{ID: "tm_net", Name: "网络组", Routing: desk.RoutingManual, Capacity: 5,
			Members: []string{"a1"}, Categories: []string{"network"}, LeadID: "a2"}); err != nil {
			t.Fatal(err)
		}
		h.db.SetAgentRole(ctx, "a3", desk.AgentRoleAdmin)
		policies := sla.NewService(db, h.db, audit.New(db, nil), nil)
		esc := []sla.Escalation{
			{Clock: sla.Resolution, Offset: -30 * time.Minute, Action: sla.NotifyAssignee},
			{Clock: sla.Resolution, Offset: 0, Action: sla.NotifyLead},
			{Clock: sla.Resolution, Offset: 10 * time.Minute, Action: sla.RaisePriority},
			{Clock: sla.Resolution, Offset: 20 * time.Minute, Action: sla.Requeue},
		}
		if _, err := policies.Save(ctx, a3, sla.Policy{Name: "普通", Priority: "normal", Resolution: 2 * time.Hour, Escalations: esc}); err != nil {
			t.Fatal(err)
		}
		if _, err := policies.Save(ctx, a3, sla.Policy{Name: "高", Priority: "high", Resolution: 3 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		if _, err := policies.Save(ctx, a3, sla.Policy{Name: "坏", Priority: "low", Resolution: time.Hour,
			Escalations: []sla.Escalation{{Clock: sla.FirstResponse, Action: sla.Requeue}}}); desk.ErrorCode(err) != desk.EInvalid {
			t.Errorf("an escalation on a clock without a target: %v", err)
		}

		start := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
		var offset atomic.Int64
		now := func() time.Time { return start.Add(time.Duration(offset.Load())) }
		node := func() *conversation.Service {
			svc := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: bus.NewMemory(func(desk.Event) {}),
				Policies: policies, SLAStore: db, Now: now, Writers: 2})
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); svc.Run(runCtx) }()
			t.Cleanup(func() { cancel(); <-done })
			return svc
		}
		one, two := node(), node()
		c, _, err := one.Create(ctx, emp, conversation.NewConversation{Subject: "交换机", Category: "network", Body: "三楼断网"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := one.Claim(ctx, a1, c.ID); err != nil {
			t.Fatal(err)
		}
		sweep := func(at time.Duration) {
			t.Helper()
			offset.Store(int64(at))
			var wg sync.WaitGroup
			for _, n := range []*conversation.Service{one, two, one} {
				wg.Go(func() {
					if _, err := n.SweepSLA(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
		escalated := func() []string {
			t.Helper()
			evs, _ := one.Events(ctx, a3, c.ID, 0, 500)
			var out []string
			for _, ev := range evs {
				if ev.Type == conversation.EventEscalated {
					var d struct {
						Action  string
						AgentID string `json:"agent_id"`
					}
					json.Unmarshal(ev.Data, &d)
					out = append(out, d.Action+":"+d.AgentID)
				}
			}
			return out
		}
		sweep(89 * time.Minute)
		if got := escalated(); len(got) != 0 {
			t.Fatalf("escalated early: %v", got)
		}
		sweep(90 * time.Minute)
		sweep(91 * time.Minute)
		if got := escalated(); len(got) != 1 || got[0] != "notify_assignee:a1" {
			t.Fatalf("30 minutes before the breach: %v", got)
		}
		sweep(2 * time.Hour)
		if got := escalated(); len(got) != 2 || got[1] != "notify_lead:a2" {
			t.Fatalf("at the breach: %v", got)
		}
		if _, err := one.Get(ctx, a2, c.ID); err != nil {
			t.Errorf("the lead called in cannot read it: %v", err)
		}
		// Raised to high: the high policy's 3 h apply, so the requeue of the
		// normal policy never comes.
		sweep(2*time.Hour + 10*time.Minute)
		v, _ := one.Get(ctx, a1, c.ID)
		if got := escalated(); len(got) != 3 || v.Priority != "high" {
			t.Fatalf("after the raise: %v, priority %s", got, v.Priority)
		}
		if res := v.SLA[len(v.SLA)-1]; res.Kind != sla.Resolution || res.Target != 3*time.Hour || !res.DueAt.Equal(start.Add(3*time.Hour)) {
			t.Errorf("the resolution clock under the high policy: %+v", res)
		}
		sweep(2*time.Hour + 30*time.Minute)
		if got := escalated(); len(got) != 3 {
			t.Fatalf("escalations of a policy no longer applying: %v", got)
		}

		// A requeue, under a policy that has one right at the breach.
		if _, err := policies.Save(ctx, a3, sla.Policy{ID: "", Name: "紧急", Priority: "urgent", Resolution: time.Hour,
			Escalations: []sla.Escalation{{Clock: sla.Resolution, Action: sla.Requeue}}}); err != nil {
			t.Fatal(err)
		}
		urgent := "urgent"
		if _, err := one.Update(ctx, a1, c.ID, conversation.Fields{Priority: &urgent}); err != nil {
			t.Fatal(err)
		}
		sweep(4 * time.Hour)
		v, _ = one.Get(ctx, a1, c.ID)
		if got := escalated(); len(got) != 4 || got[3] != "requeue:a1" || v.Status != desk.StatusQueued || v.AssigneeID != "" {
			t.Fatalf("requeue: %v, status %s, assignee %q", got, v.Status, v.AssigneeID)
		}
	})
}
