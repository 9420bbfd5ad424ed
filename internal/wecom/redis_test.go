package wecom_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/wecom"
	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	raw := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if raw == "" {
		t.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping the Redis token cache and state store tests")
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("SERVICEDESK_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("Redis at SERVICEDESK_TEST_REDIS_URL: %v", err)
	}
	return c
}

func unique() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestRedisTokenCacheSharesOneTokenAcrossNodes runs two clients, as two
// nodes, over one Redis: fifty callers spread over both cause one gettoken,
// and a token that expires mid-run is refetched once for the cluster.
func TestRedisTokenCacheSharesOneTokenAcrossNodes(t *testing.T) {
	rdb := testRedis(t)
	opts := wecomfake.DemoOptions()
	opts.CorpID = "wwtest" + unique() // a key of its own in the shared Redis
	s := wecomfake.Start(opts)
	t.Cleanup(s.Close)
	s.SetLatency(20 * time.Millisecond)
	key := "wecom:access_token:" + opts.CorpID + ":1000002"
	t.Cleanup(func() { rdb.Del(t.Context(), key, key+":lock") })

	nodes := make([]*wecom.Client, 2)
	for i := range nodes {
		cfg := demoConfig(s.URL)
		cfg.CorpID = opts.CorpID
		cfg.TokenCache = wecom.NewRedisTokenCache(rdb)
		nodes[i] = newClient(t, cfg)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := nodes[i%2].User(t.Context(), "lisi"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := s.TokenCalls(); n != 1 {
		t.Fatalf("gettoken called %d times by two nodes, want 1", n)
	}
	ttl := rdb.PTTL(t.Context(), key).Val()
	if ttl <= 0 || ttl > 7200*time.Second-wecom.DefaultTokenMargin {
		t.Fatalf("cached token TTL %v, want positive and at most expires_in less the margin", ttl)
	}

	s.ExpireTokens()
	for _, n := range nodes {
		if _, err := n.User(t.Context(), "lisi"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.TokenCalls(); n != 2 {
		t.Fatalf("gettoken called %d times after the token expired, want 2: the second node adopts the first's refetch", n)
	}
}

func TestRedisTokenCacheContract(t *testing.T) {
	rdb := testRedis(t)
	ctx := t.Context()
	c := wecom.NewRedisTokenCache(rdb)
	key := "wecom:test:" + unique()
	t.Cleanup(func() { rdb.Del(ctx, key, key+":lock") })

	if tok, ttl, err := c.Get(ctx, key); tok != "" || ttl != 0 || err != nil {
		t.Fatalf("Get of a missing key = %q, %v, %v", tok, ttl, err)
	}
	if err := c.Set(ctx, key, "T1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if tok, ttl, err := c.Get(ctx, key); tok != "T1" || ttl <= 0 || ttl > time.Minute || err != nil {
		t.Fatalf("Get = %q, %v, %v", tok, ttl, err)
	}
	if err := c.Delete(ctx, key, "T0"); err != nil {
		t.Fatal(err)
	}
	if tok, _, _ := c.Get(ctx, key); tok != "T1" {
		t.Fatal("Delete of a stale token removed the current one")
	}
	if err := c.Delete(ctx, key, "T1"); err != nil {
		t.Fatal(err)
	}
	if tok, _, _ := c.Get(ctx, key); tok != "" {
		t.Fatal("Delete of the current token left it")
	}

	release, ok, err := c.Lock(ctx, key+":lock", time.Minute)
	if !ok || err != nil {
		t.Fatalf("first Lock = %v, %v", ok, err)
	}
	if _, ok, _ := c.Lock(ctx, key+":lock", time.Minute); ok {
		t.Fatal("a second node took a held lock")
	}
	release()
	release2, ok, err := c.Lock(ctx, key+":lock", time.Minute)
	if !ok || err != nil {
		t.Fatalf("Lock after release = %v, %v", ok, err)
	}
	release() // a stale release must not free the new holder's lease
	if _, ok, _ := c.Lock(ctx, key+":lock", time.Minute); ok {
		t.Fatal("a stale release freed another holder's lock")
	}
	release2()
}

func TestStatesWithRedisNonces(t *testing.T) {
	rdb := testRedis(t)
	runStateContract(t, func() wecom.NonceStore { return wecom.NewRedisNonces(rdb) })

	// The nonce lives as long as the state could: no longer, no shorter.
	n := wecom.NewRedisNonces(rdb)
	nonce := unique()
	if ok, err := n.Claim(t.Context(), nonce, time.Minute); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if ttl := rdb.PTTL(t.Context(), "wecom:state:"+nonce).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("nonce TTL %v, want within a minute", ttl)
	}
	if ok, _ := n.Claim(t.Context(), nonce, time.Minute); ok {
		t.Fatal("a nonce was claimed twice")
	}
}
