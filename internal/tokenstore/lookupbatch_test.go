package tokenstore

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// countCommands counts the commands a client sends, pipelines included.
type countCommands struct{ n atomic.Int64 }

func (c *countCommands) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *countCommands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *countCommands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// Lookups made at once go together, and each still gets its own answer:
// tokens of both roles, missing ones, and one whose caller gave up.
func TestRedisLookupsMadeAtOnceShareRoundTrips(t *testing.T) {
	h := redisHarness(t, redisURL(t))
	store := h.store.(*Redis)
	var counted countCommands
	store.client.AddHook(&counted)

	const n = 200
	type want struct {
		role  desk.Role
		token string
		id    string // "" for a token never issued
	}
	wants := make([]want, n)
	for i := range wants {
		role := roles[i%len(roles)]
		tok := newToken(t, h)
		w := want{role: role, token: tok}
		if i%5 != 0 {
			w.id = string(role) + "-" + tok[:8]
			mustPut(t, h, role, tok, w.id, time.Minute)
		}
		wants[i] = w
	}
	counted.n.Store(0)

	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range wants {
		wg.Go(func() {
			<-start
			got, err := store.Lookup(t.Context(), w.role, w.token)
			switch {
			case w.id == "" && desk.ErrorCode(err) != desk.ENotFound:
				t.Errorf("Lookup of a token never issued = %q, %v; want %s", got, err, desk.ENotFound)
			case w.id != "" && (err != nil || got != w.id):
				t.Errorf("Lookup(%s) = %q, %v; want %q", w.role, got, err, w.id)
			}
		})
	}
	// A caller that gives up gets an error at once, and costs the others
	// nothing.
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	wg.Go(func() {
		<-start
		if _, err := store.Lookup(gone, desk.RoleAgent, wants[1].token); desk.ErrorCode(err) != desk.EUnavailable {
			t.Errorf("Lookup with a cancelled context: %v, want %s", err, desk.EUnavailable)
		}
	})
	close(start)
	wg.Wait()
	if got := counted.n.Load(); got >= n {
		t.Errorf("%d lookups at once took %d commands: none went together", n, got)
	} else {
		t.Logf("%d lookups at once took %d commands", n+1, got)
	}
}

// A Redis that stops answering fails every waiting lookup within the
// store's timeout, and the next lookups still get their own MGET.
func TestRedisLookupsFailTogetherAndRecover(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers: a hung server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	client, err := OpenRedis("redis://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	store := NewRedis(client, 200*time.Millisecond)
	for round := range 2 {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				begin := time.Now()
				_, err := store.Lookup(t.Context(), desk.RoleAgent, "tok")
				if desk.ErrorCode(err) != desk.EUnavailable {
					t.Errorf("round %d: Lookup against a hung Redis: %v, want %s", round, err, desk.EUnavailable)
				}
				if d := time.Since(begin); d > 5*time.Second {
					t.Errorf("round %d: Lookup took %v against a 200ms timeout", round, d)
				}
			})
		}
		wg.Wait()
	}
	if store.lookups.flushing != 0 || len(store.lookups.pending) != 0 {
		t.Errorf("left behind: %d flushing, %d pending", store.lookups.flushing, len(store.lookups.pending))
	}
}
