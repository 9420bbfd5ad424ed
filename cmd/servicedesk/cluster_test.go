package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
)

// redisServer is a private redis-server the test can stop and start again
// on the same port, to see the cluster lose Redis and recover.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server not installed: skipping the cluster test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{t: t, port: port}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	waitUntil(r.t, "redis to listen", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tryDial opens a socket or reports why not, without failing the test.
func (a *app) tryDial(path, token string) (*websocket.Conn, error) {
	d := websocket.Dialer{Subprotocols: []string{"bearer." + token}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(a.url, "http")+path, nil)
	if err != nil {
		return nil, err
	}
	// The server may complete the handshake and refuse at once: a ping
	// answered proves the socket is really open.
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
	ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, err
		}
		if string(data) == `{"type":"pong"}` {
			a.t.Cleanup(func() { ws.Close() })
			return ws, nil
		}
	}
}

// seqReader applies one conversation's events the way docs/protocol.md
// tells clients to: by seq, once each.
type seqReader struct {
	t       *testing.T
	conv    string
	applied []int64
	bodies  []string
}

func (s *seqReader) take(m map[string]any) {
	if m["conversation_id"] != s.conv {
		return
	}
	seq, _ := m["seq"].(float64)
	if seq == 0 || m["type"] == "ack" || m["type"] == "resumed" {
		return
	}
	if n := len(s.applied); n > 0 && int64(seq) <= s.applied[n-1] {
		return
	}
	s.applied = append(s.applied, int64(seq))
	if m["type"] == "message.created" {
		s.bodies = append(s.bodies, m["data"].(map[string]any)["body"].(string))
	}
}

// readUntilBody reads ws, applying events, until a message with body has
// been applied.
func (s *seqReader) readUntilBody(ws *websocket.Conn, body string) {
	s.t.Helper()
	for !contains(s.bodies, body) {
		s.take(readJSON(s.t, ws))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCluster runs three nodes on one PostgreSQL and one Redis, with the
// employee and the agents on different nodes, through everything a load
// balancer in front of them would see: cross-node delivery, presence,
// logout, a node draining, and Redis going away and coming back.
// clusterKey is the nodes' operator API key (for /metrics).
const clusterKey = "cluster-key-0123456789abcdef0123456789"

func TestCluster(t *testing.T) {
	redis := startRedis(t)
	pg := pgtest.URL(t)
	var errs strings.Builder
	if err := run(t.Context(), []string{"agent", "add", "--username", "li", "--name", "李工", "--database-url", pg},
		noEnv, strings.NewReader("li-password\n"), &errs, &errs); err != nil {
		t.Fatalf("agent add: %v %s", err, errs.String())
	}
	nodes := map[string]*app{}
	for _, name := range []string{"a", "b", "c"} {
		nodes[name] = startApp(t, filepath.Join(t.TempDir(), "unused.db"), "--dev", "--node-id", name, "--api-key", clusterKey,
			"--database-url", pg, "--redis-url", redis.url(), "--store-timeout", "500ms", "--log-level", "info")
	}
	a, b, c := nodes["a"], nodes["b"], nodes["c"]

	demoTok, demoID := a.loginAgent("demo", "demo")
	liTok, liID := a.loginAgent("li", "li-password")
	empTok := a.employee("e1")
	demo := b.dial("/ws/"+demoID, []string{"bearer." + demoTok})
	li := c.dial("/ws/"+liID, []string{"bearer." + liTok})
	emp := c.dial("/ws/h5/e1", []string{"bearer." + empTok})
	for _, ws := range []*websocket.Conn{demo, li, emp} {
		pingPong(t, ws)
	}

	// A conversation started through A reaches the agent on B live.
	status, conv := a.post("/api/h5/conversations", empTok, map[string]string{"subject": "打印机", "body": "打印机卡纸"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, conv)
	}
	id := conv["id"].(string)
	if m := nextOfType(t, demo, "conversation.created"); m["conversation_id"] != id {
		t.Fatalf("agent on B saw %v", m)
	}
	if status, m := c.post("/api/conversations/"+id+"/claim", demoTok, nil); status != http.StatusOK {
		t.Fatalf("claim through C: %d %v", status, m)
	}
	if status, m := b.post("/api/conversations/"+id+"/invite", demoTok, map[string]string{"agent_id": liID}); status != http.StatusOK {
		t.Fatalf("invite through B: %d %v", status, m)
	}
	// The employee writes on C; both agents, on B and C, get it in order.
	demoView, liView := &seqReader{t: t, conv: id}, &seqReader{t: t, conv: id}
	for i := range 20 {
		emp.WriteJSON(map[string]any{"type": "message", "conversation_id": id, "body": fmt.Sprint("m", i), "client_msg_id": fmt.Sprint("k", i)})
	}
	demoView.readUntilBody(demo, "m19")
	liView.readUntilBody(li, "m19")
	for _, v := range []*seqReader{demoView, liView} {
		if got := strings.Join(v.bodies, ","); !strings.HasSuffix(got, "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9,m10,m11,m12,m13,m14,m15,m16,m17,m18,m19") {
			t.Fatalf("messages out of order or missing: %s", got)
		}
	}

	// Presence converges on every node.
	for name, n := range nodes {
		waitUntil(t, "presence on node "+name, 5*time.Second, func() bool {
			req, _ := http.NewRequest(http.MethodGet, n.url+"/api/agents", nil)
			req.Header.Set("Authorization", "Bearer "+demoTok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var body struct{ Agents []struct{ ID, Status string } }
			jsonDecode(resp, &body)
			online := 0
			for _, ag := range body.Agents {
				if (ag.ID == demoID || ag.ID == liID) && ag.Status == "online" {
					online++
				}
			}
			return online == 2
		})
	}

	// A logout on A closes li's socket on C within a second.
	if status, _ := a.post("/api/logout", liTok, nil); status != http.StatusNoContent {
		t.Fatalf("logout: %d", status)
	}
	if code, reason := closeOf(t, li, time.Second); code != 4001 || reason != "Token revoked" {
		t.Fatalf("li on C after logout on A: %d %q", code, reason)
	}

	// B drains: demo is told to reconnect (1012), comes back through A and
	// resumes from the last seq it applied; nothing the employee wrote
	// meanwhile is lost or doubled.
	go b.shutdown()
	if code, _ := closeOf(t, demo, 10*time.Second); code != websocket.CloseServiceRestart {
		t.Fatalf("drain closed demo with %d, want 1012", code)
	}
	for i := 20; i < 30; i++ {
		if status, m := c.post("/api/conversations/"+id+"/messages", empTok, map[string]string{"body": fmt.Sprint("m", i)}); status != http.StatusCreated {
			t.Fatalf("send during drain: %d %v", status, m)
		}
	}
	demo = a.dial("/ws/"+demoID, []string{"bearer." + demoTok})
	demo.WriteJSON(map[string]any{"type": "resume", "conversation_id": id, "after_seq": demoView.applied[len(demoView.applied)-1]})
	demoView.readUntilBody(demo, "m29")
	assertOnce(t, demoView)

	// Redis goes away: sockets are told to come back, new handshakes fail
	// closed, readiness fails. Redis returns: everything recovers unaided.
	redis.stop()
	if code, _ := closeOf(t, demo, 10*time.Second); code != websocket.CloseServiceRestart && code != 1013 {
		t.Fatalf("losing Redis closed demo with %d", code)
	}
	if _, err := a.tryDial("/ws/"+demoID, demoTok); err == nil {
		t.Fatal("a handshake succeeded while Redis was down")
	} else if ce := new(websocket.CloseError); !errors.As(err, &ce) || ce.Code != 4001 {
		t.Logf("handshake during the outage: %v", err)
	}
	if code := statusOf(t, a.url+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz during the outage: %d", code)
	}
	redis.start()
	// Tokens lived in the Redis that restarted empty: log in again, as
	// clients do after a 4001.
	waitUntil(t, "readiness after Redis returns", 15*time.Second, func() bool {
		return statusOf(t, a.url+"/readyz") == http.StatusOK && statusOf(t, c.url+"/readyz") == http.StatusOK
	})
	demoTok, _ = a.loginAgent("demo", "demo")
	empTok = c.employee("e1")
	demo = a.dial("/ws/"+demoID, []string{"bearer." + demoTok})
	pingPong(t, demo)
	demo.WriteJSON(map[string]any{"type": "resume", "conversation_id": id, "after_seq": demoView.applied[len(demoView.applied)-1]})
	if status, m := c.post("/api/conversations/"+id+"/messages", empTok, map[string]string{"body": "after the outage"}); status != http.StatusCreated {
		t.Fatalf("send after the outage: %d %v", status, m)
	}
	demoView.readUntilBody(demo, "after the outage")
	assertOnce(t, demoView)

	req, _ := http.NewRequest(http.MethodGet, c.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+clusterKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m strings.Builder
	io.Copy(&m, resp.Body)
	resp.Body.Close()
	if !strings.Contains(m.String(), `servicedesk_bus_trip_seconds_count{node="c"}`) {
		t.Error("node c does not report the bus trip time")
	}
	if !strings.Contains(m.String(), `servicedesk_store_reruns_total{node="c"}`) {
		t.Error("node c does not report its writer's reruns")
	}
}

func assertOnce(t *testing.T, v *seqReader) {
	t.Helper()
	seen := map[string]bool{}
	for _, b := range v.bodies {
		if seen[b] {
			t.Fatalf("message %q applied twice", b)
		}
		seen[b] = true
	}
	for i := range 30 {
		if !seen[fmt.Sprint("m", i)] {
			t.Fatalf("message m%d lost; got %v", i, v.bodies)
		}
	}
}

func statusOf(t *testing.T, url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func jsonDecode(resp *http.Response, v any) { json.NewDecoder(resp.Body).Decode(v) }
