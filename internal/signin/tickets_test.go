package signin

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// testTickets is the Tickets contract, run against each store.
func testTickets(t *testing.T, tk Tickets) {
	ctx := context.Background()
	s := Session{Role: desk.RoleEmployee, ID: "zhangsan", Name: "张三", Token: "t0k", ExpiresIn: 60}
	if err := tk.Put(ctx, "T1", s, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := tk.Take(ctx, "T1")
	if err != nil || got != s {
		t.Fatalf("Take = %+v %v", got, err)
	}
	if _, err := tk.Take(ctx, "T1"); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("second Take: %v, want not found", err)
	}
	if _, err := tk.Take(ctx, "never"); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("unknown ticket: %v", err)
	}
	if err := tk.Put(ctx, "T2", s, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	if _, err := tk.Take(ctx, "T2"); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("expired ticket: %v", err)
	}
}

func TestMemoryTickets(t *testing.T) { testTickets(t, NewMemoryTickets()) }

func TestRedisTickets(t *testing.T) {
	u := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if u == "" {
		t.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping the Redis ticket store")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	testTickets(t, NewRedisTickets(client))
	// A store that is down fails as unavailable, never as "no ticket".
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	if _, err := NewRedisTickets(down).Take(context.Background(), "x"); desk.ErrorCode(err) != desk.EUnavailable {
		t.Fatalf("down store: %v", err)
	}
}
