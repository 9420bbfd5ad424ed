package tokenstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

// harness is what the contract suite needs from one store under test.
type harness struct {
	store desk.TokenStore
	// expire makes a token put with ttl due: the memory store's clock moves
	// on by ttl, the Redis key's TTL drops to a few milliseconds.
	expire func(t *testing.T, role desk.Role, token string, ttl time.Duration)
	// forget removes what a test left in a shared store; nil if nothing is shared.
	forget func(role desk.Role, token string)
}

var roles = []desk.Role{desk.RoleAgent, desk.RoleEmployee}

// runContract checks the desk.TokenStore contract. newStore is called once
// per subtest, so subtests run in parallel without sharing a clock.
func runContract(t *testing.T, newStore func(t *testing.T) harness) {
	for _, role := range roles {
		t.Run("roundtrip/"+string(role), func(t *testing.T) {
			t.Parallel()
			h := newStore(t)
			tok := newToken(t, h)
			mustPut(t, h, role, tok, "u-1", time.Minute)
			wantID(t, h, role, tok, "u-1")
		})
	}

	t.Run("roles do not cross", func(t *testing.T) {
		t.Parallel()
		h := newStore(t)
		agentTok, employeeTok := newToken(t, h), newToken(t, h)
		mustPut(t, h, desk.RoleAgent, agentTok, "a-1", time.Minute)
		mustPut(t, h, desk.RoleEmployee, employeeTok, "e-1", time.Minute)
		wantNotFound(t, h, desk.RoleEmployee, agentTok)
		wantNotFound(t, h, desk.RoleAgent, employeeTok)
	})

	t.Run("missing token is not found", func(t *testing.T) {
		t.Parallel()
		h := newStore(t)
		wantNotFound(t, h, desk.RoleAgent, newToken(t, h))
	})

	t.Run("put replaces", func(t *testing.T) {
		t.Parallel()
		h := newStore(t)
		tok := newToken(t, h)
		mustPut(t, h, desk.RoleAgent, tok, "a-1", time.Minute)
		mustPut(t, h, desk.RoleAgent, tok, "a-2", time.Minute)
		wantID(t, h, desk.RoleAgent, tok, "a-2")
	})

	t.Run("deleted token is not found", func(t *testing.T) {
		t.Parallel()
		h, ctx := newStore(t), t.Context()
		tok := newToken(t, h)
		mustPut(t, h, desk.RoleEmployee, tok, "e-1", time.Minute)
		for range 2 { // the second Delete finds nothing, and still succeeds
			if err := h.store.Delete(ctx, desk.RoleEmployee, tok); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			wantNotFound(t, h, desk.RoleEmployee, tok)
		}
	})

	t.Run("delete all of one user", func(t *testing.T) {
		t.Parallel()
		h, ctx := newStore(t), t.Context()
		user := "u-" + newToken(t, h)[:12] // unique per run: the store may be shared
		mine := []string{newToken(t, h), newToken(t, h)}
		theirs, otherRole := newToken(t, h), newToken(t, h)
		for _, tok := range mine {
			mustPut(t, h, desk.RoleAgent, tok, user, time.Minute)
		}
		mustPut(t, h, desk.RoleAgent, theirs, user+"-other", time.Minute)
		mustPut(t, h, desk.RoleEmployee, otherRole, user, time.Minute)
		n, err := h.store.DeleteAll(ctx, desk.RoleAgent, user)
		if err != nil || n != 2 {
			t.Fatalf("DeleteAll = %d, %v; want 2", n, err)
		}
		for _, tok := range mine {
			wantNotFound(t, h, desk.RoleAgent, tok)
		}
		wantID(t, h, desk.RoleAgent, theirs, user+"-other")
		wantID(t, h, desk.RoleEmployee, otherRole, user)
		if n, err := h.store.DeleteAll(ctx, desk.RoleAgent, user); err != nil || n != 0 {
			t.Fatalf("second DeleteAll = %d, %v; want 0", n, err)
		}
	})

	t.Run("delete of missing token succeeds", func(t *testing.T) {
		t.Parallel()
		h := newStore(t)
		if err := h.store.Delete(t.Context(), desk.RoleAgent, newToken(t, h)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	})

	t.Run("expired token is not found", func(t *testing.T) {
		t.Parallel()
		h := newStore(t)
		tok := newToken(t, h)
		mustPut(t, h, desk.RoleAgent, tok, "a-1", time.Minute)
		wantID(t, h, desk.RoleAgent, tok, "a-1")
		h.expire(t, desk.RoleAgent, tok, time.Minute)
		waitFor(t, "token to expire", func() bool {
			_, err := h.store.Lookup(t.Context(), desk.RoleAgent, tok)
			return desk.ErrorCode(err) == desk.ENotFound
		})
	})

	t.Run("bad puts are refused", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			role    desk.Role
			noToken bool
			id      string
			ttl     time.Duration
		}{
			{"unknown role", "admin", false, "x", time.Minute},
			{"empty token", desk.RoleAgent, true, "x", time.Minute},
			{"empty id", desk.RoleAgent, false, "", time.Minute},
			{"zero ttl, which redis would keep forever", desk.RoleAgent, false, "x", 0},
			{"negative ttl", desk.RoleAgent, false, "x", -time.Second},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newStore(t)
				tok := ""
				if !tt.noToken {
					tok = newToken(t, h)
				}
				err := h.store.Put(t.Context(), tt.role, tok, tt.id, tt.ttl)
				wantCode(t, err, desk.EInvalid)
				if tt.role.Valid() && tok != "" {
					wantNotFound(t, h, tt.role, tok)
				}
			})
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		t.Parallel()
		h, ctx := newStore(t), t.Context()
		shared := newToken(t, h)
		mustPut(t, h, desk.RoleAgent, shared, "shared", time.Minute)
		const workers, rounds = 16, 25
		toks := make([]string, workers)
		for w := range toks {
			toks[w] = newToken(t, h)
		}
		var wg sync.WaitGroup
		for w, tok := range toks {
			role := roles[w%len(roles)]
			wg.Go(func() {
				for r := range rounds {
					id := fmt.Sprintf("u-%d-%d", w, r)
					if err := h.store.Put(ctx, role, tok, id, time.Minute); err != nil {
						t.Errorf("Put: %v", err)
						return
					}
					if got, err := h.store.Lookup(ctx, role, tok); got != id || err != nil {
						t.Errorf("Lookup = %q, %v; want %q", got, err, id)
					}
					if got, err := h.store.Lookup(ctx, desk.RoleAgent, shared); got != "shared" || err != nil {
						t.Errorf("Lookup(shared) = %q, %v", got, err)
					}
					if err := h.store.Delete(ctx, role, tok); err != nil {
						t.Errorf("Delete: %v", err)
					}
					if _, err := h.store.Lookup(ctx, role, tok); desk.ErrorCode(err) != desk.ENotFound {
						t.Errorf("Lookup after Delete: %v, want %s", err, desk.ENotFound)
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestMemory(t *testing.T) {
	runContract(t, func(t *testing.T) harness {
		clock := newFakeClock()
		return harness{
			store: NewMemory(clock.Now),
			expire: func(_ *testing.T, _ desk.Role, _ string, ttl time.Duration) {
				clock.Advance(ttl) // exactly ttl: the deadline itself counts as expired
			},
		}
	})
}

func TestMemoryExpiresAtDeadline(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	h := harness{store: m}
	mustPut(t, h, desk.RoleAgent, "tok", "a-1", time.Minute)
	clock.Advance(time.Minute - time.Nanosecond)
	wantID(t, h, desk.RoleAgent, "tok", "a-1")
	clock.Advance(time.Nanosecond)
	wantNotFound(t, h, desk.RoleAgent, "tok")
}

func TestMemorySweepsExpiredEntries(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	h := harness{store: m}
	const stale = 1000
	for i := range stale {
		mustPut(t, h, desk.RoleEmployee, fmt.Sprintf("old-%d", i), "e-1", time.Minute)
	}
	clock.Advance(time.Minute)
	// No sweep is further away than the map's size after the last one.
	for i := range stale {
		if staleEntries(m) == 0 {
			t.Logf("swept after %d puts", i)
			return
		}
		mustPut(t, h, desk.RoleEmployee, fmt.Sprintf("new-%d", i), "e-2", time.Minute)
	}
	t.Fatalf("%d expired entries remain after %d puts", staleEntries(m), stale)
}

func staleEntries(m *Memory) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.entries {
		if e.expired(m.now()) {
			n++
		}
	}
	return n
}

func TestMemoryNilClockUsesRealTime(t *testing.T) {
	h := harness{store: NewMemory(nil)}
	mustPut(t, h, desk.RoleAgent, "tok", "a-1", time.Hour)
	wantID(t, h, desk.RoleAgent, "tok", "a-1")
}

func TestRedis(t *testing.T) {
	url := redisURL(t)
	ping := NewRedis(openTestRedis(t, url), 0)
	if err := ping.Ping(t.Context()); err != nil {
		t.Fatalf("SERVICEDESK_TEST_REDIS_URL is set but Redis does not answer: %v", err)
	}
	runContract(t, func(t *testing.T) harness { return redisHarness(t, url) })
}

func TestRedisKeyLayout(t *testing.T) {
	h := redisHarness(t, redisURL(t))
	client := h.store.(*Redis).client
	ctx := t.Context()

	t.Run("put writes the seed's plain string key", func(t *testing.T) {
		tok := newToken(t, h)
		mustPut(t, h, desk.RoleAgent, tok, "a-1", time.Minute)
		key := "agent:token:" + tok
		if got, err := client.Get(ctx, key).Result(); got != "a-1" || err != nil {
			t.Fatalf("GET %s = %q, %v; want a-1", key, got, err)
		}
		if ttl, err := client.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("PTTL %s = %v, %v; want in (0, 1m]", key, ttl, err)
		}
	})

	t.Run("lookup finds a key the login service wrote", func(t *testing.T) {
		tok := newToken(t, h)
		if err := client.Set(ctx, "employee:token:"+tok, "zhangsan", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		wantID(t, h, desk.RoleEmployee, tok, "zhangsan")
		wantNotFound(t, h, desk.RoleAgent, tok)
	})

	t.Run("an empty value names no one", func(t *testing.T) {
		tok := newToken(t, h)
		if err := client.Set(ctx, "agent:token:"+tok, "", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		wantNotFound(t, h, desk.RoleAgent, tok)
	})

	t.Run("redis expires the key after a short ttl", func(t *testing.T) {
		tok := newToken(t, h)
		mustPut(t, h, desk.RoleAgent, tok, "a-1", 50*time.Millisecond)
		waitFor(t, "redis to expire the key", func() bool {
			_, err := h.store.Lookup(ctx, desk.RoleAgent, tok)
			return desk.ErrorCode(err) == desk.ENotFound
		})
	})
}

// TestRedisFailsClosed needs no Redis: a store whose server is gone or
// hung must say EUnavailable, never ENotFound, and say it within its timeout.
func TestRedisFailsClosed(t *testing.T) {
	ops := []struct {
		name string
		call func(ctx context.Context, r *Redis) error
	}{
		{"ping", func(ctx context.Context, r *Redis) error { return r.Ping(ctx) }},
		{"put", func(ctx context.Context, r *Redis) error {
			return r.Put(ctx, desk.RoleAgent, "tok", "a-1", time.Minute)
		}},
		{"lookup", func(ctx context.Context, r *Redis) error {
			_, err := r.Lookup(ctx, desk.RoleAgent, "tok")
			return err
		}},
		{"delete", func(ctx context.Context, r *Redis) error { return r.Delete(ctx, desk.RoleAgent, "tok") }},
	}
	servers := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"refused", func(*testing.T) string { return "127.0.0.1:1" }},
		{"hung", hungServer},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			store := NewRedis(openTestRedis(t, "redis://"+srv.addr(t)+"/0"), 200*time.Millisecond)
			for _, op := range ops {
				t.Run(op.name, func(t *testing.T) {
					start := time.Now()
					err := op.call(t.Context(), store)
					if took := time.Since(start); took > time.Second {
						t.Errorf("took %v, want < 1s (timeout 200ms)", took)
					}
					wantCode(t, err, desk.EUnavailable)
					if msg := desk.ErrorMessage(err); msg != "token store unavailable" {
						t.Errorf("message = %q", msg)
					}
				})
			}
		})
	}
}

func TestOpenRedis(t *testing.T) {
	tests := []struct {
		url         string
		wantCode    string
		wantTimeout time.Duration
	}{
		{"redis://127.0.0.1:6379/0", "", redisIOTimeout},
		{"redis://127.0.0.1:6379/0?read_timeout=5s", "", 5 * time.Second},
		{"http://127.0.0.1:6379", desk.EInvalid, 0},
		{"redis://user:s3cret@host:6379/0\x7f", desk.EInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			client, err := OpenRedis(tt.url)
			if tt.wantCode != "" {
				wantCode(t, err, tt.wantCode)
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = client.Close() })
			opts := client.Options()
			if opts.ReadTimeout != tt.wantTimeout || !opts.ContextTimeoutEnabled {
				t.Errorf("ReadTimeout = %v, ContextTimeoutEnabled = %v; want %v, true",
					opts.ReadTimeout, opts.ContextTimeoutEnabled, tt.wantTimeout)
			}
		})
	}
}

func redisURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if url == "" {
		t.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping Redis token store tests")
	}
	return url
}

func openTestRedis(t *testing.T, url string) *redis.Client {
	t.Helper()
	client, err := OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// redisHarness shares one Redis between parallel tests; random tokens keep
// them apart and forget deletes their keys.
func redisHarness(t *testing.T, url string) harness {
	client := openTestRedis(t, url)
	return harness{
		// Generous: a -race run with many goroutines is slow, and this
		// timeout only guards against a hung server.
		store: NewRedis(client, 5*time.Second),
		expire: func(t *testing.T, role desk.Role, token string, _ time.Duration) {
			if err := client.PExpire(t.Context(), desk.TokenKey(role, token), 10*time.Millisecond).Err(); err != nil {
				t.Fatal(err)
			}
		},
		forget: func(role desk.Role, token string) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = client.Del(ctx, desk.TokenKey(role, token)).Err()
		},
	}
}

// hungServer accepts connections and never answers, like a Redis stuck
// in a long command or a half-dead network path.
func hungServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener closed
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// newToken returns a token no other test run uses, forgotten after the test.
func newToken(t *testing.T, h harness) string {
	tok := rand.Text()
	if h.forget != nil {
		t.Cleanup(func() {
			for _, role := range roles {
				h.forget(role, tok)
			}
		})
	}
	return tok
}

func mustPut(t *testing.T, h harness, role desk.Role, token, id string, ttl time.Duration) {
	t.Helper()
	if err := h.store.Put(t.Context(), role, token, id, ttl); err != nil {
		t.Fatalf("Put(%s): %v", role, err)
	}
}

func wantID(t *testing.T, h harness, role desk.Role, token, want string) {
	t.Helper()
	got, err := h.store.Lookup(t.Context(), role, token)
	if err != nil || got != want {
		t.Fatalf("Lookup(%s) = %q, %v; want %q", role, got, err, want)
	}
}

func wantNotFound(t *testing.T, h harness, role desk.Role, token string) {
	t.Helper()
	got, err := h.store.Lookup(t.Context(), role, token)
	if got != "" {
		t.Errorf("Lookup(%s) id = %q, want none", role, got)
	}
	wantCode(t, err, desk.ENotFound)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := desk.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// fakeClock is a settable clock for the memory store.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSQLite and TestPostgres run the contract against the database
// stores a desk without Redis keeps its tokens in. One database serves all
// subtests (random tokens keep them apart); each has a clock of its own.
func TestSQLite(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	runContract(t, func(t *testing.T) harness { return clockHarness(db.Tokens) })
}

func TestPostgres(t *testing.T) {
	db := pgtest.Open(t)
	runContract(t, func(t *testing.T) harness { return clockHarness(db.Tokens) })
}

func clockHarness(open func(now func() time.Time) desk.TokenStore) harness {
	clock := newFakeClock()
	return harness{
		store:  open(clock.Now),
		expire: func(_ *testing.T, _ desk.Role, _ string, ttl time.Duration) { clock.Advance(ttl) },
	}
}

// TestDatabaseStoresFailClosed: with the database gone, every operation of
// the database token stores is "unavailable" (a sign-in is refused, never
// let through), with the same message as Redis's.
func TestDatabaseStoresFailClosed(t *testing.T) {
	stores := map[string]func(t *testing.T) desk.TokenStore{
		"sqlite": func(t *testing.T) desk.TokenStore {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
			if err != nil {
				t.Fatal(err)
			}
			tokens := db.Tokens(nil)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return tokens
		},
		"postgres": func(t *testing.T) desk.TokenStore {
			db := pgtest.Open(t)
			tokens := db.Tokens(nil)
			db.Close() // pgxpool's Close is idempotent, so pgtest's cleanup may close it again
			return tokens
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			_, lookupErr := s.Lookup(ctx, desk.RoleAgent, "some-token-value")
			_, deleteAllErr := s.DeleteAll(ctx, desk.RoleAgent, "a-1")
			for op, err := range map[string]error{
				"put":       s.Put(ctx, desk.RoleAgent, "some-token-value", "a-1", time.Minute),
				"lookup":    lookupErr,
				"delete":    s.Delete(ctx, desk.RoleAgent, "some-token-value"),
				"deleteAll": deleteAllErr,
			} {
				wantCode(t, err, desk.EUnavailable)
				if msg := desk.ErrorMessage(err); msg != "token store unavailable" {
					t.Errorf("%s: message = %q", op, msg)
				}
			}
		})
	}
}
