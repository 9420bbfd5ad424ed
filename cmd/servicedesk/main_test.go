package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// app is the whole servicedesk, started by run exactly as main starts it, on
// a free port with a database in a temp dir.
type app struct {
	t   *testing.T
	url string
	// how it was started, for restart
	getenv func(string) string
	dbPath string
	extra  []string
	cancel context.CancelFunc
	done   chan error
	stderr *syncBuffer
}

func startApp(t *testing.T, dbPath string, extra ...string) *app {
	t.Helper()
	return startAppEnv(t, noEnv, dbPath, extra...)
}

// startAppEnv is startApp with environment variables (getenv).
func startAppEnv(t *testing.T, getenv func(string) string, dbPath string, extra ...string) *app {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	errs := &syncBuffer{}
	args := append([]string{"--addr", "127.0.0.1:0", "--db", dbPath, "--log-level", "debug"}, extra...)
	a := &app{t: t, cancel: cancel, done: make(chan error, 1), stderr: errs, getenv: getenv, dbPath: dbPath, extra: extra}
	go func() { a.done <- run(ctx, args, getenv, strings.NewReader(""), out, errs) }()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	// Generous: under the race detector on a loaded two-core machine a
	// start (migrations, the first PostgreSQL schema) has taken over 10 s.
	// It only decides how long a server that cannot start takes to fail.
	deadline := time.Now().Add(60 * time.Second)
	await := func(what string, done func() bool) {
		for !done() {
			select {
			case err := <-a.done:
				t.Fatalf("server exited: %v\n%s", err, errs)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("server did not %s:\n%s", what, errs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	await("start", func() bool {
		m := re.FindStringSubmatch(out.String())
		if m != nil {
			a.url = m[1]
		}
		return m != nil
	})
	// Listening is not yet ready: with --redis-url the bus subscribes
	// after the listener opens, and until it has, sockets are turned away
	// with 1013. Tests start sending when a load balancer would.
	await("become ready", func() bool { return statusOf(t, a.url+"/readyz") == http.StatusOK })
	t.Cleanup(func() { a.stop() })
	return a
}

// restart stops the server and starts it again as it was started (on a
// new port), with the same database.
func (a *app) restart(t *testing.T) *app {
	t.Helper()
	if err := a.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	return startAppEnv(t, a.getenv, a.dbPath, a.extra...)
}

// stop shuts the server down as SIGTERM would and waits for run to return.
func (a *app) stop() error {
	err := a.shutdown()
	if errors.Is(err, errStopTimeout) {
		a.t.Fatal(err)
	}
	return err
}

var errStopTimeout = errors.New("server did not stop within 15s")

// shutdown is stop without failing the test, for a goroutine of its own
// (t.Fatal may only be called from the test's goroutine).
func (a *app) shutdown() error {
	a.cancel()
	select {
	case err, ok := <-a.done:
		if ok {
			close(a.done)
		}
		return err
	case <-time.After(15 * time.Second):
		return errStopTimeout
	}
}

func noEnv(string) string { return "" }

func (a *app) post(path, token string, body any) (int, map[string]any) {
	a.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, a.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (a *app) loginAgent(username, password string) (token, agentID string) {
	a.t.Helper()
	status, m := a.post("/api/agents/login", "", map[string]string{"username": username, "password": password})
	if status != http.StatusOK {
		a.t.Fatalf("login %s: %d %v", username, status, m)
	}
	return m["token"].(string), m["agent_id"].(string)
}

func (a *app) dial(path string, subprotocols []string) *websocket.Conn {
	a.t.Helper()
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial("ws"+strings.TrimPrefix(a.url, "http")+path, nil)
	if err != nil {
		a.t.Fatalf("dial %s: %v %v", path, err, resp)
	}
	a.t.Cleanup(func() { ws.Close() })
	return ws
}

func closeOf(t *testing.T, ws *websocket.Conn, within time.Duration) (int, string) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		if err != nil {
			t.Fatalf("no close frame within %v: %v", within, err)
		}
	}
}

// pingPong sends a ping and waits for its pong, passing over the
// broadcasts (presence, queue positions) that may come first.
func pingPong(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("ping: %v", err)
		}
		if string(data) == `{"type":"pong"}` {
			return
		}
		if !strings.Contains(string(data), `"type":"presence"`) && !strings.Contains(string(data), `"type":"queue.position"`) {
			t.Fatalf("ping: got %s", data)
		}
	}
}

func TestDevDeskEndToEnd(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "data", "desk.db"), "--dev")
	token, agentID := a.loginAgent("demo", "demo")
	agent := a.dial("/ws/"+agentID, []string{"bearer." + token})
	pingPong(t, agent)

	status, m := a.post("/api/h5/mock-login", "", map[string]string{"employee_id": "zhangsan", "name": "张三"})
	if status != http.StatusOK || m["employee_id"] != "zhangsan" || m["token"] == "" {
		t.Fatalf("mock login: %d %v", status, m)
	}
	employee := a.dial("/ws/h5/zhangsan", []string{"bearer." + m["token"].(string)})
	pingPong(t, employee)

	// Logout closes every live socket of that token, within a second.
	second := a.dial("/ws/"+agentID, []string{"bearer." + token})
	pingPong(t, second)
	if status, m := a.post("/api/logout", token, nil); status != http.StatusNoContent {
		t.Fatalf("logout: %d %v", status, m)
	}
	for _, ws := range []*websocket.Conn{agent, second} {
		if code, reason := closeOf(t, ws, time.Second); code != 4001 || reason != "Token revoked" {
			t.Errorf("after logout: closed with %d %q, want 4001 \"Token revoked\"", code, reason)
		}
	}
	pingPong(t, employee) // other users are unaffected
	// The revoked token no longer opens anything.
	again := a.dial("/ws/"+agentID, []string{"bearer." + token})
	if code, reason := closeOf(t, again, 5*time.Second); code != 4001 || reason != "Invalid or expired token" {
		t.Errorf("revoked token: %d %q", code, reason)
	}

	// SIGTERM: connections are told to come back (1012), run returns.
	go a.shutdown()
	if code, _ := closeOf(t, employee, 10*time.Second); code != websocket.CloseServiceRestart {
		t.Errorf("shutdown closed with %d, want 1012", code)
	}
}

func TestWithoutDevThereIsNoDefaultCredential(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"))
	if status, _ := a.post("/api/agents/login", "", map[string]string{"username": "demo", "password": "demo"}); status != http.StatusUnauthorized {
		t.Errorf("demo login without --dev: %d, want 401", status)
	}
	if status, _ := a.post("/api/h5/mock-login", "", map[string]string{"employee_id": "e1", "name": "E"}); status != http.StatusNotFound {
		t.Errorf("mock login without --dev: %d, want 404", status)
	}
}

func TestAgentAddPersistsAcrossRestarts(t *testing.T) {
	db := filepath.Join(t.TempDir(), "desk.db")
	var out, errs bytes.Buffer
	err := run(t.Context(), []string{"agent", "add", "--username", "li.si", "--name", "李四", "--db", db}, noEnv,
		strings.NewReader("correct horse battery\n"), &out, &errs)
	if err != nil {
		t.Fatalf("agent add: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "li.si") {
		t.Errorf("agent add printed %q", out.String())
	}
	err = run(t.Context(), []string{"agent", "add", "--username", "li.si", "--name", "again", "--db", db}, noEnv,
		strings.NewReader("another password\n"), io.Discard, io.Discard)
	if err == nil {
		t.Error("a duplicate username was accepted")
	}
	for range 2 { // the account survives a restart
		a := startApp(t, db)
		token, id := a.loginAgent("li.si", "correct horse battery")
		pingPong(t, a.dial("/ws/"+id, []string{"bearer." + token}))
		if err := a.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}
	if strings.Contains(errs.String(), "correct horse") {
		t.Error("password echoed")
	}
}

// TestNoTokenInLogs exercises every path a token takes, at debug level, and
// then searches the whole log for each token.
func TestNoTokenInLogs(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev")
	token, id := a.loginAgent("demo", "demo")
	_, m := a.post("/api/h5/mock-login", "", map[string]string{"employee_id": "e1", "name": "E"})
	empToken := m["token"].(string)

	pingPong(t, a.dial("/ws/"+id, []string{"bearer." + token}))
	pingPong(t, a.dial("/ws/"+id+"?token="+token, nil))
	pingPong(t, a.dial("/ws/h5/e1?token="+empToken, nil))
	d := websocket.Dialer{}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(a.url, "http")+"/ws/"+id, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	pingPong(t, ws)
	ws.Close()
	closeOf(t, a.dial("/ws/someone-else?token="+token, nil), 5*time.Second)
	closeOf(t, a.dial("/ws/h5/e2", []string{"bearer." + empToken}), 5*time.Second)
	a.post("/api/agents/login", "", map[string]string{"username": "demo", "password": "wrong-" + token})
	a.post("/api/logout", token, nil)
	a.post("/api/logout", empToken, nil)
	a.post("/api/logout", "never-issued-"+token, nil)
	a.stop()

	logs := a.stderr.String()
	if !strings.Contains(logs, "websocket connected") || !strings.Contains(logs, "websocket rejected") {
		t.Fatalf("expected connection logs, got:\n%s", logs)
	}
	for _, secret := range []string{token, empToken, "demo\"", "token=" + token[:8]} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var errs bytes.Buffer
	err := run(t.Context(), []string{"--help"}, noEnv, nil, io.Discard, &errs)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --help: %v", err)
	}
	for _, f := range []string{"addr", "dev", "db", "redis-url", "allowed-origins", "allow-query-token", "ping-interval",
		"max-message-bytes", "send-queue-bytes", "msg-rate", "msg-burst", "token-ttl", "store-timeout", "agent add"} {
		if !strings.Contains(errs.String(), f) {
			t.Errorf("--help does not mention %s", f)
		}
	}
}

func TestBadConfigurationIsRefused(t *testing.T) {
	env := map[string]string{"SERVICEDESK_PING_INTERVAL": "0s"}
	err := run(t.Context(), []string{"--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ping-interval") {
		t.Errorf("got %v, want a ping-interval error", err)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
