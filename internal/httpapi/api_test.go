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
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
)

const (
	testTTL      = 2 * time.Hour
	testPassword = "correct-horse"
)

// fixedClock never moves: rate-limit windows then last exactly as long as
// the test says.
func fixedClock() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }

// lockedBuffer lets the test read log output that server goroutines write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is the API over real HTTP, on a real SQLite store and the
// memory token store and bus.
type testServer struct {
	*httptest.Server
	db      *sqlite.DB
	tokens  *tokenstore.Memory
	agentID string // of "alice", password testPassword
	logs    *lockedBuffer

	mu     sync.Mutex
	events []desk.Event
}

func newTestServer(t *testing.T, dev bool) *testServer {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	ts := &testServer{db: db, tokens: tokenstore.NewMemory(fixedClock), logs: new(lockedBuffer)}
	log := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := auth.New(auth.Config{
		Agents: db,
		Tokens: ts.tokens,
		Bus: bus.NewMemory(func(ev desk.Event) {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			ts.events = append(ts.events, ev)
		}),
		TokenTTL:   testTTL,
		Log:        log,
		Now:        fixedClock,
		BcryptCost: bcrypt.MinCost,
	})
	a, err := svc.CreateAgent(ctx, "alice", "Alice", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	ts.agentID = a.ID

	mux := http.NewServeMux()
	(&API{Auth: svc, Dev: dev, Log: log}).Routes(mux)
	ts.Server = httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) published() []desk.Event {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]desk.Event(nil), ts.events...)
}

// post sends body as JSON (unless contentType says otherwise) with the
// optional Authorization header, and returns the response with its body read.
func (ts *testServer) post(t *testing.T, path, contentType, authorization, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (ts *testServer) login(t *testing.T, username, password string) (*http.Response, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	return ts.post(t, "/api/agents/login", "application/json", "", string(body))
}

// wantError checks an error response's status, JSON shape and code.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) errorDetail {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error = %+v, want code %q and a message", e.Error, code)
	}
	return e.Error
}

func TestLogin(t *testing.T) {
	ts := newTestServer(t, false)

	t.Run("success", func(t *testing.T) {
		resp, body := ts.login(t, "alice", testPassword)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d; body %s", resp.StatusCode, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		var got loginResponse
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.AgentID != ts.agentID || got.ExpiresIn != int64(testTTL/time.Second) || len(got.Token) != 43 {
			t.Errorf("response = %s", body)
		}
		if id, err := ts.tokens.Lookup(context.Background(), desk.RoleAgent, got.Token); err != nil || id != ts.agentID {
			t.Errorf("token store has %q, %v", id, err)
		}
	})

	for _, tt := range []struct{ name, username, password string }{
		{"wrong password", "alice", "wrong-password"},
		{"unknown username", "bob", testPassword},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.login(t, tt.username, tt.password)
			e := wantError(t, resp, body, http.StatusUnauthorized, desk.EUnauthorized)
			if e.Message != "invalid username or password" {
				t.Errorf("message = %q", e.Message)
			}
		})
	}
}

func TestLoginRateLimited(t *testing.T) {
	ts := newTestServer(t, false)
	for range auth.MaxFailuresPerUsername {
		resp, body := ts.login(t, "alice", "wrong-password")
		wantError(t, resp, body, http.StatusUnauthorized, desk.EUnauthorized)
	}
	resp, body := ts.login(t, "alice", testPassword)
	wantError(t, resp, body, http.StatusTooManyRequests, desk.ERateLimited)
	// The clock stands still, so the whole window remains.
	if got, want := resp.Header.Get("Retry-After"), "900"; got != want {
		t.Errorf("Retry-After = %q, want %q", got, want)
	}
}

func TestBadRequests(t *testing.T) {
	ts := newTestServer(t, true)
	tests := []struct {
		name, path, contentType, body string
		wantMessage                   string // a substring
	}{
		{"malformed JSON", "/api/agents/login", "application/json", `{"username": "alice",`, "not valid JSON"},
		{"not JSON at all", "/api/agents/login", "application/json", `username=alice`, "not valid JSON"},
		{"empty body", "/api/agents/login", "application/json", ``, "empty"},
		{"array", "/api/agents/login", "application/json", `[]`, "JSON object"},
		{"wrong field type", "/api/agents/login", "application/json", `{"username": 1, "password": "x"}`, `"username"`},
		{"two objects", "/api/agents/login", "application/json", `{"username": "a"} {"password": "b"}`, "single JSON object"},
		{"form content type", "/api/agents/login", "application/x-www-form-urlencoded", `{"username": "a", "password": "b"}`, "Content-Type"},
		{"no content type", "/api/agents/login", "", `{"username": "a", "password": "b"}`, "Content-Type"},
		{"too large", "/api/agents/login", "application/json", `{"username": "` + strings.Repeat("a", maxBodyBytes) + `"}`, "at most"},
		{"missing password", "/api/agents/login", "application/json", `{"username": "alice"}`, "required"},
		{"bad employee id", "/api/h5/mock-login", "application/json", `{"employee_id": "a b", "name": "x"}`, "employee id"},
		{"mock login malformed", "/api/h5/mock-login", "application/json", `{`, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.post(t, tt.path, tt.contentType, "", tt.body)
			e := wantError(t, resp, body, http.StatusBadRequest, desk.EInvalid)
			if !strings.Contains(e.Message, tt.wantMessage) {
				t.Errorf("message = %q, want it to mention %q", e.Message, tt.wantMessage)
			}
		})
	}
	// Unknown fields are ignored, as the seed's FastAPI models ignored them,
	// so its front ends may keep sending whatever extra they send.
	resp, body := ts.post(t, "/api/agents/login", "application/json", "",
		`{"username": "alice", "password": "`+testPassword+`", "remember_me": true}`)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with an extra field: status %d, body %s", resp.StatusCode, body)
	}
	// The charset parameter is fine.
	resp, body = ts.post(t, "/api/agents/login", "application/json; charset=utf-8", "",
		`{"username": "alice", "password": "`+testPassword+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with charset: status %d, body %s", resp.StatusCode, body)
	}
}

func TestMockLoginOnlyInDev(t *testing.T) {
	const body = `{"employee_id": "ZhangSan", "name": "张三"}`
	t.Run("production", func(t *testing.T) {
		ts := newTestServer(t, false)
		resp, _ := ts.post(t, "/api/h5/mock-login", "application/json", "", body)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status = %d, want 404", resp.StatusCode)
		}
	})
	t.Run("dev", func(t *testing.T) {
		ts := newTestServer(t, true)
		resp, b := ts.post(t, "/api/h5/mock-login", "application/json", "", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d; body %s", resp.StatusCode, b)
		}
		var got mockLoginResponse
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.EmployeeID != "ZhangSan" || got.ExpiresIn != int64(testTTL/time.Second) {
			t.Errorf("response = %s", b)
		}
		if id, err := ts.tokens.Lookup(context.Background(), desk.RoleEmployee, got.Token); err != nil || id != "ZhangSan" {
			t.Errorf("token store has %q, %v", id, err)
		}
	})
}

func TestLogout(t *testing.T) {
	ts := newTestServer(t, false)
	resp, body := ts.login(t, "alice", testPassword)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var lr loginResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		t.Fatal(err)
	}

	resp, body = ts.post(t, "/api/logout", "", "Bearer "+lr.Token, "")
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("logout: status %d, body %q; want 204 and no body", resp.StatusCode, body)
	}
	if _, err := ts.tokens.Lookup(context.Background(), desk.RoleAgent, lr.Token); desk.ErrorCode(err) != desk.ENotFound {
		t.Errorf("after logout Lookup = %v, want not_found", err)
	}
	evs := ts.published()
	want := desk.Audience{Kind: desk.ToToken, Fingerprint: desk.TokenFingerprint(lr.Token)}
	if len(evs) != 1 || !reflect.DeepEqual(evs[0].To, want) || evs[0].Close == nil || evs[0].Close.Code != 4001 {
		t.Errorf("published %+v, want one close (4001) to %+v", evs, want)
	}

	for _, tt := range []struct{ name, authorization string }{
		{"same token again", "Bearer " + lr.Token},
		{"no header", ""},
		{"other scheme", "Basic " + lr.Token},
		{"empty token", "Bearer "},
		{"unknown token", "Bearer never-issued"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.post(t, "/api/logout", "", tt.authorization, "")
			wantError(t, resp, body, http.StatusUnauthorized, desk.EUnauthorized)
			if resp.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if n := len(ts.published()); n != 1 {
		t.Errorf("%d events published in all, want only the first logout's", n)
	}
}

func TestLogoutSchemeIsCaseInsensitive(t *testing.T) {
	ts := newTestServer(t, true)
	_, b := ts.post(t, "/api/h5/mock-login", "application/json", "", `{"employee_id": "zhangsan"}`)
	var got mockLoginResponse
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.post(t, "/api/logout", "", "bearer "+got.Token, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("status = %d, body %s", resp.StatusCode, body)
	}
}

func TestInternalErrorIsHidden(t *testing.T) {
	ts := newTestServer(t, false)
	ts.db.Close() // every lookup now fails inside the store
	resp, body := ts.login(t, "alice", testPassword)
	e := wantError(t, resp, body, http.StatusInternalServerError, desk.EInternal)
	if e.Message != "internal error" {
		t.Errorf("message = %q, want %q", e.Message, "internal error")
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "internal error") || !strings.Contains(logs, "closed") {
		t.Errorf("the cause was not logged:\n%s", logs)
	}
}

func TestWrongMethod(t *testing.T) {
	ts := newTestServer(t, false)
	resp, err := ts.Client().Get(ts.URL + "/api/agents/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET login: status %d, want 405", resp.StatusCode)
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	ts := newTestServer(t, true)
	var tokens []string
	resp, body := ts.login(t, "alice", testPassword)
	var lr loginResponse
	if err := json.Unmarshal(body, &lr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	tokens = append(tokens, lr.Token)
	ts.login(t, "alice", testPassword+"-typo")
	ts.login(t, "nobody", testPassword)
	ts.post(t, "/api/agents/login", "application/json", "", `{"username": "alice", "password": "`+testPassword+`", "x": 1}`)
	_, b := ts.post(t, "/api/h5/mock-login", "application/json", "", `{"employee_id": "zhangsan"}`)
	var mr mockLoginResponse
	if err := json.Unmarshal(b, &mr); err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, mr.Token)
	for _, tok := range tokens {
		ts.post(t, "/api/logout", "", "Bearer "+tok, "")
	}
	ts.post(t, "/api/logout", "", "Bearer "+tokens[0], "") // already revoked
	ts.db.Close()
	ts.login(t, "alice", testPassword) // an internal error, logged with its cause

	logs := ts.logs.String()
	for _, want := range []string{"agent logged in", "login failed", "logged out", "internal error"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, secret := range append(tokens, testPassword) {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains secret %q:\n%s", secret, logs)
		}
	}
}
