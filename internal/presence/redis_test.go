package presence

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// testInterval is the refresh interval in these tests: a node's entries
// expire 150 ms after its last refresh.
const testInterval = 50 * time.Millisecond

func TestRedis(t *testing.T) {
	client := openTestRedis(t)
	runContract(t, func(t *testing.T, b desk.Bus, opts Options) Tracker {
		return newTestRedis(client, newPrefix(t, client), "n1", b, opts)
	})
}

func TestRedisTwoNodes(t *testing.T) {
	client := openTestRedis(t)
	prefix := newPrefix(t, client)
	rec := &recorder{}
	a := newTestRedis(client, prefix, "node-a", rec.bus(), Options{})
	b := newTestRedis(client, prefix, "node-b", rec.bus(), Options{})
	start(t, a)
	start(t, b)

	a.Connected("x")
	waitStatus(t, b, "x", Online)
	waitFor(t, "node B to count x online", func() bool { return b.OnlineCount() == 1 })
	rec.wait(t, "x", Online)

	// A second connection on another node, then the first one going, is
	// no change at all.
	b.Connected("x")
	waitFor(t, "x listed by node B", func() bool { return inNode(t, client, prefix, "node-b", "x") })
	a.Disconnected("x")
	waitFor(t, "x gone from node A", func() bool { return !inNode(t, client, prefix, "node-a", "x") })
	wantStatus(t, a, "x", Online)
	settled(t, a, b)
	rec.want(t, "x", Online)

	// Away chosen through B is seen on A; the last connection going is
	// offline; coming back through A, x is still away.
	wantSet(t, b, "x", Away, Away, true)
	wantStatus(t, a, "x", Away)
	b.Disconnected("x")
	waitStatus(t, a, "x", Offline)
	rec.wait(t, "x", Online, Away, Offline)
	a.Connected("x")
	waitStatus(t, b, "x", Away)
	rec.wait(t, "x", Online, Away, Offline, Away)
	// However many times both nodes reconcile, each change was announced once.
	settled(t, a, b)
	rec.want(t, "x", Online, Away, Offline, Away)
}

func TestRedisDeadNodesAgentsGoOffline(t *testing.T) {
	client := openTestRedis(t)
	prefix := newPrefix(t, client)
	rec := &recorder{}
	a := newTestRedis(client, prefix, "node-a", rec.bus(), Options{})
	b := newTestRedis(client, prefix, "node-b", rec.bus(), Options{})
	crash := run(a)
	t.Cleanup(crash)
	start(t, b)

	a.Connected("x")
	b.Connected("y")
	waitStatus(t, b, "x", Online)
	rec.wait(t, "x", Online)
	rec.wait(t, "y", Online)

	// Node A stops refreshing with x still connected to it, as if killed:
	// nothing ever reports x disconnected.
	crashed := time.Now()
	crash()
	waitStatus(t, b, "x", Offline)
	rec.wait(t, "x", Online, Offline)
	t.Logf("x announced offline %v after node A stopped (entries live %v)", time.Since(crashed), ttlIntervals*testInterval)
	wantStatus(t, b, "y", Online)
	waitFor(t, "node A dropped from the registry", func() bool {
		ok, err := client.SIsMember(t.Context(), prefix+"nodes", "node-a").Result()
		return err == nil && !ok
	})
	settled(t, b)
	rec.want(t, "x", Online, Offline)
	rec.want(t, "y", Online)
}

func TestRedisKeyLayout(t *testing.T) {
	client := openTestRedis(t)
	prefix := newPrefix(t, client)
	ctx := t.Context()
	tr := start(t, newTestRedis(client, prefix, "n1", (&recorder{}).bus(), Options{})).(*Redis)
	if tr.NodeID() != "n1" {
		t.Errorf("NodeID = %q", tr.NodeID())
	}

	tr.Connected("a1")
	waitStatus(t, tr, "a1", Online)
	if got := client.SMembers(ctx, prefix+"node:n1").Val(); !slices.Equal(got, []string{"a1"}) {
		t.Errorf("node set = %v", got)
	}
	if ttl := client.PTTL(ctx, prefix+"node:n1").Val(); ttl <= 0 || ttl > ttlIntervals*testInterval {
		t.Errorf("node set TTL = %v, want at most %v", ttl, ttlIntervals*testInterval)
	}
	if got := client.SMembers(ctx, prefix+"nodes").Val(); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("registry = %v", got)
	}

	wantSet(t, tr, "a1", Away, Away, true)
	if !client.SIsMember(ctx, prefix+"away", "a1").Val() || client.HGet(ctx, prefix+"status", "a1").Val() != "away" {
		t.Errorf("away set %v, status hash %v", client.SMembers(ctx, prefix+"away").Val(), client.HGetAll(ctx, prefix+"status").Val())
	}

	// A node with no agents leaves nothing behind but the agents' choices.
	tr.Disconnected("a1")
	waitStatus(t, tr, "a1", Offline)
	waitFor(t, "the node's entries removed", func() bool {
		return client.Exists(ctx, prefix+"node:n1", prefix+"nodes", prefix+"status").Val() == 0
	})
	if !client.SIsMember(ctx, prefix+"away", "a1").Val() {
		t.Error("away choice dropped when the agent went offline")
	}
}

func TestRedisRebuildsLostKeys(t *testing.T) {
	client := openTestRedis(t)
	prefix := newPrefix(t, client)
	rec := &recorder{}
	tr := start(t, newTestRedis(client, prefix, "n1", rec.bus(), Options{}))
	tr.Connected("a1")
	rec.wait(t, "a1", Online)
	// A Redis restarted without persistence: every key gone.
	deleteKeys(t, client, prefix)
	waitFor(t, "the node's set rewritten", func() bool { return inNode(t, client, prefix, "n1", "a1") })
	waitStatus(t, tr, "a1", Online)
	// The lost status hash makes the change look new: announced once more.
	rec.wait(t, "a1", Online, Online)
}

func TestRedisRetriesLostAnnouncements(t *testing.T) {
	client := openTestRedis(t)
	prefix := newPrefix(t, client)
	rec := &recorder{}
	b := &flakyBus{Bus: rec.bus()}
	tr := start(t, newTestRedis(client, prefix, "n1", b, Options{}))

	b.fail.Store(1)
	tr.Connected("a1")
	// The first publish fails; the next reconcile announces it again.
	rec.wait(t, "a1", Online)

	b.fail.Store(1)
	_, _, err := tr.SetStatus(t.Context(), "a1", Away)
	if desk.ErrorCode(err) != desk.EUnavailable {
		t.Fatalf("SetStatus with a failing bus = %v, want %s", err, desk.EUnavailable)
	}
	rec.wait(t, "a1", Online, Away)
	settled(t, tr.(*Redis))
	rec.want(t, "a1", Online, Away)
}

func TestRedisUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every dial is refused
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { client.Close() })
	tr := NewRedis(client, (&recorder{}).bus(), RedisOptions{Prefix: "unused:", RefreshInterval: testInterval, Timeout: 200 * time.Millisecond})
	stop := run(tr)
	tr.Connected("a1") // must not block however Redis is
	ctx := t.Context()
	if _, _, err := tr.SetStatus(ctx, "a1", Away); desk.ErrorCode(err) != desk.EUnavailable {
		t.Errorf("SetStatus = %v, want %s", err, desk.EUnavailable)
	}
	if _, err := tr.Status(ctx, "a1"); desk.ErrorCode(err) != desk.EUnavailable {
		t.Errorf("Status = %v, want %s", err, desk.EUnavailable)
	}
	if _, err := tr.Statuses(ctx); desk.ErrorCode(err) != desk.EUnavailable {
		t.Errorf("Statuses = %v, want %s", err, desk.EUnavailable)
	}
	stop() // and Run still stops
}

func newTestRedis(client *redis.Client, prefix, node string, b desk.Bus, opts Options) Tracker {
	return NewRedis(client, b, RedisOptions{
		Options: opts, NodeID: node, Prefix: prefix, RefreshInterval: testInterval,
		// Generous: a -race run is slow, and this only guards a hung server.
		Timeout: 5 * time.Second,
	})
}

func openTestRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if url == "" {
		t.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping Redis presence tests")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("SERVICEDESK_TEST_REDIS_URL is set but Redis does not answer: %v", err)
	}
	return client
}

// newPrefix returns a key prefix no other test uses, deleted afterwards.
func newPrefix(t *testing.T, client *redis.Client) string {
	prefix := "sdtest:presence:" + rand.Text() + ":"
	t.Cleanup(func() { deleteKeys(t, client, prefix) })
	return prefix
}

func deleteKeys(t *testing.T, client *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := client.Keys(ctx, prefix+"*").Result()
	if err == nil && len(keys) > 0 {
		err = client.Del(ctx, keys...).Err()
	}
	if err != nil {
		t.Errorf("delete test keys: %v", err)
	}
}

func inNode(t *testing.T, client *redis.Client, prefix, node, agent string) bool {
	ok, err := client.SIsMember(t.Context(), prefix+"node:"+node, agent).Result()
	return err == nil && ok
}

// settled waits until each tracker has reconciled the whole cluster twice
// more: any duplicate announcement would have been made by then.
func settled(t *testing.T, trs ...Tracker) {
	t.Helper()
	for _, tr := range trs {
		r := tr.(*Redis)
		target := r.fulls.Load() + 2
		waitFor(t, "two more reconciliations", func() bool { return r.fulls.Load() >= target })
	}
}

// flakyBus fails as many publishes as fail says, then passes them on.
type flakyBus struct {
	desk.Bus
	fail atomic.Int64
}

func (b *flakyBus) Publish(ctx context.Context, ev desk.Event) error {
	if b.fail.Add(-1) >= 0 {
		return desk.Errorf(desk.EUnavailable, "bus down")
	}
	return b.Bus.Publish(ctx, ev)
}

// TestRedisDrainingNodeAnnouncesAtOnce: a node that stops cleanly (its
// hub has reported every agent gone, then Run's context ends at once, as
// in a drain) announces its agents offline itself, without waiting for
// another node's refresh to notice the expired entry.
func TestRedisDrainingNodeAnnouncesAtOnce(t *testing.T) {
	client := openTestRedis(t)
	prefix := newPrefix(t, client)
	rec := &recorder{}
	// A refresh far longer than the test: only the draining node's own
	// final sync can announce x offline in time.
	a := NewRedis(client, rec.bus(), RedisOptions{NodeID: "node-a", Prefix: prefix, RefreshInterval: time.Hour, Timeout: 5 * time.Second})
	stop := run(a)
	t.Cleanup(stop)
	a.Connected("x")
	rec.wait(t, "x", Online)
	a.Disconnected("x")
	stop() // before the gathering delay is over: the kicked sync meets a cancelled context
	rec.want(t, "x", Online, Offline)
}
