package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

func TestRedis(t *testing.T) {
	testRedisOptions(t)
	runContract(t, func(t *testing.T, deliver func(desk.Event)) desk.Bus {
		return startRedisBus(t, testChannel(), RedisOptions{}, deliver)
	})
}

func TestRedisNodes(t *testing.T) {
	channel := testChannel()
	recA, recB, recOther := &recorder{}, &recorder{}, &recorder{}
	a := startRedisBus(t, channel, RedisOptions{NodeID: "a"}, recA.deliver)
	b := startRedisBus(t, channel, RedisOptions{NodeID: "b"}, recB.deliver)
	other := startRedisBus(t, testChannel(), RedisOptions{}, recOther.deliver)

	fromA := desk.Event{
		To:    desk.Audience{Kind: desk.ToUsers, Users: []desk.Principal{{Role: desk.RoleEmployee, ID: "zhangsan"}, {Role: desk.RoleAgent, ID: "a-1"}}},
		Frame: []byte(`{"conversation_id":"cv_1","seq":1,"type":"message.created"}`), ConversationID: "cv_1", Seq: 1,
	}
	fromB := desk.Event{
		To:    desk.Audience{Kind: desk.ToToken, Fingerprint: desk.TokenFingerprint("tok")},
		Close: &desk.Close{Code: 4001, Reason: "Token revoked"},
	}
	mustPublish(t, a, fromA)
	mustPublish(t, b, fromB)
	for name, rec := range map[string]*recorder{"a": recA, "b": recB} {
		got := rec.wait(t, 2)
		// Both were published in turn by this goroutine, so every node
		// sees them in that order.
		wantEvent(t, got[0], fromA)
		wantEvent(t, got[1], fromB)
		if t.Failed() {
			t.Fatalf("node %s received the wrong events", name)
		}
	}
	// A bus on another channel sees none of it.
	marker := desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{"type":"marker"}`)}
	mustPublish(t, other, marker)
	wantEvent(t, recOther.wait(t, 1)[0], marker)
}

// TestRedisCarriesConversationFields: what the hub orders a conversation's
// events by crosses the bus intact, in publish order.
func TestRedisCarriesConversationFields(t *testing.T) {
	channel := testChannel()
	rec := &recorder{}
	startRedisBus(t, channel, RedisOptions{}, rec.deliver)
	to := desk.Audience{Kind: desk.ToUser, User: desk.Principal{Role: desk.RoleEmployee, ID: "zhangsan"}}
	pub := publisherOnly(t, channel, "a")
	var want []desk.Event
	for seq := int64(1); seq <= 6; seq++ {
		want = append(want, desk.Event{To: to, Frame: []byte(`{"seq":` + strconv.FormatInt(seq, 10) + `}`), ConversationID: "cv_1", Seq: seq, Prev: seq - 1})
	}
	// One at a time, then a batch in one round trip: both in order.
	for _, ev := range want[:3] {
		mustPublish(t, pub, ev)
	}
	if err := pub.PublishBatch(context.Background(), want[3:]); err != nil {
		t.Fatal(err)
	}
	got := rec.wait(t, 6)
	for i, ev := range got {
		if ev.ConversationID != "cv_1" || ev.Seq != want[i].Seq || ev.Prev != want[i].Prev || string(ev.Frame) != string(want[i].Frame) {
			t.Fatalf("event %d = %+v, want %+v", i, ev, want[i])
		}
	}
}

func TestRedisCheck(t *testing.T) {
	t.Run("round trip through its own subscription", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		r := startRedisBus(t, testChannel(), RedisOptions{}, rec.deliver)
		for range 3 {
			if err := r.Check(t.Context()); err != nil {
				t.Fatalf("Check: %v", err)
			}
		}
		// Probes are never delivered: the marker comes first.
		marker := desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{"type":"marker"}`)}
		mustPublish(t, r, marker)
		wantEvent(t, rec.wait(t, 1)[0], marker)
	})

	t.Run("fails before Run subscribes", func(t *testing.T) {
		t.Parallel()
		r := publisherOnly(t, testChannel(), "a")
		if err := r.Check(t.Context()); desk.ErrorCode(err) != desk.EUnavailable {
			t.Fatalf("Check = %v, want %s", err, desk.EUnavailable)
		}
	})
}

// TestRedisQuietSubscription checks that a subscription with nothing to
// carry is pinged, answers, and stays up.
func TestRedisQuietSubscription(t *testing.T) {
	lost := make(chan error, 1)
	rec := &recorder{}
	r := startRedisBus(t, testChannel(), RedisOptions{
		PingInterval: 20 * time.Millisecond,
		OnLost:       func(err error) { lost <- err },
	}, rec.deliver)
	waitFor(t, "three pongs", func() bool { return r.pongs.Load() >= 3 })
	select {
	case err := <-lost:
		t.Fatalf("a quiet subscription was lost: %v", err)
	default:
	}
	if err := r.Check(t.Context()); err != nil {
		t.Fatalf("Check after a quiet spell: %v", err)
	}
	ev := desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{"type":"after"}`)}
	mustPublish(t, r, ev)
	wantEvent(t, rec.wait(t, 1)[0], ev)
}

// TestRedisDeadAddress needs no Redis: nothing listens on port 1.
func TestRedisDeadAddress(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	const publishTimeout = 300 * time.Millisecond
	r := runBus(t, client, RedisOptions{Channel: testChannel(), PublishTimeout: publishTimeout},
		func(desk.Event) { t.Error("delivered from nowhere") })
	start := time.Now()
	if err := r.Check(t.Context()); desk.ErrorCode(err) != desk.EUnavailable {
		t.Fatalf("Check = %v, want %s", err, desk.EUnavailable)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Check took %v against a dead address, want an immediate answer", elapsed)
	}
	// go-redis retries the dial for a while; PublishTimeout cuts that short.
	start = time.Now()
	err := r.Publish(t.Context(), desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{}`)})
	if desk.ErrorCode(err) != desk.EUnavailable {
		t.Fatalf("Publish = %v, want %s", err, desk.EUnavailable)
	}
	if elapsed := time.Since(start); elapsed > publishTimeout+2*time.Second {
		t.Errorf("Publish took %v against a dead address, want at most its %v timeout", elapsed, publishTimeout)
	}
	if r.Healthy() {
		t.Error("Healthy with nothing to subscribe to")
	}
}

// TestRedisPublishTimeout needs no Redis: the server accepts and never
// answers, like a hung Redis.
func TestRedisPublishTimeout(t *testing.T) {
	addr := silentServer(t)
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	r := NewRedis(client, RedisOptions{Channel: testChannel(), PublishTimeout: 100 * time.Millisecond}, func(desk.Event) {})
	// The bound is loose (a loaded machine is slow) but below the 2 s
	// default the option replaces; a slow scheduler gets three tries
	// before it counts, since one stall is not the timeout ignored.
	var took []time.Duration
	for range 3 {
		start := time.Now()
		err := r.Publish(context.Background(), desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{}`)})
		if desk.ErrorCode(err) != desk.EUnavailable {
			t.Fatalf("Publish = %v, want %s", err, desk.EUnavailable)
		}
		elapsed := time.Since(start)
		if elapsed <= 1500*time.Millisecond {
			return
		}
		took = append(took, elapsed)
	}
	t.Fatalf("Publish to a hung Redis returned after %v, want about its 100ms timeout", took)
}

// TestRedisLossAndRecovery stops a private Redis under a running bus and
// starts it again: the node is told once that it went deaf, and once that
// it hears again, and delivery resumes without a restart.
func TestRedisLossAndRecovery(t *testing.T) {
	for _, tt := range []struct {
		name        string
		fail, mend  func(*redisServer)
		wantLossErr string
	}{
		{"redis dies and restarts", (*redisServer).kill, (*redisServer).start, ""},
		// A hung Redis keeps the connection open: only the ping notices.
		{"redis hangs and resumes", (*redisServer).pause, (*redisServer).resume, "no answer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startRedisServer(t)
			lost := make(chan error, 10)
			recovered := make(chan struct{}, 10)
			client := redis.NewClient(&redis.Options{
				Addr: srv.addr, ContextTimeoutEnabled: true,
				DialTimeout: 200 * time.Millisecond, MaxRetries: -1,
			})
			rec := &recorder{}
			r := runBus(t, client, RedisOptions{
				Channel:        testChannel(),
				PublishTimeout: 200 * time.Millisecond,
				PingInterval:   100 * time.Millisecond,
				OnLost:         func(err error) { lost <- err },
				OnRecovered:    func() { recovered <- struct{}{} },
			}, rec.deliver)
			waitFor(t, "subscribed", r.Healthy)
			before := desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{"n":1}`)}
			mustPublish(t, r, before)
			wantEvent(t, rec.wait(t, 1)[0], before)

			tt.fail(srv)
			select {
			case err := <-lost:
				if tt.wantLossErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantLossErr)) {
					t.Errorf("OnLost(%v), want an error saying %q", err, tt.wantLossErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("OnLost not called within 10s of losing Redis")
			}
			if r.Healthy() {
				t.Error("Healthy after OnLost")
			}
			if err := r.Check(t.Context()); desk.ErrorCode(err) != desk.EUnavailable {
				t.Errorf("Check while Redis is down = %v, want %s", err, desk.EUnavailable)
			}
			if err := r.Publish(t.Context(), before); desk.ErrorCode(err) != desk.EUnavailable {
				t.Errorf("Publish while Redis is down = %v, want %s", err, desk.EUnavailable)
			}

			tt.mend(srv)
			select {
			case <-recovered:
			case <-time.After(10 * time.Second):
				t.Fatal("OnRecovered not called within 10s of Redis returning")
			}
			if !r.Healthy() {
				t.Error("not Healthy after OnRecovered")
			}
			if err := r.Check(t.Context()); err != nil {
				t.Errorf("Check after recovery: %v", err)
			}
			after := desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{"n":2}`)}
			waitFor(t, "a publish to succeed", func() bool { return r.Publish(t.Context(), after) == nil })
			got := rec.wait(t, 2)
			wantEvent(t, got[1], after)
			if n := len(lost); n != 0 {
				t.Errorf("OnLost called %d more times for one outage", n)
			}
			if n := len(recovered); n != 0 {
				t.Errorf("OnRecovered called %d more times for one recovery", n)
			}
		})
	}
}

// testRedisOptions returns client options for the test Redis, skipping
// the test when there is none.
func testRedisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	url := os.Getenv("SERVICEDESK_TEST_REDIS_URL")
	if url == "" {
		tb.Skip("SERVICEDESK_TEST_REDIS_URL not set: skipping Redis bus tests")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("SERVICEDESK_TEST_REDIS_URL: %v", err)
	}
	opts.ContextTimeoutEnabled = true
	return opts
}

// testChannel is a channel of one test's own, so parallel tests and runs
// never see each other's traffic.
func testChannel() string { return "servicedesk:test:" + rand.Text() }

// startRedisBus runs a bus on channel of the test Redis until the test
// ends, and returns once it is subscribed.
func startRedisBus(tb testing.TB, channel string, opts RedisOptions, deliver func(desk.Event)) *Redis {
	tb.Helper()
	opts.Channel = channel
	r := runBus(tb, redis.NewClient(testRedisOptions(tb)), opts, deliver)
	waitFor(tb, "subscribed", r.Healthy)
	return r
}

// runBus runs a bus over client until the test ends, then closes client.
func runBus(tb testing.TB, client *redis.Client, opts RedisOptions, deliver func(desk.Event)) *Redis {
	r := NewRedis(client, opts, deliver)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
		client.Close()
	})
	return r
}

// publisherOnly is a node that publishes on channel and never runs its
// subscription.
func publisherOnly(tb testing.TB, channel, node string) *Redis {
	client := redis.NewClient(testRedisOptions(tb))
	tb.Cleanup(func() { client.Close() })
	return NewRedis(client, RedisOptions{Channel: channel, NodeID: node}, func(desk.Event) { tb.Error("publisher-only node delivered") })
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// redisServer is a private redis-server on a port of its own, which a test
// may kill, restart, pause and resume.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	addr string
	dir  string
	cmd  *exec.Cmd
}

// startRedisServer starts a private redis-server, skipping the test if
// there is no redis-server binary, and stops it when the test ends.
func startRedisServer(t *testing.T) *redisServer {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not found: skipping the Redis loss test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &redisServer{t: t, bin: bin, port: port, addr: ln.Addr().String(), dir: t.TempDir()}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.kill()
		}
	})
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	client := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer client.Close()
	waitFor(s.t, "redis-server to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return client.Ping(ctx).Err() == nil
	})
}

func (s *redisServer) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		s.t.Fatalf("kill redis-server: %v", err)
	}
	var exit *exec.ExitError
	if err := s.cmd.Wait(); err != nil && !errors.As(err, &exit) {
		s.t.Fatalf("wait for redis-server: %v", err)
	}
	s.cmd = nil
}

func (s *redisServer) pause()  { s.signal(syscall.SIGSTOP) }
func (s *redisServer) resume() { s.signal(syscall.SIGCONT) }

func (s *redisServer) signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal redis-server: %v", err)
	}
}
