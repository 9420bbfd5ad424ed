package conversation_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestMentions: @username in a note names an agent, who is sent the note
// and may read the conversation from then on; an e-mail address, an
// unknown name and the author themselves name nobody.
func TestMentions(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.claimed(a1)
		if _, err := h.svc.Get(ctx, a2, c.ID); desk.ErrorCode(err) != desk.EForbidden {
			t.Fatalf("a2 reads it before any mention: %v", err)
		}
		ev, err := h.svc.Note(ctx, a1, c.ID, "@a2 请看一下这个证书问题。抄送 boss@a3.com，@nobody 和 @a1 自己")
		if err != nil {
			t.Fatal(err)
		}
		var m desk.Message
		json.Unmarshal(ev.Data, &m)
		if !slices.Equal(m.Mentions, []string{"a2"}) {
			t.Errorf("mentions %v, want [a2]", m.Mentions)
		}
		if _, err := h.svc.Get(ctx, a2, c.ID); err != nil {
			t.Errorf("the mentioned agent cannot read it: %v", err)
		}
		if _, err := h.svc.Get(ctx, a3, c.ID); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("an e-mail address let a3 in: %v", err)
		}
		if _, err := h.svc.Note(ctx, a2, c.ID, "我来看看"); desk.ErrorCode(err) == "" {
			t.Error("a mentioned agent wrote a note without joining")
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		told := false
		for _, e := range h.sent {
			var f struct{ Type desk.EventType }
			json.Unmarshal(e.Frame, &f)
			if e.ConversationID == c.ID && f.Type == desk.EventNote && e.To.Kind == desk.ToUsers && slices.Contains(e.To.Users, a2) {
				told = true
			}
		}
		if !told {
			t.Error("the note was not sent to the mentioned agent")
		}
	})
}
