package main

// The fault suite: two nodes of the real binary (subprocesses, so one can
// be killed for real) on one PostgreSQL database and a private Redis,
// employees on one node and the agent on the other writing to each other
// through faults, every client following docs/protocol.md through
// internal/client. At the end each client's view is checked against the
// stored stream: no hole, nothing twice, every acked message stored once.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/client"
)

// faultNode is one servicedesk process.
type faultNode struct {
	t    *testing.T
	bin  string
	name string
	addr string
	args []string
	cmd  *exec.Cmd
	log  *os.File
}

func (n *faultNode) start() {
	n.t.Helper()
	n.cmd = exec.Command(n.bin, append([]string{"--addr", n.addr, "--node-id", n.name}, n.args...)...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + n.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s not ready", n.name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *faultNode) signal(sig syscall.Signal) {
	n.cmd.Process.Signal(sig)
	n.cmd.Wait()
}

func (n *faultNode) url() string { return "http://" + n.addr }

// faultEnv is the suite's world.
type faultEnv struct {
	t               *testing.T
	nodes           []*faultNode
	redis           *redis.Client
	redisC          *exec.Cmd
	redisP          string
	adminDB, dbName string
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startFaultEnv(t *testing.T) *faultEnv {
	pgURL := os.Getenv("SERVICEDESK_TEST_POSTGRES_URL")
	redisBin, lookErr := exec.LookPath("redis-server")
	if pgURL == "" || lookErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the fault suite needs SERVICEDESK_TEST_POSTGRES_URL and redis-server in CI")
		}
		t.Skip("the fault suite needs SERVICEDESK_TEST_POSTGRES_URL and redis-server")
	}
	e := &faultEnv{t: t, adminDB: pgURL}
	dir := t.TempDir()
	bin := filepath.Join(dir, "servicedesk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// A private Redis the suite may pause and restart.
	e.redisP = freePort(t)
	_, port, _ := net.SplitHostPort(e.redisP)
	e.redisC = exec.Command(redisBin, "--port", port, "--bind", "127.0.0.1", "--enable-debug-command", "local", "--save", "", "--appendonly", "no")
	if err := e.redisC.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.redisC.Process.Kill(); e.redisC.Wait() })
	e.redis = redis.NewClient(&redis.Options{Addr: e.redisP})
	t.Cleanup(func() { e.redis.Close() })
	for i := 0; e.redis.Ping(context.Background()).Err() != nil; i++ {
		if i > 100 {
			t.Fatal("private redis did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A database of its own, so an outage can be made for it alone.
	e.dbName = "sd_fault_" + strings.ToLower(rand.Text()[:10])
	e.admin(`CREATE DATABASE ` + e.dbName)
	t.Cleanup(func() {
		e.admin(`ALTER DATABASE ` + e.dbName + ` ALLOW_CONNECTIONS true`)
		e.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + e.dbName + `'`)
		e.admin(`DROP DATABASE IF EXISTS ` + e.dbName)
	})
	dbURL := strings.Replace(pgURL, "/test?", "/"+e.dbName+"?", 1)
	if !strings.Contains(dbURL, e.dbName) {
		t.Skip("cannot derive a database URL from SERVICEDESK_TEST_POSTGRES_URL")
	}
	for _, name := range []string{"a", "b"} {
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		n := &faultNode{t: t, bin: bin, name: name, addr: freePort(t), log: logf,
			args: []string{"--dev", "--database-url", dbURL, "--redis-url", "redis://" + e.redisP + "/0",
				"--store-timeout", "1s", "--shutdown-timeout", "3s", "--log-level", "warn", "--msg-rate", "1000", "--msg-burst", "1000"}}
		n.start()
		e.nodes = append(e.nodes, n)
		t.Cleanup(func() {
			n.signal(syscall.SIGKILL)
			if t.Failed() {
				b, _ := os.ReadFile(logf.Name())
				t.Logf("node %s log:\n%s", name, b)
			}
		})
	}
	return e
}

func (e *faultEnv) admin(sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.adminDB)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		e.t.Logf("admin %q: %v", sql, err)
	}
}

// post is a JSON request to a node.
func post(t *testing.T, url, token string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// stored returns the seqs of a conversation visible to token's holder.
func stored(t *testing.T, base, token, conv string) []int64 {
	var out []int64
	after := int64(0)
	for {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/conversations/%s/events?after_seq=%d", base, conv, after), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []struct {
				Seq int64 `json:"seq"`
			} `json:"events"`
			Next int64 `json:"next_after_seq"`
		}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		for _, ev := range page.Events {
			out = append(out, ev.Seq)
		}
		if len(page.Events) == 0 || page.Next == after {
			return out
		}
		after = page.Next
	}
}

type faultPhase struct {
	name        string
	inject      func()
	sent, acked atomic.Int64
	maxAck      atomic.Int64 // ns
}

func TestFaultSuite(t *testing.T) {
	e := startFaultEnv(t)
	a, b := e.nodes[0], e.nodes[1]
	wsURL := func(n *faultNode, path string) string { return "ws://" + n.addr + path }

	_, login := post(t, b.url()+"/api/agents/login", "", map[string]string{"username": "demo", "password": "demo"})
	agentTok, agentID := login["token"].(string), login["agent_id"].(string)
	const employees = 8
	type emp struct {
		id, token, conv string
		c               *client.Client
	}
	var emps []*emp
	for i := range employees {
		id := fmt.Sprintf("fe%d", i)
		_, m := post(t, a.url()+"/api/h5/mock-login", "", map[string]string{"employee_id": id, "name": id})
		tok := m["token"].(string)
		status, conv := post(t, a.url()+"/api/h5/conversations", tok, map[string]string{"subject": "fault", "body": "start", "client_msg_id": id + "-c"})
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, conv)
		}
		if status, m := post(t, b.url()+"/api/conversations/"+conv["id"].(string)+"/claim", agentTok, nil); status != http.StatusOK {
			t.Fatalf("claim: %d %v", status, m)
		}
		emps = append(emps, &emp{id: id, token: tok, conv: conv["id"].(string)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var convs []string
	for _, em := range emps {
		convs = append(convs, em.conv)
		em.c = client.New(client.Config{URLs: []string{wsURL(a, "/ws/h5/"+em.id), wsURL(b, "/ws/h5/"+em.id)}, Token: em.token, Follow: []string{em.conv}})
		go em.c.Run(ctx)
	}
	agent := client.New(client.Config{URLs: []string{wsURL(b, "/ws/"+agentID), wsURL(a, "/ws/"+agentID)}, Token: agentTok, Follow: convs})
	go agent.Run(ctx)
	time.Sleep(500 * time.Millisecond)

	phases := []*faultPhase{
		{name: "no fault"},
		{name: "Redis paused 3 s (DEBUG SLEEP)", inject: func() { e.redis.Do(context.Background(), "DEBUG", "SLEEP", "3") }},
		{name: "node a killed (SIGKILL) and restarted", inject: func() {
			a.signal(syscall.SIGKILL)
			time.Sleep(time.Second)
			a.start()
		}},
		{name: "PostgreSQL refusing connections 5 s", inject: func() {
			e.admin(`ALTER DATABASE ` + e.dbName + ` ALLOW_CONNECTIONS false`)
			e.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + e.dbName + `'`)
			time.Sleep(5 * time.Second)
			e.admin(`ALTER DATABASE ` + e.dbName + ` ALLOW_CONNECTIONS true`)
		}},
		{name: "node b drained (SIGTERM) and restarted", inject: func() {
			b.signal(syscall.SIGTERM)
			b.start()
		}},
	}
	var acked sync.Map // client_msg_id → seq
	var failures atomic.Int64
	send := func(p *faultPhase, c *client.Client, conv, id string) {
		p.sent.Add(1)
		start := time.Now()
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		defer scancel()
		seq, err := c.Send(sctx, conv, "msg "+id, id)
		if err != nil {
			failures.Add(1)
			t.Logf("%s: send %s: %v", p.name, id, err)
			return
		}
		p.acked.Add(1)
		acked.Store(conv+"/"+id, seq)
		if d := int64(time.Since(start)); d > p.maxAck.Load() {
			p.maxAck.Store(d)
		}
	}
	for pi, p := range phases {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i, em := range emps {
			wg.Go(func() {
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					case <-time.After(150 * time.Millisecond):
					}
					send(p, em.c, em.conv, fmt.Sprintf("%s-%d-p%d", em.id, k, pi))
					if k%3 == 0 {
						send(p, agent, em.conv, fmt.Sprintf("ag-%d-%d-p%d", i, k, pi))
					}
				}
			})
		}
		time.Sleep(time.Second)
		if p.inject != nil {
			p.inject()
		}
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
	}
	// Let the last events arrive (a republished one takes a sweep or two).
	time.Sleep(4 * time.Second)

	holes, missing := 0, 0
	check := func(who string, c *client.Client, token, conv string) {
		want := stored(t, a.url(), token, conv)
		got := c.Applied(conv)
		have := map[int64]bool{}
		for _, s := range got {
			have[s] = true
		}
		for _, s := range want {
			if !have[s] {
				missing++
				if len(got) > 0 && s > got[0] && s < got[len(got)-1] {
					holes++
				}
				t.Errorf("%s never applied seq %d of %s", who, s, conv)
			}
		}
	}
	for _, em := range emps {
		check("employee "+em.id, em.c, em.token, em.conv)
		check("agent", agent, agentTok, em.conv)
	}
	// Every acked message is stored, at the seq its ack named; a retried
	// send was acked with the original seq, never stored twice (the seqs
	// acked for one conversation are all different).
	storedSeqs := map[string]map[int64]bool{}
	for _, conv := range convs {
		storedSeqs[conv] = map[int64]bool{}
		for _, s := range stored(t, a.url(), agentTok, conv) {
			storedSeqs[conv][s] = true
		}
	}
	ackedSeqs := map[string]map[int64]string{}
	acked.Range(func(k, v any) bool {
		conv, id, _ := strings.Cut(k.(string), "/")
		seq := v.(int64)
		if !storedSeqs[conv][seq] {
			t.Errorf("acked message %s (seq %d) is not stored", id, seq)
		}
		if ackedSeqs[conv] == nil {
			ackedSeqs[conv] = map[int64]string{}
		}
		if other, dup := ackedSeqs[conv][seq]; dup {
			t.Errorf("messages %s and %s were acked with the same seq %d", other, id, seq)
		}
		ackedSeqs[conv][seq] = id
		return true
	})
	t.Logf("fault suite: %d employees (node a) and 1 agent (node b), %d conversations", employees, len(convs))
	t.Logf("%-42s %6s %6s %10s", "phase", "sent", "acked", "max ack")
	for _, p := range phases {
		t.Logf("%-42s %6d %6d %9.2fs", p.name, p.sent.Load(), p.acked.Load(), time.Duration(p.maxAck.Load()).Seconds())
	}
	t.Logf("holes %d, events never applied %d, duplicates dropped by clients %d, sends failed %d",
		holes, missing, agent.Dropped()+func() int {
			n := 0
			for _, em := range emps {
				n += em.c.Dropped()
			}
			return n
		}(), failures.Load())
	if failures.Load() > 0 {
		t.Errorf("%d sends never acknowledged", failures.Load())
	}
}
