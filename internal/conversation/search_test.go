package conversation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestSearch: Chinese found by substring (one, two, three characters),
// Latin words by prefix, the reference number; only what the agent may
// read unless they are an admin; filters; paging.
func TestSearch(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		mine := h.create() // subject 邮箱登不上, first message 密码过期了
		h.svc.Claim(ctx, a1, mine.ID)
		h.svc.Send(ctx, emp, mine.ID, "打印机脱机了，GlobalProtect 也连不上", "")
		h.svc.Note(ctx, a1, mine.ID, "AD 账号被锁定")
		h.svc.Update(ctx, a1, mine.ID, conversation.Fields{Priority: ptrTo("high"), Tags: &[]string{"打印"}})
		other := h.create()
		h.svc.Claim(ctx, a2, other.ID)
		h.svc.Send(ctx, a2, other.ID, "请重启打印机", "")
		queued := h.create()
		h.svc.Send(ctx, emp, queued.ID, "网络很慢", "")

		find := func(who desk.Principal, p conversation.SearchParams) []string {
			t.Helper()
			page, err := h.svc.Search(ctx, who, p)
			if err != nil {
				t.Fatalf("search %q: %v", p.Q, err)
			}
			var out []string
			for _, r := range page.Results {
				out = append(out, fmt.Sprintf("%s:%d:%s", short(r.Conversation.ID, mine, other, queued), r.Seq, r.Kind))
			}
			return out
		}
		cases := []struct {
			q    string
			want string
		}{
			{"打印机", "mine:msg"},                   // a1 is not in "other"
			{"印", "mine:msg"},                     // one character
			{"脱机", "mine:msg"},                    // two
			{"global", "mine:msg"},                // a Latin prefix
			{"globalprotect 连不上", "mine:msg"},     // both must occur
			{"锁定", "mine:note"},                   // notes are found by agents
			{"邮箱", "queued:subject,mine:subject"}, // subjects, newest first; queued ones are anyone's, a2's are not a1's
			{"网络", "queued:msg"},
			{"不存在的词", ""},
		}
		for _, c := range cases {
			got := strings.Join(kinds(find(a1, conversation.SearchParams{Q: c.q})), ",")
			if got != c.want {
				t.Errorf("a1 searching %q: %s, want %s", c.q, got, c.want)
			}
		}
		if got := kinds(find(a1, conversation.SearchParams{Q: mine.Ref})); len(got) != 1 || got[0] != "mine:subject" {
			t.Errorf("by reference %s: %v", mine.Ref, got)
		}
		h.db.SetAgentRole(ctx, "a3", desk.AgentRoleAdmin)
		if got := strings.Join(kinds(find(a3, conversation.SearchParams{Q: "打印机"})), ","); got != "other:msg,mine:msg" {
			t.Errorf("an admin searching: %s", got)
		}
		// An admin opens what they found; a plain agent may not.
		if _, err := h.svc.Get(ctx, a3, other.ID); err != nil {
			t.Errorf("an admin reading another's conversation: %v", err)
		}
		_, err := h.svc.Get(ctx, a1, other.ID)
		wantCode(t, err, desk.EForbidden)
		// Filters.
		for _, c := range []struct {
			p    conversation.SearchParams
			want string
		}{
			{conversation.SearchParams{Q: "邮箱", Statuses: []desk.Status{desk.StatusQueued}}, "queued:subject"},
			{conversation.SearchParams{Q: "邮箱", Priority: "high"}, "mine:subject"},
			{conversation.SearchParams{Q: "邮箱", Tag: "打印"}, "mine:subject"},
			{conversation.SearchParams{Q: "邮箱", AssigneeID: "a2"}, "other:subject"},
		} {
			if got := strings.Join(kinds(find(a3, c.p)), ","); got != c.want {
				t.Errorf("filtered %+v: %s, want %s", c.p, got, c.want)
			}
		}
		// Paging, newest first.
		page, _ := h.svc.Search(ctx, a3, conversation.SearchParams{Q: "邮箱", Limit: 2})
		if len(page.Results) != 2 || page.NextCursor == "" {
			t.Fatalf("first page %+v", page)
		}
		rest, _ := h.svc.Search(ctx, a3, conversation.SearchParams{Q: "邮箱", Limit: 2, Cursor: page.NextCursor})
		if len(rest.Results) != 1 || rest.Results[0].Conversation.ID != mine.ID {
			t.Errorf("second page %+v", rest)
		}
		// The match in context.
		page, _ = h.svc.Search(ctx, a1, conversation.SearchParams{Q: "脱机"})
		if sn := page.Results[0].Snippet; string([]rune(sn.Text)[sn.Start:sn.End]) != "脱机" {
			t.Errorf("snippet %+v", sn)
		}
		_, err = h.svc.Search(ctx, emp, conversation.SearchParams{Q: "邮箱"})
		wantCode(t, err, desk.EForbidden)
		_, err = h.svc.Search(ctx, a1, conversation.SearchParams{Q: " 。，"})
		wantCode(t, err, desk.EInvalid)
	})
}

func short(id string, mine, other, queued desk.Conversation) string {
	switch id {
	case mine.ID:
		return "mine"
	case other.ID:
		return "other"
	case queued.ID:
		return "queued"
	}
	return id
}

// kinds drops the seq: "mine:3:message" → "mine:msg".
func kinds(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		parts := strings.Split(s, ":")
		k := parts[2]
		if k == "message" {
			k = "msg"
		}
		out[i] = parts[0] + ":" + k
	}
	return out
}
