package conversation_test

import (
	"context"
	"testing"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestAdminsListEverything: the "all conversations" list is for admins
// only; it holds every conversation whoever handles it, newest change
// first, and filters by one status.
func TestAdminsListEverything(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		roles, ok := h.db.(interface {
			SetAgentRole(ctx context.Context, id, role string) error
		})
		if !ok {
			t.Fatal("the store keeps no roles")
		}
		if err := roles.SetAgentRole(ctx, "a3", desk.AgentRoleAdmin); err != nil {
			t.Fatal(err)
		}
		queued, open, done := h.create(), h.create(), h.create()
		for _, c := range []desk.Conversation{open, done} {
			if _, err := h.svc.Claim(ctx, a1, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h.svc.Resolve(ctx, a1, done.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Conversations(ctx, a2, conversation.ListAll, "", "", 50); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("a plain agent listed everything: %v", err)
		}
		ids := func(status desk.Status) []string {
			t.Helper()
			page, err := h.svc.Conversations(ctx, a3, conversation.ListAll, status, "", 50)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range page.Conversations {
				out = append(out, c.ID)
			}
			return out
		}
		if got := ids(""); len(got) != 3 || got[0] != done.ID {
			t.Errorf("all: %v, want 3, the resolved one (changed last) first", got)
		}
		for status, want := range map[desk.Status]string{desk.StatusQueued: queued.ID, desk.StatusOpen: open.ID, desk.StatusResolved: done.ID} {
			if got := ids(status); len(got) != 1 || got[0] != want {
				t.Errorf("%s: %v, want %s", status, got, want)
			}
		}
		if _, err := h.svc.Conversations(ctx, a3, conversation.ListAll, "lost", "", 50); desk.ErrorCode(err) != desk.EInvalid {
			t.Errorf("a made-up status: %v", err)
		}
	})
}
