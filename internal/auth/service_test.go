package auth

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
)

const testTTL = time.Hour

// testEnv is a Service on a real SQLite store, memory token store and
// memory bus, with its clock, log output and published events in reach.
type testEnv struct {
	svc    *Service
	tokens *tokenstore.Memory
	clock  *fakeClock
	logs   *bytes.Buffer // written under the handler's own lock

	mu     sync.Mutex
	events []desk.Event
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	e := &testEnv{clock: newFakeClock(), logs: new(bytes.Buffer)}
	e.tokens = tokenstore.NewMemory(e.clock.Now)
	e.svc = New(Config{
		Agents: db,
		Tokens: e.tokens,
		Bus: bus.NewMemory(func(ev desk.Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		}),
		TokenTTL:   testTTL,
		Log:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        e.clock.Now,
		BcryptCost: bcrypt.MinCost,
	})
	return e
}

func (e *testEnv) published() []desk.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]desk.Event(nil), e.events...)
}

func (e *testEnv) createAgent(t *testing.T, username, password string) desk.Agent {
	t.Helper()
	a, err := e.svc.CreateAgent(context.Background(), username, "Agent "+username, password)
	if err != nil {
		t.Fatalf("CreateAgent(%q): %v", username, err)
	}
	return a
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := desk.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func TestServiceWithoutTokenDeps(t *testing.T) {
	// The agent-adding command builds a Service with only an AgentStore.
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := New(Config{Agents: db, BcryptCost: bcrypt.MinCost})
	if _, err := svc.CreateAgent(ctx, "alice", "Alice", "password-1"); err != nil {
		t.Fatalf("CreateAgent: %v", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Login", func() error { _, _, _, err := svc.Login(ctx, "alice", "password-1", "192.0.2.1"); return err }},
		{"MockLogin", func() error { _, _, err := svc.MockLogin(ctx, "zhangsan", ""); return err }},
		{"Logout", func() error { return svc.Logout(ctx, "some-token") }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.call(), desk.EInternal)
		})
	}
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	alice := e.createAgent(t, "alice", "password-1")

	t.Run("right password", func(t *testing.T) {
		token, agentID, expiresIn, err := e.svc.Login(ctx, "alice", "password-1", "192.0.2.1")
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if agentID != alice.ID || expiresIn != testTTL {
			t.Errorf("Login = agent %q, expires %v; want %q, %v", agentID, expiresIn, alice.ID, testTTL)
		}
		id, err := e.tokens.Lookup(ctx, desk.RoleAgent, token)
		if err != nil || id != alice.ID {
			t.Errorf("token store has %q, %v; want %q", id, err, alice.ID)
		}
	})

	failures := []struct {
		name, username, password string
	}{
		{"wrong password", "alice", "password-2"},
		{"empty password", "alice", ""},
		{"unknown username", "bob", "password-1"},
		{"username differs in case", "Alice", "password-1"},
		{"malformed username", "alice smith", "password-1"},
		{"empty username", "", "password-1"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			token, _, _, err := e.svc.Login(ctx, tt.username, tt.password, "192.0.2.2")
			wantCode(t, err, desk.EUnauthorized)
			if msg := desk.ErrorMessage(err); msg != "invalid username or password" {
				t.Errorf("message = %q", msg)
			}
			if token != "" {
				t.Errorf("token %q issued on failure", token)
			}
		})
	}
}

// TestLoginRateLimitPerUsernameAndAddress: guessing one account's password
// from one address is throttled there; the owner, from their own address,
// still signs in with the right password: no lockout of the account.
func TestLoginRateLimitPerUsernameAndAddress(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	e.createAgent(t, "alice", "password-1")

	for range MaxFailuresPerUsername {
		_, _, _, err := e.svc.Login(ctx, "alice", "wrong-password", "192.0.2.7")
		wantCode(t, err, desk.EUnauthorized)
	}
	e.clock.Advance(time.Minute)

	// The guesser's address is refused, even with the right password, and
	// told for how long.
	_, _, _, err := e.svc.Login(ctx, "alice", "password-1", "192.0.2.7")
	wantCode(t, err, desk.ERateLimited)
	if wait, ok := RetryAfter(err); !ok || wait != FailureWindow-time.Minute {
		t.Errorf("RetryAfter = %v, %v; want %v", wait, ok, FailureWindow-time.Minute)
	}
	// Alice at her own desk is not locked out.
	if _, _, _, err := e.svc.Login(ctx, "alice", "password-1", "198.51.100.1"); err != nil {
		t.Errorf("Login(alice) from her own address = %v", err)
	}
	e.clock.Advance(FailureWindow)
	if _, _, _, err := e.svc.Login(ctx, "alice", "password-1", "192.0.2.7"); err != nil {
		t.Errorf("Login after the window = %v", err)
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	e.createAgent(t, "alice", "password-1")

	for i := range MaxFailuresPerAddress {
		// Many usernames, malformed ones included, from one address.
		user := "nobody" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if i%5 == 0 {
			user = "not valid!"
		}
		_, _, _, err := e.svc.Login(ctx, user, "wrong-password", "2001:db8::1")
		wantCode(t, err, desk.EUnauthorized)
	}
	// The same /64 is the same client.
	_, _, _, err := e.svc.Login(ctx, "alice", "password-1", "2001:db8::2")
	wantCode(t, err, desk.ERateLimited)
	if _, ok := RetryAfter(err); !ok {
		t.Error("RetryAfter not set")
	}
	if _, _, _, err := e.svc.Login(ctx, "alice", "password-1", "2001:db8:0:1::1"); err != nil {
		t.Errorf("Login from another /64 = %v", err)
	}
}

func TestLoginSuccessResetsUsernameFailures(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	e.createAgent(t, "alice", "password-1")
	fail := func(n int) {
		t.Helper()
		for i := range n {
			_, _, _, err := e.svc.Login(ctx, "alice", "wrong-password", fmt.Sprintf("192.0.2.%d", i+1))
			wantCode(t, err, desk.EUnauthorized)
		}
	}
	fail(MaxFailuresPerUsername - 1)
	if _, _, _, err := e.svc.Login(ctx, "alice", "password-1", "192.0.2.200"); err != nil {
		t.Fatal(err)
	}
	fail(MaxFailuresPerUsername) // would hit the limit had the count survived
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an ip", "not an ip"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := addressKey(tt.in); got != tt.want {
				t.Errorf("addressKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMockLogin(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	tests := []struct {
		name, id, display string
		wantCode          string
	}{
		{"wecom id", "ZhangSan", "张三", ""},
		{"no name", "li.si@corp", "", ""},
		{"empty id", "", "x", desk.EInvalid},
		{"id with space", "zhang san", "x", desk.EInvalid},
		{"id too long", strings.Repeat("a", 65), "x", desk.EInvalid},
		{"name too long", "wangwu", strings.Repeat("名", 65), desk.EInvalid},
		{"name with control character", "wangwu", "a\nb", desk.EInvalid},
		{"name not utf-8", "wangwu", "\xff", desk.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, expiresIn, err := e.svc.MockLogin(ctx, tt.id, tt.display)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if expiresIn != testTTL {
				t.Errorf("expiresIn = %v, want %v", expiresIn, testTTL)
			}
			if id, err := e.tokens.Lookup(ctx, desk.RoleEmployee, token); err != nil || id != tt.id {
				t.Errorf("token store has %q, %v; want %q", id, err, tt.id)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	e.createAgent(t, "alice", "password-1")
	agentToken, _, _, err := e.svc.Login(ctx, "alice", "password-1", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	employeeToken, _, err := e.svc.MockLogin(ctx, "zhangsan", "")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		role  desk.Role
		token string
	}{
		{"agent", desk.RoleAgent, agentToken},
		{"employee", desk.RoleEmployee, employeeToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.published())
			if err := e.svc.Logout(ctx, tt.token); err != nil {
				t.Fatalf("Logout: %v", err)
			}
			_, err := e.tokens.Lookup(ctx, tt.role, tt.token)
			wantCode(t, err, desk.ENotFound)

			evs := e.published()[before:]
			want := desk.Event{
				To:    desk.Audience{Kind: desk.ToToken, Fingerprint: desk.TokenFingerprint(tt.token)},
				Close: &desk.Close{Code: 4001, Reason: "Token revoked"},
			}
			if len(evs) != 1 || !reflect.DeepEqual(evs[0].To, want.To) || evs[0].Close == nil || *evs[0].Close != *want.Close || evs[0].Frame != nil {
				t.Errorf("published %+v, want one %+v", evs, want)
			}

			// A second logout finds nothing to revoke.
			wantCode(t, e.svc.Logout(ctx, tt.token), desk.EUnauthorized)
		})
	}

	for _, token := range []string{"", "never-issued", strings.Repeat("x", maxTokenBytes+1)} {
		t.Run("unknown token "+token[:min(len(token), 12)], func(t *testing.T) {
			before := len(e.published())
			wantCode(t, e.svc.Logout(ctx, token), desk.EUnauthorized)
			if n := len(e.published()) - before; n != 0 {
				t.Errorf("%d events published for an unknown token", n)
			}
		})
	}
}

func TestLogoutSurvivesCanceledRequest(t *testing.T) {
	e := newTestEnv(t)
	token, _, err := e.svc.MockLogin(context.Background(), "zhangsan", "")
	if err != nil {
		t.Fatal(err)
	}
	// The client hangs up after the token is deleted: the close must still go
	// out. The memory stores ignore ctx, so cancel before calling; the bus
	// checks it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.svc.Logout(ctx, token); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if n := len(e.published()); n != 1 {
		t.Errorf("%d events published, want 1", n)
	}
}

func TestCreateAgent(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	tests := []struct {
		name, username, display, password string
		wantCode                          string
	}{
		{"valid", "zhang.san@corp", "张三", "password", ""},
		{"72-byte password", "long", "Long", strings.Repeat("p", 72), ""},
		{"empty username", "", "X", "password", desk.EInvalid},
		{"username with space", "a b", "X", "password", desk.EInvalid},
		{"username too long", strings.Repeat("u", 65), "X", "password", desk.EInvalid},
		{"empty name", "n1", "", "password", desk.EInvalid},
		{"blank name", "n2", "   ", "password", desk.EInvalid},
		{"name too long", "n3", strings.Repeat("名", 65), "password", desk.EInvalid},
		{"short password", "p1", "X", "passwor", desk.EInvalid},
		{"long password", "p2", "X", strings.Repeat("p", 73), desk.EInvalid},
		{"demo password outside dev seeding", "p3", "X", "demo", desk.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := e.svc.CreateAgent(ctx, tt.username, tt.display, tt.password)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if !strings.HasPrefix(a.ID, "agt_") || len(a.ID) != 20 || a.Username != tt.username || a.Name != tt.display {
				t.Errorf("CreateAgent = %v %q", a, a.Name)
			}
			if strings.Contains(a.PasswordHash, tt.password) || !CheckPassword(a.PasswordHash, tt.password) {
				t.Error("password hash does not check out")
			}
			if _, _, _, err := e.svc.Login(ctx, tt.username, tt.password, "192.0.2.1"); err != nil {
				t.Errorf("Login as the new agent: %v", err)
			}
		})
	}

	t.Run("taken username", func(t *testing.T) {
		e.createAgent(t, "taken", "password")
		_, err := e.svc.CreateAgent(ctx, "taken", "Other", "password")
		wantCode(t, err, desk.EConflict)
	})
}

func TestEnsureDemoAgent(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	var ids []string
	for range 2 {
		if err := e.svc.EnsureDemoAgent(ctx); err != nil {
			t.Fatal(err)
		}
		_, agentID, _, err := e.svc.Login(ctx, DemoUsername, DemoPassword, "192.0.2.1")
		if err != nil {
			t.Fatalf("Login(demo) = %v", err)
		}
		ids = append(ids, agentID)
	}
	if ids[0] != ids[1] {
		t.Errorf("EnsureDemoAgent made a second demo agent: %v", ids)
	}
	a, err := e.svc.agents.AgentByUsername(ctx, DemoUsername)
	if err != nil || a.Name != DemoName {
		t.Errorf("demo agent = %v %q, %v", a, a.Name, err)
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	const password = "s3cret-passw0rd"
	e.createAgent(t, "alice", password)

	agentToken, _, _, err := e.svc.Login(ctx, "alice", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Login(ctx, "alice", password+"x", "192.0.2.1")
	e.svc.Login(ctx, "nobody", password, "192.0.2.1")
	employeeToken, _, err := e.svc.MockLogin(ctx, "zhangsan", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{agentToken, employeeToken} {
		if err := e.svc.Logout(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}

	logs := e.logs.String()
	if !strings.Contains(logs, "login failed") || !strings.Contains(logs, "logged out") {
		t.Fatalf("expected log lines missing:\n%s", logs)
	}
	for _, secret := range []string{password, agentToken, employeeToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("log output contains a secret %q:\n%s", secret, logs)
		}
	}
}
