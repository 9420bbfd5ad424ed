package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
)

// databases starts the app once per storage: the SQLite file, and
// PostgreSQL when SERVICEDESK_TEST_POSTGRES_URL is set.
func databases(t *testing.T, extra []string, fn func(t *testing.T, a *app)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, startApp(t, filepath.Join(t.TempDir(), "desk.db"), extra...))
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		fn(t, startApp(t, filepath.Join(t.TempDir(), "unused.db"), append([]string{"--database-url", url}, extra...)...))
	})
}

func (a *app) employee(id string) string {
	a.t.Helper()
	status, m := a.post("/api/h5/mock-login", "", map[string]string{"employee_id": id, "name": "员工 " + id})
	if status != http.StatusOK {
		a.t.Fatalf("mock login: %d %v", status, m)
	}
	return m["token"].(string)
}

func readJSON(t *testing.T, ws *websocket.Conn) map[string]any {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// nextOfType reads until a frame of that type.
func nextOfType(t *testing.T, ws *websocket.Conn, typ string) map[string]any {
	t.Helper()
	for {
		if m := readJSON(t, ws); m["type"] == typ {
			return m
		}
	}
}

// TestConversationEndToEnd is the desk as its users meet it: an employee
// asks, the queue shows it live, an agent claims it, they talk over the
// socket, and a reconnecting agent catches up — on both databases.
func TestConversationEndToEnd(t *testing.T) {
	databases(t, []string{"--dev"}, func(t *testing.T, a *app) {
		agentTok, agentID := a.loginAgent("demo", "demo")
		agent := a.dial("/ws/"+agentID, []string{"bearer." + agentTok})
		empTok := a.employee("zhangsan")
		emp := a.dial("/ws/h5/zhangsan", []string{"bearer." + empTok})
		pingPong(t, agent) // a pong proves each socket is registered
		pingPong(t, emp)

		status, conv := a.post("/api/h5/conversations", empTok, map[string]string{
			"subject": "VPN 连不上", "category": "network", "body": "家里连不上公司 VPN", "client_msg_id": "c1"})
		if status != http.StatusCreated || conv["status"] != "queued" {
			t.Fatalf("create: %d %v", status, conv)
		}
		id := conv["id"].(string)
		if m := nextOfType(t, agent, "conversation.created"); m["conversation_id"] != id {
			t.Fatalf("agent saw %v", m)
		}
		if m := nextOfType(t, emp, "queue.position"); m["data"].(map[string]any)["position"] != 1.0 {
			t.Fatalf("queue position %v", m)
		}
		if status, m := a.post("/api/conversations/"+id+"/claim", agentTok, nil); status != http.StatusOK || m["status"] != "open" {
			t.Fatalf("claim: %d %v", status, m)
		}
		if m := nextOfType(t, emp, "conversation.claimed"); m["data"].(map[string]any)["agent_id"] != agentID {
			t.Fatalf("employee saw %v", m)
		}

		agent.WriteJSON(map[string]any{"type": "message", "conversation_id": id, "body": "请重启路由器", "client_msg_id": "a1"})
		last := nextOfType(t, agent, "ack")["seq"].(float64)
		if m := nextOfType(t, emp, "message.created"); m["data"].(map[string]any)["body"] != "请重启路由器" {
			t.Fatalf("employee got %v", m)
		}
		emp.WriteJSON(map[string]any{"type": "typing", "conversation_id": id})
		if m := nextOfType(t, agent, "typing"); m["data"].(map[string]any)["sender_type"] != "employee" {
			t.Fatalf("agent got %v", m)
		}

		// The agent drops; the employee writes twice; the agent comes back
		// and resumes from the last seq it saw.
		agent.Close()
		for _, body := range []string{"重启了", "还是不行"} {
			if status, m := a.post("/api/conversations/"+id+"/messages", empTok, map[string]string{"body": body}); status != http.StatusCreated {
				t.Fatalf("send: %d %v", status, m)
			}
		}
		agent = a.dial("/ws/"+agentID, []string{"bearer." + agentTok})
		agent.WriteJSON(map[string]any{"type": "resume", "conversation_id": id, "after_seq": last})
		var bodies []string
		for {
			m := readJSON(t, agent)
			if m["type"] == "resumed" {
				break
			}
			if m["type"] == "message.created" {
				bodies = append(bodies, m["data"].(map[string]any)["body"].(string))
			}
		}
		if strings.Join(bodies, "|") != "重启了|还是不行" {
			t.Fatalf("resumed messages %q", bodies)
		}
		// The polling endpoint returns the same events.
		req, _ := http.NewRequest(http.MethodGet, a.url+"/api/conversations/"+id+"/events?after_seq=0", nil)
		req.Header.Set("Authorization", "Bearer "+empTok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []map[string]any `json:"events"`
		}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		// created, message, claimed, message, the employee's receipt for it
		// (replying reads what came before), message ×2.
		if n := len(page.Events); n != 7 {
			t.Errorf("%d events polled, want 7", n)
		}
	})
}

func TestPushAPI(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--api-key", "s3cret-push-key-0123456789abcdef0123")
	agentTok, agentID := a.loginAgent("demo", "demo")
	agent := a.dial("/ws/"+agentID, []string{"bearer." + agentTok})
	emp := a.dial("/ws/h5/e1", []string{"bearer." + a.employee("e1")})
	pingPong(t, agent) // a pong proves the connection is registered
	pingPong(t, emp)

	push := func(key, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, a.url+"/api/push", bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	cases := []struct {
		name, body string
		ws         *websocket.Conn
	}{
		{"agent", `{"to":{"agent_id":"` + agentID + `"},"event":{"type":"ticket.updated","data":{"id":7}}}`, agent},
		{"employee", `{"to":{"employee_id":"e1"},"event":{"type":"notice","data":{"text":"系统维护"}}}`, emp},
		{"all agents", `{"to":{"all_agents":true},"event":{"type":"broadcast"}}`, agent},
	}
	for _, tc := range cases {
		status, m := push("s3cret-push-key-0123456789abcdef0123", tc.body)
		if status != http.StatusOK || m["delivered"] != 1.0 || m["published"] != true {
			t.Fatalf("%s: %d %v", tc.name, status, m)
		}
		var sent struct {
			Event json.RawMessage `json:"event"`
		}
		json.Unmarshal([]byte(tc.body), &sent)
		tc.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, got, err := tc.ws.ReadMessage()
		if err != nil || string(got) != string(sent.Event) {
			t.Fatalf("%s: received %s (%v), want %s", tc.name, got, err, sent.Event)
		}
	}
	for _, tc := range []struct {
		key, body string
		want      int
	}{
		{"", `{"to":{"all_agents":true},"event":{}}`, http.StatusUnauthorized},
		{"wrong-key-wrong-key", `{"to":{"all_agents":true},"event":{}}`, http.StatusUnauthorized},
		{"s3cret-push-key-0123456789abcdef0123", `{"to":{},"event":{}}`, http.StatusBadRequest},
		{"s3cret-push-key-0123456789abcdef0123", `{"to":{"agent_id":"a","all_agents":true},"event":{}}`, http.StatusBadRequest},
		{"s3cret-push-key-0123456789abcdef0123", `{"to":{"all_agents":true},"event":[1]}`, http.StatusBadRequest},
		{"s3cret-push-key-0123456789abcdef0123", `{"to":{"conversation_id":"cv_nope"},"event":{}}`, http.StatusNotFound},
	} {
		if status, m := push(tc.key, tc.body); status != tc.want {
			t.Errorf("%q %s: %d %v, want %d", tc.key, tc.body, status, m, tc.want)
		}
	}
	if strings.Contains(a.stderr.String(), "s3cret-push-key-0123456789abcdef0123") {
		t.Error("the API key was logged")
	}

	plain := startApp(t, filepath.Join(t.TempDir(), "desk.db"))
	resp, err := http.Post(plain.url+"/api/push", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("push without a key configured: %d, want 404", resp.StatusCode)
	}
}

// TestQueuePositionsAreLive: a waiting employee sees their place in the
// queue and the agents online change as others are served.
func TestQueuePositionsAreLive(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev")
	type waiting struct {
		ws *websocket.Conn
		id string
	}
	var queue []waiting
	for _, e := range []string{"e1", "e2"} {
		tok := a.employee(e)
		ws := a.dial("/ws/h5/"+e, []string{"bearer." + tok})
		pingPong(t, ws)
		_, conv := a.post("/api/h5/conversations", tok, map[string]string{"subject": "help " + e, "body": "please"})
		queue = append(queue, waiting{ws, conv["id"].(string)})
	}
	position := func(w waiting, want, online float64) {
		t.Helper()
		for {
			m := nextOfType(t, w.ws, "queue.position")
			d := m["data"].(map[string]any)
			if d["conversation_id"] == w.id && d["position"] == want && d["agents_online"] == online {
				return
			}
		}
	}
	position(queue[1], 2, 0)
	agentTok, agentID := a.loginAgent("demo", "demo")
	pingPong(t, a.dial("/ws/"+agentID, []string{"bearer." + agentTok}))
	position(queue[0], 1, 1)
	position(queue[1], 2, 1)
	if status, m := a.post("/api/conversations/"+queue[0].id+"/claim", agentTok, nil); status != http.StatusOK {
		t.Fatalf("claim: %d %v", status, m)
	}
	position(queue[1], 1, 1)
}

// TestKickAndDisable: an operator's kick and disable close the user's
// sockets and retire their tokens; a disabled agent cannot come back.
func TestKickAndDisable(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--api-key", "admin-key-0123456789abcdef0123456789ab")
	admin := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPost, a.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", "admin-key-0123456789abcdef0123456789ab")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	empTok := a.employee("e1")
	emp := a.dial("/ws/h5/e1", []string{"bearer." + empTok})
	pingPong(t, emp)
	if status := admin("/api/admin/kick", `{"employee_id":"e1"}`); status != http.StatusNoContent {
		t.Fatalf("kick: %d", status)
	}
	if code, reason := closeOf(t, emp, time.Second); code != 4001 || reason != "Kicked" {
		t.Errorf("kicked: %d %q", code, reason)
	}
	if code, reason := closeOf(t, a.dial("/ws/h5/e1", []string{"bearer." + empTok}), 5*time.Second); code != 4001 || reason != "Invalid or expired token" {
		t.Errorf("kicked token still works: %d %q", code, reason)
	}

	tok, id := a.loginAgent("demo", "demo")
	agent := a.dial("/ws/"+id, []string{"bearer." + tok})
	pingPong(t, agent)
	if status := admin("/api/admin/agents/"+id+"/disable", ""); status != http.StatusNoContent {
		t.Fatalf("disable: %d", status)
	}
	if code, reason := closeOf(t, agent, time.Second); code != 4001 || reason != "Agent disabled" {
		t.Errorf("disabled: %d %q", code, reason)
	}
	if status, _ := a.post("/api/agents/login", "", map[string]string{"username": "demo", "password": "demo"}); status != http.StatusUnauthorized {
		t.Errorf("disabled agent logged in: %d", status)
	}
	if status := admin("/api/admin/agents/"+id+"/enable", ""); status != http.StatusNoContent {
		t.Fatalf("enable: %d", status)
	}
	a.loginAgent("demo", "demo")
	if status := admin("/api/admin/agents/agt_nobody/disable", ""); status != http.StatusNotFound {
		t.Errorf("disable nobody: %d", status)
	}
	if status := admin("/api/admin/kick", `{}`); status != http.StatusBadRequest {
		t.Errorf("kick nobody: %d", status)
	}
}

// TestOperationsEndpoints: /healthz, /readyz and /metrics tell an operator
// what the node is doing, and requests carry an id.
func TestOperationsEndpoints(t *testing.T) {
	const key = "ops-key-0123456789abcdef0123456789abcd"
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--node-id", "node-a", "--api-key", key)
	tok, id := a.loginAgent("demo", "demo")
	pingPong(t, a.dial("/ws/"+id, []string{"bearer." + tok}))
	closeOf(t, a.dial("/ws/"+id, []string{"bearer.wrong"}), 5*time.Second)
	get := func(path string, header ...string) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String(), resp.Header
	}
	if code, body, h := get("/healthz"); code != http.StatusOK || h.Get("X-Request-ID") == "" {
		t.Errorf("healthz: %d %s", code, body)
	}
	if code, body, _ := get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"database":"ok"`) {
		t.Errorf("readyz: %d %s", code, body)
	}
	// Metrics are for the operator: the API key, or --metrics-addr.
	if code, _, _ := get("/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the key: %d", code)
	}
	_, body, _ := get("/metrics", "X-API-Key", key)
	for _, want := range []string{
		`servicedesk_connections{kind="agent",node="node-a"} 1`,
		`servicedesk_handshakes_total{node="node-a",reason="",result="accepted"}`,
		`servicedesk_handshakes_total{node="node-a",reason="Invalid or expired token",result="rejected"} 1`,
		`servicedesk_frames_in_total{node="node-a",type="ping"} 1`,
		`servicedesk_store_seconds_count{node="node-a",op="token_lookup"}`,
		`servicedesk_bus_publish_seconds_count{node="node-a"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
