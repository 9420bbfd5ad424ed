package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/assistant"
	"github.com/servicedesk/servicedesk/internal/assistant/assistantfake"
	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/firstline"
	"github.com/servicedesk/servicedesk/internal/kb"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

const llmKey = "sk-live-assistant-key-0123456789"

// TestAssistantOverHTTP: with a model configured, a new request is
// answered by the assistant first (status bot, a bot message citing the
// article), 转人工 puts it in the queue, an agent reviews the prompt and
// gets a draft streamed as Server-Sent Events; the key is never in a
// response or a log line.
func TestAssistantOverHTTP(t *testing.T) {
	fake := assistantfake.New(llmKey)
	t.Cleanup(fake.Close)
	var fl *firstline.Service
	cs := newConvServerDB(t, func(api *API, db *sqlite.DB) {
		ctx := context.Background()
		if err := db.CreateAgent(ctx, desk.Agent{ID: admin, Username: "boss", Name: "Boss", PasswordHash: "x", Role: desk.AgentRoleAdmin}); err != nil {
			t.Fatal(err)
		}
		k, err := kb.New(kb.Config{Store: db, Agents: db, Audit: audit.New(db, nil), Log: api.Log})
		if err != nil {
			t.Fatal(err)
		}
		boss := desk.Principal{Role: desk.RoleAgent, ID: admin}
		art, err := k.Create(ctx, boss, kb.Content{Title: "VPN 连不上怎么办", Body: "打开「设置」，重新连接 VPN。", Category: "network"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Publish(ctx, boss, art.ID); err != nil {
			t.Fatal(err)
		}
		client, err := assistant.New(assistant.Config{BaseURL: fake.BaseURL(), Model: "deepseek-chat", APIKey: llmKey})
		if err != nil {
			t.Fatal(err)
		}
		fl = firstline.New(firstline.Config{Model: client, Desk: api.Conversations, Articles: k, Store: db,
			Bus: bus.NewMemory(func(desk.Event) {}), Log: api.Log})
		api.KB, api.Assistant = k, fl
	})
	t.Cleanup(fl.Close)
	agent, emp := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleEmployee, "zhangsan")

	meta := ok[map[string]any](t, cs, http.StatusOK, "GET", "/api/meta", "", nil)
	if meta["assistant"] != true {
		t.Fatalf("meta %v: the pages are not told of the assistant", meta)
	}
	c := ok[conversation.View](t, cs, http.StatusCreated, "POST", "/api/h5/conversations", emp,
		map[string]string{"subject": "VPN 连不上", "body": "家里连不上公司 VPN", "category": "network"})
	if c.Status != desk.StatusBot {
		t.Fatalf("status %s, want bot", c.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	var answer desk.Message
	for answer.ID == "" && time.Now().Before(deadline) {
		for _, ev := range cs.events(t, emp, c.ID, "").Events {
			var m desk.Message
			if ev.Type == desk.EventMessage && json.Unmarshal(ev.Data, &m) == nil && m.SenderType == desk.RoleBot {
				answer = m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if answer.ID == "" || len(answer.Articles) != 1 || answer.SenderName != conversation.BotName {
		t.Fatalf("the assistant's answer: %+v", answer)
	}
	if q := cs.list(t, agent, "/api/agents/queue?status=bot"); len(q.Conversations) != 1 {
		t.Fatalf("agents' list of bot conversations: %+v", q)
	}

	handed := ok[desk.Conversation](t, cs, http.StatusOK, "POST", "/api/conversations/"+c.ID+"/handover", emp, nil)
	if handed.Status != desk.StatusQueued {
		t.Fatalf("after 转人工: %s", handed.Status)
	}
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", "/api/conversations/"+c.ID+"/handover", agent, nil)

	xs := ok[struct{ Exchanges []firstline.Exchange }](t, cs, http.StatusOK, "GET", "/api/conversations/"+c.ID+"/assistant", agent, nil)
	if len(xs.Exchanges) != 1 || !strings.Contains(string(xs.Exchanges[0].Prompt), "家里连不上公司 VPN") {
		t.Fatalf("exchanges for review: %+v", xs)
	}
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "GET", "/api/conversations/"+c.ID+"/assistant", emp, nil)

	cs.claim(t, agent, c.ID)
	fake.Push(assistantfake.Stream("您好，", "请按文章 [1] 重新连接 VPN。"))
	resp, raw := cs.call(t, "POST", "/api/conversations/"+c.ID+"/assistant/draft", agent, nil)
	body := string(raw)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" ||
		!strings.Contains(body, "event: delta") || !strings.Contains(body, "event: done") || !strings.Contains(body, "重新连接 VPN") {
		t.Fatalf("draft: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	fake.Push(assistantfake.ServerError())
	_, raw = cs.call(t, "POST", "/api/conversations/"+c.ID+"/assistant/draft", agent, nil)
	if !strings.Contains(string(raw), "event: error") || !strings.Contains(string(raw), `"code":"unavailable"`) {
		t.Fatalf("a failed draft:\n%s", raw)
	}
	st := ok[map[string]any](t, cs, http.StatusOK, "GET", "/api/kb/stats?to=2100-01-01", cs.token(t, desk.RoleAgent, admin), nil)
	if a, _ := st["assistant"].(map[string]any); a["answered"] != float64(1) || a["handed_over"] != float64(1) || a["drafts"] != float64(2) {
		xs := ok[struct{ Exchanges []firstline.Exchange }](t, cs, http.StatusOK, "GET", "/api/conversations/"+c.ID+"/assistant", agent, nil)
		for _, x := range xs.Exchanges {
			t.Log(x.Kind, x.Outcome, x.Error, x.StartedAt)
		}
		t.Fatalf("stats %v", st)
	}
	if strings.Contains(cs.logs.String(), llmKey) || strings.Contains(body, llmKey) {
		t.Fatal("the model's key is in a log line or a response")
	}
}

// TestNoAssistantNoTrace: without a model, requests go to the queue as
// ever and nothing of the assistant shows.
func TestNoAssistantNoTrace(t *testing.T) {
	cs := newKBServer(t)
	agent, emp := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleEmployee, "zhangsan")
	if meta := ok[map[string]any](t, cs, http.StatusOK, "GET", "/api/meta", "", nil); meta["assistant"] != nil {
		t.Fatalf("meta %v", meta)
	}
	c := cs.create(t, emp, "VPN 连不上", "")
	if c.Status != desk.StatusQueued {
		t.Fatalf("status %s, want queued", c.Status)
	}
	if got := ok[desk.Conversation](t, cs, http.StatusOK, "POST", "/api/conversations/"+c.ID+"/handover", emp, nil); got.Status != desk.StatusQueued {
		t.Fatalf("转人工 on a queued request: %s", got.Status)
	}
	if resp, _ := cs.call(t, "POST", "/api/conversations/"+c.ID+"/assistant/draft", agent, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("draft without a model: %d", resp.StatusCode)
	}
}
