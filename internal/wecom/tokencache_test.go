package wecom_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/servicedesk/servicedesk/internal/wecom"
	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

// memCache is a TokenCache in memory, standing in for Redis where a test
// needs to play the other node: hold the lease, fail.
type memCache struct {
	mu     sync.Mutex
	tokens map[string]memEntry
	locks  map[string]time.Time
	broken bool
}

type memEntry struct {
	tok     string
	expires time.Time
}

func newMemCache() *memCache {
	return &memCache{tokens: map[string]memEntry{}, locks: map[string]time.Time{}}
}

var errBroken = errors.New("cache down")

func (m *memCache) Get(_ context.Context, key string) (string, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.broken {
		return "", 0, errBroken
	}
	e, ok := m.tokens[key]
	if !ok || !time.Now().Before(e.expires) {
		return "", 0, nil
	}
	return e.tok, time.Until(e.expires), nil
}

func (m *memCache) Set(_ context.Context, key, tok string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.broken {
		return errBroken
	}
	m.tokens[key] = memEntry{tok, time.Now().Add(ttl)}
	return nil
}

func (m *memCache) Delete(_ context.Context, key, tok string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.broken {
		return errBroken
	}
	if m.tokens[key].tok == tok {
		delete(m.tokens, key)
	}
	return nil
}

func (m *memCache) Lock(_ context.Context, key string, ttl time.Duration) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.broken {
		return func() {}, false, errBroken
	}
	if exp, held := m.locks[key]; held && time.Now().Before(exp) {
		return func() {}, false, nil
	}
	m.locks[key] = time.Now().Add(ttl)
	return func() { m.unlock(key) }, true, nil
}

func (m *memCache) unlock(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.locks, key)
}

func bubbleWithCache(t *testing.T, cache wecom.TokenCache) (*wecomfake.Fake, *wecom.Client) {
	f := wecomfake.New(wecomfake.DemoOptions())
	cfg := demoConfig("http://wecom.fake")
	cfg.HTTPClient = &http.Client{Transport: f.Transport()}
	cfg.TokenCache = cache
	return f, newClient(t, cfg)
}

const demoKey = "wecom:access_token:" + wecomfake.DemoCorpID + ":1000002"

func TestTokenCacheLeaseHeldElsewhere(t *testing.T) {
	t.Run("the holder stores a token: adopt it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cache := newMemCache()
			release, _, _ := cache.Lock(t.Context(), demoKey+":lock", 10*time.Second)
			f, c := bubbleWithCache(t, cache)
			go func() {
				time.Sleep(time.Second) // the other node's gettoken
				_ = cache.Set(context.Background(), demoKey, "TOKEN-FROM-NODE-B", time.Hour)
				release()
			}()
			start := time.Now()
			if err := c.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			if f.TokenCalls() != 0 || time.Since(start) > 2*time.Second {
				t.Fatalf("gettoken %d times after %v; want the other node's token", f.TokenCalls(), time.Since(start))
			}
		})
	})
	t.Run("the holder gives up: take the lease", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cache := newMemCache()
			release, _, _ := cache.Lock(t.Context(), demoKey+":lock", 10*time.Second)
			f, c := bubbleWithCache(t, cache)
			go func() {
				time.Sleep(time.Second)
				release() // its gettoken failed
			}()
			start := time.Now()
			if err := c.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			if f.TokenCalls() != 1 || time.Since(start) > 2*time.Second {
				t.Fatalf("gettoken %d times after %v", f.TokenCalls(), time.Since(start))
			}
			if tok, _, _ := cache.Get(t.Context(), demoKey); tok == "" {
				t.Fatal("the token was not shared")
			}
		})
	})
	t.Run("the holder died: fetch after the lease", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cache := newMemCache()
			_, _, _ = cache.Lock(t.Context(), demoKey+":lock", time.Hour) // never released
			f, c := bubbleWithCache(t, cache)
			start := time.Now()
			if err := c.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); f.TokenCalls() != 1 || d < 10*time.Second || d > 11*time.Second {
				t.Fatalf("gettoken %d times after %v; want one, after the 10 s lease", f.TokenCalls(), d)
			}
		})
	})
}

func TestTokenCacheDownDoesNotStopTheClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache := newMemCache()
		cache.broken = true
		f, c := bubbleWithCache(t, cache)
		if _, err := c.User(t.Context(), "lisi"); err != nil {
			t.Fatalf("User with the cache down = %v", err)
		}
		if _, err := c.User(t.Context(), "lisi"); err != nil || f.TokenCalls() != 1 {
			t.Fatalf("gettoken %d times, %v; want the process cache to hold", f.TokenCalls(), err)
		}
	})
}
