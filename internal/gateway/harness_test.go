package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/presence"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// testDesk is a real gateway on a real listener with a real hub, bus and
// token store: the tests talk to it over real WebSockets.
type testDesk struct {
	t      *testing.T
	srv    *httptest.Server
	gw     *Gateway
	hub    *hub.Hub
	tokens desk.TokenStore
	desk   *conversation.Service
	// presence is the desk's tracker. The hub is not wired to it here, so
	// no test sees presence frames unless it reports connections itself.
	presence *presence.Memory
	db       *sqlite.DB
	logs     *syncBuffer
}

type deskOption func(*Options, *hub.Options)

func testOptions() (Options, hub.Options) {
	return Options{
			AllowQueryToken: true,
			StoreTimeout:    500 * time.Millisecond,
			PingInterval:    time.Minute,
			MaxMessageBytes: 64 << 10,
			MsgRate:         1000,
			MsgBurst:        1000,
		}, hub.Options{
			SendQueueBytes: 1 << 20,
			PingInterval:   time.Minute,
		}
}

func newTestDesk(t *testing.T, tokens desk.TokenStore, opts ...deskOption) *testDesk {
	t.Helper()
	gopts, hopts := testOptions()
	for _, o := range opts {
		o(&gopts, &hopts)
	}
	if tokens == nil {
		tokens = tokenstore.NewMemory(nil)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := hub.New(hopts, log)
	b := bus.NewMemory(func(ev desk.Event) { h.Deliver(ev) })
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	tracker := presence.NewMemory(b, presence.Options{Log: log})
	svc := conversation.New(conversation.Config{Store: db, Agents: db, Bus: b, Presence: tracker, Log: log})
	gw := New(gopts, tokens, b, svc, h, log)
	mux := http.NewServeMux()
	gw.Routes(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Add(3)
	go func() { defer running.Done(); h.Run(ctx) }()
	go func() { defer running.Done(); svc.Run(ctx) }()
	go func() { defer running.Done(); tracker.Run(ctx) }()
	t.Cleanup(func() {
		defer db.Close()
		defer running.Wait()
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := h.Shutdown(sctx, wire.CloseServiceRestart, "test over"); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return &testDesk{t: t, srv: srv, gw: gw, hub: h, tokens: tokens, desk: svc, presence: tracker, db: db, logs: logs}
}

// conversation opens a conversation for employee, claimed by the first
// agent and joined by the others, and returns its id.
func (d *testDesk) conversation(employee string, agents ...string) string {
	d.t.Helper()
	ctx := context.Background()
	for _, a := range agents {
		err := d.db.CreateAgent(ctx, desk.Agent{ID: a, Username: a, Name: "Agent " + a, PasswordHash: "x"})
		if err != nil && desk.ErrorCode(err) != desk.EConflict {
			d.t.Fatal(err)
		}
	}
	emp := desk.Principal{Role: desk.RoleEmployee, ID: employee}
	c, _, err := d.desk.Create(ctx, emp, conversation.NewConversation{Subject: "VPN down", Body: "VPN 连不上"})
	if err != nil {
		d.t.Fatal(err)
	}
	for i, a := range agents {
		p := desk.Principal{Role: desk.RoleAgent, ID: a}
		if i == 0 {
			_, err = d.desk.Claim(ctx, p, c.ID)
		} else {
			_, err = d.desk.Invite(ctx, desk.Principal{Role: desk.RoleAgent, ID: agents[0]}, c.ID, a)
		}
		if err != nil {
			d.t.Fatal(err)
		}
	}
	return c.ID
}

// login stores a fresh token for user, as the login service would.
func (d *testDesk) login(role desk.Role, id string) string {
	d.t.Helper()
	tok := "tok-" + strings.ReplaceAll(d.t.Name(), "/", "-") + "-" + id + "-" + randHex(d.t)
	if err := d.tokens.Put(context.Background(), role, tok, id, time.Hour); err != nil {
		d.t.Fatalf("put token: %v", err)
	}
	return tok
}

func (d *testDesk) url(role desk.Role, id string) string {
	base := "ws" + strings.TrimPrefix(d.srv.URL, "http")
	if role == desk.RoleEmployee {
		return base + "/ws/h5/" + id
	}
	return base + "/ws/" + id
}

// dial opens a connection the way the seed's browser front end does: the
// token offered as the subprotocol "bearer.{token}".
func (d *testDesk) dial(role desk.Role, id, token string) *client {
	d.t.Helper()
	c, resp, err := d.dialWith(d.url(role, id), []string{"bearer." + token}, nil)
	if err != nil {
		d.t.Fatalf("dial %s %s: %v (response %v)", role, id, err, resp)
	}
	return c
}

// connect logs a user in and dials.
func (d *testDesk) connect(role desk.Role, id string) *client {
	d.t.Helper()
	c := d.dial(role, id, d.login(role, id))
	d.waitConns(role, id, 1)
	return c
}

func (d *testDesk) dialWith(url string, subprotocols []string, header http.Header) (*client, *http.Response, error) {
	dialer := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := dialer.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: d.t, ws: ws}
	d.t.Cleanup(func() { ws.Close() })
	return c, resp, nil
}

// waitConns waits until the hub holds at least n connections of the user.
func (d *testDesk) waitConns(role desk.Role, id string, n int) {
	d.t.Helper()
	waitFor(d.t, "connections registered", func() bool {
		return d.hub.UserConns(desk.Principal{Role: role, ID: id}) >= n
	})
}

// client is a test's side of one WebSocket.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (c *client) send(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("send %s: %v", frame, err)
	}
}

// next returns the next frame, failing the test after a deadline.
func (c *client) next() map[string]any {
	c.t.Helper()
	raw := c.nextRaw()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		c.t.Fatalf("frame is not a JSON object: %s", raw)
	}
	return m
}

func (c *client) nextRaw() []byte {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return data
}

// closed reads until the server closes the connection and returns its close
// frame's code and reason.
func (c *client) closed() (int, string) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code, ce.Text
		}
		c.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer collects log output from many goroutines.
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

func randHex(t *testing.T) string {
	var b [8]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		t.Fatal(err)
	}
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 16)
	for i, v := range b {
		out[2*i], out[2*i+1] = hexdigits[v>>4], hexdigits[v&15]
	}
	return string(out)
}

// redisURL returns the real Redis used by the Redis-backed cases, or skips.
func redisURL(t *testing.T) string {
	u := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if u == "" {
		t.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping Redis-backed gateway tests")
	}
	return u
}
