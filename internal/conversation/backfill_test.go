package conversation_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestSearchBackfill: conversations stored before search existed are
// indexed once, by one node.
func TestSearchBackfill(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		// What a desk upgraded from before search looks like: data written
		// straight to the store, nothing indexed.
		now := time.Now().UTC()
		msg, _ := json.Marshal(desk.Message{ID: "cv_old00000000000001:2", Body: "请更新网卡驱动", SenderType: desk.RoleAgent, SenderID: "a1", CreatedAt: now})
		err := h.db.Update(ctx, func(tx desk.ConversationTx) error {
			c := desk.Conversation{ID: "cv_old00000000000001", EmployeeID: "e1", Subject: "邮箱登不上", Category: "account",
				Status: desk.StatusOpen, AssigneeID: "a1", Seq: 2, CreatedAt: now, UpdatedAt: now, Priority: "normal", Type: "incident"}
			if err := tx.CreateConversation(ctx, c); err != nil {
				return err
			}
			if err := tx.SaveParticipant(ctx, c.ID, desk.Participant{Role: desk.RoleAgent, ID: "a1", Active: true, JoinedAt: now}); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, desk.ConvEvent{ConversationID: c.ID, Seq: 1, Type: desk.EventCreated, Data: []byte("{}"), CreatedAt: now}); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, desk.ConvEvent{ConversationID: c.ID, Seq: 2, Type: desk.EventMessage, Data: msg, Actor: a1, CreatedAt: now})
		})
		if err != nil {
			t.Fatal(err)
		}
		src := h.db.(conversation.BackfillSource)
		svc := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: bus.NewMemory(func(desk.Event) {}), SearchBackfill: src})
		other := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: bus.NewMemory(func(desk.Event) {}), SearchBackfill: src})
		n, err := svc.BackfillSearch(ctx)
		if err != nil || n != 1 {
			t.Fatalf("backfill: %d %v", n, err)
		}
		if m, _ := other.BackfillSearch(ctx); m != 0 {
			t.Errorf("a second node indexed %d again", m)
		}
		page, err := h.svc.Search(ctx, a1, conversation.SearchParams{Q: "网卡驱动"})
		if err != nil || len(page.Results) != 1 {
			t.Fatalf("after the backfill: %+v %v", page, err)
		}
		if page, _ := h.svc.Search(ctx, a1, conversation.SearchParams{Q: "邮箱"}); len(page.Results) != 1 || page.Results[0].Kind != "subject" {
			t.Errorf("the subject line: %+v", page.Results)
		}
	})
}
