package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// TestDemoAgentOnlyWithDev: the demo account a --dev run made cannot log
// in once the same database runs without --dev, and works again with it.
func TestDemoAgentOnlyWithDev(t *testing.T) {
	db := filepath.Join(t.TempDir(), "desk.db")
	a := startApp(t, db, "--dev")
	a.loginAgent("demo", "demo")
	a.stop()

	b := startApp(t, db)
	if status, _ := b.post("/api/agents/login", "", map[string]string{"username": "demo", "password": "demo"}); status != http.StatusUnauthorized {
		t.Fatalf("demo/demo without --dev: %d, want 401", status)
	}
	if !strings.Contains(b.stderr.String(), "demo agent disabled") {
		t.Error("no log line saying the demo agent was disabled")
	}
	b.stop()

	c := startApp(t, db, "--dev")
	c.loginAgent("demo", "demo")
}

// TestHTTPHardening: JSON is never sniffed, the static files list no
// folder, and the pages may open sockets to our own origin only.
func TestHTTPHardening(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev")
	resp, err := http.Post(a.url+"/api/agents/login", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("JSON answer without nosniff: %v", resp.Header)
	}
	for _, path := range []string{"/shared/", "/agent/../shared/"} {
		resp, err := http.Get(a.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || bytes.Contains(body, []byte("api.js")) {
			t.Errorf("GET %s: %d, lists %q", path, resp.StatusCode, body)
		}
	}
	resp, err = http.Get(a.url + "/h5/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self';") || strings.Contains(csp, "ws:") || strings.Contains(csp, "wss:") {
		t.Errorf("CSP %q lets the pages connect elsewhere", csp)
	}
}

// TestStartRefusesAShortAPIKey: an operator key that could be guessed is
// refused at start, saying how long it must be.
func TestStartRefusesAShortAPIKey(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--db", filepath.Join(t.TempDir(), "d.db"), "--api-key", "short-key"}, noEnv, strings.NewReader(""), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Fatalf("run with a short key: %v", err)
	}
}

// TestDisabledAgentRefusedEverywhere: a token another login service wrote
// (the seed's Redis layout, which we never issued and so cannot revoke)
// stops working on every REST route and the socket once the agent is
// disabled, within the short cache of the disabled flag.
func TestDisabledAgentRefusedEverywhere(t *testing.T) {
	redisURL := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if redisURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SERVICEDESK_TEST_REDIS_URL must be set in CI")
		}
		t.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping the external-token test")
	}
	key := "admin-key-0123456789abcdef0123456789ab"
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--redis-url", redisURL, "--api-key", key)
	_, agentID := a.loginAgent("demo", "demo")
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	external := rand.Text() + rand.Text()
	if err := rdb.Set(context.Background(), "agent:token:"+external, agentID, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.Del(context.Background(), "agent:token:"+external)
	get := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+external)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := get("/api/agents/queue"); status != http.StatusOK {
		t.Fatalf("external token before disabling: %d", status)
	}
	req, _ := http.NewRequest(http.MethodPost, a.url+"/api/admin/agents/"+agentID+"/disable", nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disable: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(6 * time.Second)
	for get("/api/agents/queue") != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("a disabled agent's external token still works after the cache")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, path := range []string{"/api/agents", "/api/agents/conversations?status=open", "/api/employees/zhangsan", "/api/conversations/cv_0000000000000000"} {
		if status := get(path); status != http.StatusUnauthorized {
			t.Errorf("GET %s: %d, want 401", path, status)
		}
	}
	for _, path := range []string{"/claim", "/notes", "/messages", "/resolve", "/leave"} {
		if status, _ := a.post("/api/conversations/cv_0000000000000000"+path, external, map[string]string{"body": "x"}); status != http.StatusUnauthorized {
			t.Errorf("POST %s: %d, want 401", path, status)
		}
	}
	if code, reason := closeOf(t, a.dial("/ws/"+agentID, []string{"bearer." + external}), 5*time.Second); code != 4001 {
		t.Errorf("socket with the external token: %d %q", code, reason)
	}
}

// TestSocketsEndWithTheirToken: a live socket is closed with 4001 when its
// token expires or another login service deletes it, within one re-check.
func TestSocketsEndWithTheirToken(t *testing.T) {
	redisURL := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if redisURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SERVICEDESK_TEST_REDIS_URL must be set in CI")
		}
		t.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping")
	}
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--redis-url", redisURL, "--token-recheck", "200ms")
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	expiring, deleted, kept := rand.Text(), rand.Text(), rand.Text()
	for tok, ttl := range map[string]time.Duration{expiring: 700 * time.Millisecond, deleted: time.Hour, kept: time.Hour} {
		if err := rdb.Set(context.Background(), "employee:token:"+tok, "e-"+tok[:6], ttl).Err(); err != nil {
			t.Fatal(err)
		}
		defer rdb.Del(context.Background(), "employee:token:"+tok)
	}
	wsExpiring := a.dial("/ws/h5/e-"+expiring[:6], []string{"bearer." + expiring})
	wsDeleted := a.dial("/ws/h5/e-"+deleted[:6], []string{"bearer." + deleted})
	wsKept := a.dial("/ws/h5/e-"+kept[:6], []string{"bearer." + kept})
	for _, ws := range []*websocket.Conn{wsExpiring, wsDeleted, wsKept} {
		pingPong(t, ws)
	}
	rdb.Del(context.Background(), "employee:token:"+deleted)
	for name, ws := range map[string]*websocket.Conn{"expired": wsExpiring, "deleted": wsDeleted} {
		if code, reason := closeOf(t, ws, 5*time.Second); code != 4001 || reason != "Invalid or expired token" {
			t.Errorf("%s token: closed %d %q", name, code, reason)
		}
	}
	pingPong(t, wsKept) // a live token's socket stays
}

// TestBadBytesAreRefusedAtTheEdge: bytes PostgreSQL refuses (NUL, invalid
// UTF-8), control characters and text-direction overrides are a 400 or an
// invalid frame; ids that cannot be ids are 404; on both databases.
func TestBadBytesAreRefusedAtTheEdge(t *testing.T) {
	databases(t, []string{"--dev"}, func(t *testing.T, a *app) {
		emp := a.employee("zhangsan")
		raw := func(body string) int {
			req, _ := http.NewRequest(http.MethodPost, a.url+"/api/h5/conversations", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+emp)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if status := raw("{\"subject\":\"VPN\",\"body\":\"bad \xff\xfe utf-8\"}"); status != http.StatusBadRequest {
			t.Errorf("invalid UTF-8: %d", status)
		}
		for _, c := range []struct{ subject, body string }{
			{"VPN\x00", "hi"}, {"VPN", "hello \u202eevil"}, {"bell\x07", "hi"},
		} {
			if status, m := a.post("/api/h5/conversations", emp, map[string]string{"subject": c.subject, "body": c.body}); status != http.StatusBadRequest {
				t.Errorf("subject %q body %q: %d %v", c.subject, c.body, status, m)
			}
		}
		for _, path := range []string{"/api/conversations/%00/messages", "/api/conversations/cv_%ff%fe/messages", "/api/conversations/x/messages"} {
			if status, _ := a.post(path, emp, map[string]string{"body": "hi"}); status != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", path, status)
			}
		}
		status, conv := a.post("/api/h5/conversations", emp, map[string]string{"subject": "正常", "body": "多行\n\t文本"})
		if status != http.StatusCreated {
			t.Fatalf("newlines and tabs refused: %d %v", status, conv)
		}
		ws := a.dial("/ws/h5/zhangsan", []string{"bearer." + emp})
		ws.WriteJSON(map[string]any{"type": "message", "conversation_id": "\x00", "body": "hi", "client_msg_id": "n1"})
		if m := nextOfType(t, ws, "error"); m["code"] != "not_found" {
			t.Errorf("NUL conversation id over the socket: %v", m)
		}
		ws.WriteJSON(map[string]any{"type": "message", "conversation_id": conv["id"], "body": "x\u2066y", "client_msg_id": "n2"})
		if m := nextOfType(t, ws, "error"); m["code"] != "invalid" || m["client_msg_id"] != "n2" || m["conversation_id"] != conv["id"] {
			t.Errorf("an override character over the socket: %v", m)
		}
	})
}

// TestOneUserCannotFloodTheOthers: each per-user limit is hit and answered
// clearly: 429 with Retry-After, 409 for the open-conversation cap, 1008
// for sockets; and the frame budget is one per user, REST writes included.
func TestOneUserCannotFloodTheOthers(t *testing.T) {
	t.Run("new conversations", func(t *testing.T) {
		a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--max-open-conversations", "50")
		emp := a.employee("zhangsan")
		for i := range 6 {
			req, _ := http.NewRequest(http.MethodPost, a.url+"/api/h5/conversations",
				strings.NewReader(`{"subject":"第`+string(rune('1'+i))+`个","body":"x"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+emp)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case i < 5 && resp.StatusCode != http.StatusCreated:
				t.Fatalf("conversation %d: %d", i+1, resp.StatusCode)
			case i == 5 && (resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == ""):
				t.Fatalf("a sixth at once: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		// Another employee is not held up by it.
		if status, _ := a.post("/api/h5/conversations", a.employee("lisi"), map[string]string{"subject": "我的", "body": "x"}); status != http.StatusCreated {
			t.Fatalf("another employee: %d", status)
		}
	})
	t.Run("open conversations", func(t *testing.T) {
		a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--max-open-conversations", "2")
		emp := a.employee("zhangsan")
		for i, want := range []int{http.StatusCreated, http.StatusCreated, http.StatusConflict} {
			if status, m := a.post("/api/h5/conversations", emp, map[string]string{"subject": "请求", "body": "x"}); status != want {
				t.Fatalf("conversation %d: %d %v, want %d", i+1, status, m, want)
			}
		}
	})
	t.Run("one budget for sockets and REST", func(t *testing.T) {
		a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--msg-rate", "0.01", "--msg-burst", "3")
		emp := a.employee("zhangsan")
		ws1 := a.dial("/ws/h5/zhangsan", []string{"bearer." + emp})
		ws2 := a.dial("/ws/h5/zhangsan", []string{"bearer." + emp})
		pingPong(t, ws1)
		pingPong(t, ws2)
		if status, _ := a.post("/api/h5/conversations", emp, map[string]string{"subject": "请求", "body": "x"}); status != http.StatusCreated {
			t.Fatalf("first write: %d", status)
		}
		if status, _ := a.post("/api/h5/conversations", emp, map[string]string{"subject": "请求", "body": "x"}); status != http.StatusTooManyRequests {
			t.Fatalf("a write past the shared budget: %d", status)
		}
		ws1.WriteJSON(map[string]string{"type": "ping"})
		if code, _ := closeOf(t, ws1, 5*time.Second); code != 1008 {
			t.Fatalf("a frame past the shared budget: closed %d, want 1008", code)
		}
	})
	t.Run("sockets per user and per address", func(t *testing.T) {
		a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--max-sockets-per-user", "2", "--max-sockets-per-addr", "3")
		emp := a.employee("zhangsan")
		for range 2 {
			pingPong(t, a.dial("/ws/h5/zhangsan", []string{"bearer." + emp}))
		}
		if code, reason := closeOf(t, a.dial("/ws/h5/zhangsan", []string{"bearer." + emp}), 5*time.Second); code != 1008 || reason != "too many connections for this user" {
			t.Errorf("a third socket for one user: %d %q", code, reason)
		}
		other := a.employee("lisi")
		pingPong(t, a.dial("/ws/h5/lisi", []string{"bearer." + other}))
		if code, reason := closeOf(t, a.dial("/ws/h5/lisi", []string{"bearer." + other}), 5*time.Second); code != 1008 || reason != "too many connections from this address" {
			t.Errorf("a fourth socket from one address: %d %q", code, reason)
		}
	})
}

// TestOperatorKeyAndMetrics: wrong API keys are throttled per address, and
// metrics are served on --metrics-addr without a key.
func TestOperatorKeyAndMetrics(t *testing.T) {
	key := "ops-key-0123456789abcdef0123456789abcd"
	maddr := freeAddr(t)
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--api-key", key, "--metrics-addr", maddr)
	try := func(k string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, a.url+"/api/admin/kick", strings.NewReader(`{"employee_id":"nobody"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", k)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 10 {
		if resp := try("wrong-key"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp := try("wrong-key"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the eleventh wrong key: %d", resp.StatusCode)
	}
	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("# HELP servicedesk_")) {
		t.Fatalf("--metrics-addr: %d", resp.StatusCode)
	}
}
