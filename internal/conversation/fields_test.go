package conversation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

func ptrTo[T any](v T) *T { return &v }

// TestReferenceNumbers: every conversation gets the next number of its
// year, once, even when many are opened at once on several writers.
func TestReferenceNumbers(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		const n = 12
		refs := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				who := desk.Principal{Role: desk.RoleEmployee, ID: fmt.Sprintf("e%d", i)}
				c, _, err := h.svc.Create(context.Background(), who, conversation.NewConversation{Subject: "打印机", Body: "脱机", ClientMsgID: "r"})
				if err != nil {
					t.Error(err)
					return
				}
				refs[i] = c.Ref
			})
		}
		wg.Wait()
		year := time.Now().In(time.FixedZone("CST", 8*3600)).Year()
		seen := map[string]bool{}
		for _, r := range refs {
			if !regexp.MustCompile(fmt.Sprintf(`^IT-%d-0000(0[1-9]|1[0-2])$`, year)).MatchString(r) || seen[r] {
				t.Errorf("reference numbers %v: want IT-%d-000001 … 000012, each once", refs, year)
				break
			}
			seen[r] = true
		}
		v, err := h.svc.Get(context.Background(), a1, h.create().ID)
		if err != nil || v.Ref != fmt.Sprintf("IT-%d-%06d", year, n+1) || v.Priority != "normal" || v.Type != "incident" {
			t.Errorf("the next one: %+v %v", v.Conversation, err)
		}
	})
}

// TestFieldsAreTheDesksOwn: agents set priority, type and tags (anyone
// while queued, participants after); the employee sees none of it.
func TestFieldsAreTheDesksOwn(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.create()
		got, err := h.svc.Update(ctx, a2, c.ID, conversation.Fields{Priority: ptrTo("urgent"), Tags: &[]string{" VPN ", "vpn", "VPN", "远程办公"}})
		if err != nil || got.Priority != "urgent" || fmt.Sprint(got.Tags) != "[VPN vpn 远程办公]" {
			t.Fatalf("triage in the queue: %+v %v", got, err)
		}
		for _, bad := range []conversation.Fields{
			{Priority: ptrTo("asap")}, {Type: ptrTo("question")}, {Tags: &[]string{"a,b"}},
			{Tags: &[]string{"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三"}},
		} {
			_, err := h.svc.Update(ctx, a2, c.ID, bad)
			wantCode(t, err, desk.EInvalid)
		}
		_, err = h.svc.Update(ctx, emp, c.ID, conversation.Fields{Priority: ptrTo("low")})
		wantCode(t, err, desk.EForbidden)
		if _, err := h.svc.Claim(ctx, a1, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Update(ctx, a2, c.ID, conversation.Fields{Type: ptrTo("request")})
		wantCode(t, err, desk.EForbidden) // claimed by a1: a2 is not in it
		if _, err := h.svc.Update(ctx, a1, c.ID, conversation.Fields{Type: ptrTo("request")}); err != nil {
			t.Fatal(err)
		}
		if tags, err := h.svc.TagSuggestions(ctx, a3); err != nil || fmt.Sprint(tags) != "[VPN vpn 远程办公]" {
			t.Errorf("tag suggestions %v %v", tags, err)
		}
		_, err = h.svc.TagSuggestions(ctx, emp)
		wantCode(t, err, desk.EForbidden)
		mine, err := h.svc.Get(ctx, emp, c.ID)
		if err != nil || mine.Priority != "" || mine.Type != "" || mine.Tags != nil || mine.Ref == "" {
			t.Errorf("the employee's view: %+v", mine.Conversation)
		}
		evs, _ := h.svc.Events(ctx, emp, c.ID, 0, 100)
		for _, ev := range evs {
			if ev.Type == desk.EventUpdated {
				t.Error("the employee sees a field change")
			}
		}
		evs, _ = h.svc.Events(ctx, a1, c.ID, 0, 100)
		var changes []map[string]any
		for _, ev := range evs {
			if ev.Type == desk.EventUpdated {
				var d map[string]any
				json.Unmarshal(ev.Data, &d)
				changes = append(changes, d)
			}
		}
		if len(changes) != 2 || changes[0]["priority"] != "urgent" || changes[1]["type"] != "request" || changes[1]["by"] != "a1" {
			t.Errorf("field events %v", changes)
		}
	})
}

// TestPendingAndWithdrawn: the assignee waits for the employee, whose
// answer opens the conversation again; an employee may close their own.
func TestPendingAndWithdrawn(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.create()
		_, err := h.svc.Pend(ctx, a1, c.ID)
		wantCode(t, err, desk.EForbidden) // not claimed
		h.svc.Claim(ctx, a1, c.ID)
		if got, err := h.svc.Pend(ctx, a1, c.ID); err != nil || got.Status != desk.StatusPending {
			t.Fatalf("pend: %+v %v", got, err)
		}
		page, err := h.svc.Conversations(ctx, a1, conversation.ListAgent, desk.StatusOpen, "", 10)
		if err != nil || len(page.Conversations) != 1 {
			t.Errorf("a pending conversation is not in the agent's open list: %+v %v", page, err)
		}
		// The agent may still write while waiting; the employee's answer reopens.
		h.svc.Send(ctx, a1, c.ID, "请问是哪台电脑？", "")
		if v, _ := h.svc.Get(ctx, a1, c.ID); v.Status != desk.StatusPending {
			t.Errorf("after the agent's message: %s", v.Status)
		}
		h.svc.Send(ctx, emp, c.ID, "ThinkPad X1", "")
		if v, _ := h.svc.Get(ctx, a1, c.ID); v.Status != desk.StatusOpen || v.AssigneeID != "a1" {
			t.Errorf("after the employee's answer: %s, assignee %s", v.Status, v.AssigneeID)
		}
		h.svc.Pend(ctx, a1, c.ID)
		if got, err := h.svc.Resolve(ctx, a1, c.ID); err != nil || got.Status != desk.StatusResolved {
			t.Errorf("resolving a pending conversation: %+v %v", got, err)
		}

		// Withdrawing: from the queue, once, and only one's own.
		q := h.create()
		other := desk.Principal{Role: desk.RoleEmployee, ID: "e2"}
		_, err = h.svc.Withdraw(ctx, other, q.ID)
		wantCode(t, err, desk.ENotFound)
		_, err = h.svc.Withdraw(ctx, a1, q.ID)
		wantCode(t, err, desk.EForbidden)
		if got, err := h.svc.Withdraw(ctx, emp, q.ID); err != nil || got.Status != desk.StatusResolved {
			t.Fatalf("withdraw: %+v %v", got, err)
		}
		_, err = h.svc.Withdraw(ctx, emp, q.ID)
		wantCode(t, err, desk.EConflict)
		queue, _ := h.svc.Conversations(ctx, a1, conversation.ListQueue, "", "", 10)
		for _, x := range queue.Conversations {
			if x.ID == q.ID {
				t.Error("a withdrawn request is still in the queue")
			}
		}
		evs, _ := h.svc.Events(ctx, emp, q.ID, 0, 100)
		if last := evs[len(evs)-1]; last.Type != desk.EventWithdrawn {
			t.Errorf("last event %s, want %s", last.Type, desk.EventWithdrawn)
		}
	})
}
