package conversation_test

import (
	"context"
	"strings"
	"testing"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestCategoriesAreTheAdmins: a request takes its category's default
// priority; a retired or unknown category is refused for new requests,
// while a conversation filed under it before stays readable.
func TestCategoriesAreTheAdmins(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		cats, ok := h.db.(interface {
			SaveCategory(ctx context.Context, c desk.Category) error
		})
		if !ok {
			t.Fatal("the store keeps no categories")
		}
		if err := cats.SaveCategory(ctx, desk.Category{Key: "print", NameZH: "打印机", DefaultPriority: "high", Active: true}); err != nil {
			t.Fatal(err)
		}
		svc, agent := h.svc, a1
		c, _, err := svc.Create(ctx, emp, conversation.NewConversation{Subject: "打印机脱机", Category: "print", Body: "又脱机了"})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := svc.Get(ctx, agent, c.ID); err != nil || v.Priority != "high" {
			t.Fatalf("priority %q (%v), want the category's default high", v.Priority, err)
		}
		if v, _ := svc.Get(ctx, agent, mustCreate(t, svc, "network").ID); v.Priority != "normal" {
			t.Errorf("a category without a default gave priority %q, want normal", v.Priority)
		}
		if err := cats.SaveCategory(ctx, desk.Category{Key: "print", NameZH: "打印机", Active: false}); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"print", "coffee", "Bad Key"} {
			_, _, err := svc.Create(ctx, emp, conversation.NewConversation{Subject: "还是打印机", Category: key, Body: "…"})
			if desk.ErrorCode(err) != desk.EInvalid {
				t.Errorf("a request under %q: %v, want %s", key, err, desk.EInvalid)
			}
		}
		if v, err := svc.Get(ctx, emp, c.ID); err != nil || v.Category != "print" {
			t.Errorf("the old conversation under a retired category: %+v %v", v, err)
		}

		// The articles read before asking anyway ride on the created event.
		seen, _, err := svc.Create(ctx, emp, conversation.NewConversation{Subject: "VPN", Category: "network", Body: "还是不行", Articles: []string{"kb_1", "kb_2"}})
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := svc.Events(ctx, agent, seen.ID, 0, 5)
		if len(evs) == 0 || !strings.Contains(string(evs[0].Data), `"articles":["kb_1","kb_2"]`) {
			t.Errorf("created event %s", evs[0].Data)
		}
		_, _, err = svc.Create(ctx, emp, conversation.NewConversation{Subject: "x", Category: "network", Body: "y", Articles: []string{"<script>"}})
		if desk.ErrorCode(err) != desk.EInvalid {
			t.Errorf("a made-up article id: %v", err)
		}
	})
}

func mustCreate(t *testing.T, svc *conversation.Service, category string) desk.Conversation {
	t.Helper()
	c, _, err := svc.Create(context.Background(), emp, conversation.NewConversation{Subject: "求助", Category: category, Body: "你好"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
