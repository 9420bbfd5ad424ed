package conversation_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/presence"
)

// TestAutomaticRouting: a category routed to an automatic team goes to
// its online members, fewest open first, never past capacity even when
// many arrive at once; with nobody free it waits and is assigned when
// someone is; an away member gets nothing.
func TestAutomaticRouting(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		teams, ok := h.db.(interface {
			SaveTeam(ctx context.Context, t desk.Team) error
		})
		if !ok {
			t.Fatal("the store keeps no teams")
		}
		if err := teams.SaveTeam(ctx, desk.Team{ID: "tm_net", Name: "网络组", Routing: desk.RoutingAuto, Capacity: 2,
			Members: []string{"a1", "a2"}, Categories: []string{"network"}}); err != nil {
			t.Fatal(err)
		}
		b := bus.NewMemory(func(desk.Event) {})
		pres := presence.NewMemory(b, presence.Options{})
		pres.Connected("a1")
		pres.Connected("a2")
		// Two nodes on one database, four writers each: assignments race
		// across writers and across nodes.
		svc := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: b, Presence: pres, Writers: 4})
		node2 := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: b, Presence: pres, Writers: 4})
		runCtx, cancel := context.WithCancel(ctx)
		var running sync.WaitGroup
		for _, n := range []*conversation.Service{svc, node2} {
			running.Go(func() { n.Run(runCtx) })
		}
		t.Cleanup(func() { cancel(); running.Wait() })

		// Five at once for four places, on two nodes.
		convs := make([]desk.Conversation, 5)
		var wg sync.WaitGroup
		for i := range convs {
			wg.Go(func() {
				who := desk.Principal{Role: desk.RoleEmployee, ID: fmt.Sprintf("n%d", i)}
				node := svc
				if i%2 == 1 {
					node = node2
				}
				c, _, err := node.Create(ctx, who, conversation.NewConversation{Subject: "网络断了", Category: "network", Body: "连不上", ClientMsgID: "r"})
				if err != nil {
					t.Error(err)
				}
				convs[i] = c
			})
		}
		wg.Wait()
		load := func() (map[string]int, int) {
			out, queued := map[string]int{}, 0
			for _, c := range convs {
				v, _ := svc.Get(ctx, a3, c.ID) // a3 may read queued ones; others through admin below
				if v.Status == desk.StatusQueued {
					queued++
				}
			}
			for _, a := range []desk.Principal{a1, a2} {
				page, _ := svc.Conversations(ctx, a, conversation.ListAgent, desk.StatusOpen, "", 50)
				out[a.ID] = len(page.Conversations)
			}
			return out, queued
		}
		if l, q := load(); l["a1"] != 2 || l["a2"] != 2 || q != 1 {
			t.Fatalf("after five at once: %v, %d queued; want 2 each and 1 waiting", l, q)
		}
		// Unrouted categories wait for a claim as before.
		other, _, _ := svc.Create(ctx, emp, conversation.NewConversation{Subject: "账号", Category: "account", Body: "锁了"})
		if v, _ := svc.Get(ctx, a3, other.ID); v.Status != desk.StatusQueued {
			t.Errorf("an unrouted category was assigned: %s", v.Status)
		}

		// a2 goes away, a1 resolves one: the waiting one goes to a1.
		if _, _, err := svc.SetPresence(ctx, a2, desk.PresenceAway); err != nil {
			t.Fatal(err)
		}
		page, _ := svc.Conversations(ctx, a2, conversation.ListAgent, desk.StatusOpen, "", 50)
		if _, err := svc.Resolve(ctx, a2, page.Conversations[0].ID); err != nil { // a2 has room now, but is away
			t.Fatal(err)
		}
		if _, err := svc.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		if _, q := load(); q != 1 {
			t.Fatalf("an away agent was given the waiting one (%d still queued)", q)
		}
		// Busy (at the desk, taking nothing new) is no different for routing.
		if _, _, err := svc.SetPresence(ctx, a2, desk.PresenceBusy); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		if _, q := load(); q != 1 {
			t.Fatalf("a busy agent was given the waiting one (%d still queued)", q)
		}
		page, _ = svc.Conversations(ctx, a1, conversation.ListAgent, desk.StatusOpen, "", 50)
		if _, err := svc.Resolve(ctx, a1, page.Conversations[0].ID); err != nil {
			t.Fatal(err)
		}
		// (The dispatcher may already have done it, woken by the resolve.)
		if _, err := svc.Dispatch(ctx); err != nil {
			t.Fatalf("dispatch after a1 resolved: %v", err)
		}
		if l, q := load(); l["a1"] != 2 || q != 0 {
			t.Errorf("after the dispatch: %v, %d queued", l, q)
		}
	})
}
