package auth

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisLimiterCountsAcrossNodes: two nodes sharing Redis allow a key
// its limit once, not once each; a Redis that is gone leaves each node
// throttling on its own.
func TestRedisLimiterCountsAcrossNodes(t *testing.T) {
	u := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if u == "" {
		t.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping the Redis limiter")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	prefix := "test-" + rand.Text()
	a := NewRedisLimiter(client, prefix, 4, time.Minute)
	b := NewRedisLimiter(client, prefix, 4, time.Minute)
	defer client.Del(context.Background(), a.key("alice|192.0.2.1"))
	for i := range 4 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if ok, _ := l.Attempt("alice|192.0.2.1"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	for _, l := range []*RedisLimiter{a, b} {
		if ok, wait := l.Attempt("alice|192.0.2.1"); ok || wait <= 0 || wait > time.Minute {
			t.Fatalf("a fifth attempt on either node: ok=%v wait=%v", ok, wait)
		}
	}
	a.Reset("alice|192.0.2.1")
	if ok, _ := b.Attempt("alice|192.0.2.1"); !ok {
		t.Fatal("a reset on one node does not hold on the other")
	}

	down := NewRedisLimiter(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), prefix, 1, time.Minute)
	if ok, _ := down.Attempt("k"); !ok {
		t.Fatal("first attempt refused with Redis down")
	}
	if ok, _ := down.Attempt("k"); ok {
		t.Fatal("with Redis down the node stopped throttling")
	}
}
