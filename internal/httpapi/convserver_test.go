package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
)

// The agents every conversation test server has.
const (
	alice = "agt_alice"
	bob   = "agt_bob"
	carol = "agt_carol"
)

// convServer is the whole API over real HTTP, with a running conversation
// service on a real SQLite file and the memory token store and bus.
type convServer struct {
	*httptest.Server
	tokens *tokenstore.Memory
	logs   *lockedBuffer
}

func newConvServer(t *testing.T, configure ...func(*API)) *convServer {
	t.Helper()
	return newConvServerDB(t, func(api *API, _ *sqlite.DB) {
		for _, c := range configure {
			c(api)
		}
	})
}

// newConvServerDB is newConvServer for a configuration that needs the
// database: services of its own built on it, agents of another role.
func newConvServerDB(t *testing.T, configure func(*API, *sqlite.DB)) *convServer {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, id := range []string{alice, bob, carol} {
		name := strings.ToUpper(id[4:5]) + id[5:]
		if err := db.CreateAgent(ctx, desk.Agent{ID: id, Username: id[4:], Name: name, PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	logs := new(lockedBuffer)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tokens := tokenstore.NewMemory(nil)
	b := bus.NewMemory(func(desk.Event) {})

	svc := conversation.New(conversation.Config{Store: db, Agents: db, Bus: b, Log: log})
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); svc.Run(runCtx) }()
	// Cleanups run last-registered first: the HTTP server closes, then the
	// service stops, then the database closes.
	t.Cleanup(func() { stop(); <-stopped })

	api := &API{
		Auth: auth.New(auth.Config{
			Agents: db, Tokens: tokens, Bus: b, TokenTTL: testTTL, Log: log, BcryptCost: bcrypt.MinCost,
		}),
		Dev: true, Log: log, Tokens: tokens, Conversations: svc,
	}
	configure(api, db)
	mux := http.NewServeMux()
	api.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return &convServer{Server: srv, tokens: tokens, logs: logs}
}

// token logs id in as role by putting a token in the store directly.
func (cs *convServer) token(t *testing.T, role desk.Role, id string) string {
	t.Helper()
	tok := "tok-" + string(role) + "-" + id
	if err := cs.tokens.Put(context.Background(), role, tok, id, time.Hour); err != nil {
		t.Fatal(err)
	}
	return tok
}

// call sends a request with token (if any) and body: none when nil, a
// string as it is, anything else as JSON.
func (cs *convServer) call(t *testing.T, method, path, token string, body any) (*http.Response, []byte) {
	t.Helper()
	resp, raw, err := cs.do(method, path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// do is call for goroutines other than the test's, which must not Fatal.
func (cs *convServer) do(method, path, token string, body any) (*http.Response, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, cs.URL+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := cs.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

// ok calls and decodes a successful answer with the wanted status into T.
func ok[T any](t *testing.T, cs *convServer, status int, method, path, token string, body any) T {
	t.Helper()
	resp, raw := cs.call(t, method, path, token, body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, status, raw)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, raw)
	}
	return v
}

// refused calls and checks the error answer's status and code.
func refused(t *testing.T, cs *convServer, status int, code, method, path, token string, body any) errorDetail {
	t.Helper()
	resp, raw := cs.call(t, method, path, token, body)
	return wantError(t, resp, raw, status, code)
}

func (cs *convServer) create(t *testing.T, employee, subject, clientMsgID string) conversation.View {
	t.Helper()
	return ok[conversation.View](t, cs, http.StatusCreated, "POST", "/api/h5/conversations", employee,
		map[string]string{"subject": subject, "category": "network", "body": "VPN 连不上", "client_msg_id": clientMsgID})
}

func (cs *convServer) get(t *testing.T, token, id string) conversation.View {
	t.Helper()
	return ok[conversation.View](t, cs, http.StatusOK, "GET", "/api/conversations/"+id, token, nil)
}

func (cs *convServer) claim(t *testing.T, agent, id string) desk.Conversation {
	t.Helper()
	return ok[desk.Conversation](t, cs, http.StatusOK, "POST", "/api/conversations/"+id+"/claim", agent, nil)
}

func (cs *convServer) send(t *testing.T, token, id, body string) sentMessage {
	t.Helper()
	return ok[sentMessage](t, cs, http.StatusCreated, "POST", "/api/conversations/"+id+"/messages", token,
		map[string]string{"body": body})
}

func (cs *convServer) list(t *testing.T, token, path string) conversation.Page {
	t.Helper()
	return ok[conversation.Page](t, cs, http.StatusOK, "GET", path, token, nil)
}

func (cs *convServer) events(t *testing.T, token, id, query string) eventsPage {
	t.Helper()
	return ok[eventsPage](t, cs, http.StatusOK, "GET", "/api/conversations/"+id+"/events"+query, token, nil)
}

func ids(p conversation.Page) []string {
	out := []string{}
	for _, s := range p.Conversations {
		out = append(out, s.ID)
	}
	return out
}

func summary(t *testing.T, p conversation.Page, id string) conversation.Summary {
	t.Helper()
	for _, s := range p.Conversations {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("conversation %s not in list %v", id, ids(p))
	return conversation.Summary{}
}

func (cs *convServer) note(t *testing.T, agent, id, body string) {
	t.Helper()
	ok[desk.ConvEvent](t, cs, http.StatusCreated, "POST", "/api/conversations/"+id+"/notes", agent, map[string]string{"body": body})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}

func isActiveIn(v conversation.View, role desk.Role, id string) bool {
	for _, p := range v.Participants {
		if p.Role == role && p.ID == id {
			return p.Active
		}
	}
	return false
}

func lastReadOf(v conversation.View, role desk.Role, id string) int64 {
	for _, p := range v.Participants {
		if p.Role == role && p.ID == id {
			return p.LastReadSeq
		}
	}
	return -1
}

func hasEvent(evs []desk.ConvEvent, seq int64, typ desk.EventType) bool {
	for _, ev := range evs {
		if ev.Seq == seq && ev.Type == typ {
			return true
		}
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
