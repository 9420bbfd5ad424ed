package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// fdHeadroom is the open files the client needs besides its connections:
// stdio, Redis, the sender and the runtime's own.
const fdHeadroom = 64

// runLoad performs the whole measurement and prints it to out. Every
// phase has a deadline, so it returns on its own.
func runLoad(ctx context.Context, cfg config, out io.Writer) error {
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	if need := uint64(cfg.n + fdHeadroom); need > limit {
		return fmt.Errorf("--n %d needs about %d open files, the limit is %d", cfg.n, need, limit)
	}
	printHeader(out, cfg, limit)

	agents := make([]agentDial, cfg.n+1) // receivers, then the sender
	ids := make([]string, len(agents))
	for i := range cfg.n {
		ids[i] = "lt-" + strconv.Itoa(i)
	}
	ids[cfg.n] = senderID
	tokens := newTokens(ids)
	for i := range agents {
		agents[i] = agentDial{id: ids[i], token: tokens[i]}
	}
	if !cfg.noSeed {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cleanup, err := seedTokens(sctx, cfg.redisURL, ids, tokens)
		cancel()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "tokens: %d seeded in Redis (TTL %s), deleted at the end\n", len(tokens), tokenTTL)
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cleanup(cctx); err != nil {
				fmt.Fprintln(out, "tokens:", err)
			}
		}()
	}

	r := &recorder{base: time.Now()}
	connectPhase := newPhase(0, 0)
	r.phase.Store(connectPhase)
	before := memoryBefore(cfg.pids)

	d := newDialer(cfg.dialTimeout)
	peers := make([]*peer, cfg.n)
	dial := func(ctx context.Context, i int) (*websocket.Conn, error) {
		return dialAgent(ctx, d, cfg.urls[i%len(cfg.urls)], agents[i], sourceDialer(i, cfg.sources))
	}
	watch := nodeCPU(cfg.urls, cfg.pids, cfg.watchComms)
	cpu0 := watch.sample()
	h := connectAll(ctx, cfg.n, cfg.concurrency, dial, func(i int, ws *websocket.Conn) {
		peers[i] = &peer{ws: ws, node: i % len(cfg.urls)}
		r.start(peers[i])
	})
	cpu1 := watch.sample()
	peers = compact(peers)
	conns := make([]*websocket.Conn, 0, len(peers)+1)
	for _, p := range peers {
		conns = append(conns, p.ws)
	}
	defer func() { closeAll(r, conns) }()
	printHandshakes(out, h, cfg.n)
	fmt.Fprint(out, "  ")
	printCPU(out, cpu0, cpu1)
	if err := sleep(ctx, cfg.settle); err != nil {
		return err
	}
	printMemory(out, cfg, before, perNode(peers, len(cfg.urls)))
	fmt.Fprintf(out, "closed by server after the handshake: %s\n", counts(connectPhase.closed()))
	printPresence(out, "while connecting and settling", r.presenceFrames.Swap(0), r.presenceBytes.Swap(0), len(peers))

	if !cfg.skipFanout && len(peers) > 0 {
		ws, err := dialAgent(ctx, d, cfg.pushURL, agents[cfg.n], sourceDialer(cfg.n, cfg.sources))
		if err != nil {
			fmt.Fprintf(out, "fan-out: skipped, the sender could not connect: %s\n", failureReason(err))
		} else {
			conns = append(conns, ws)
			if err := fanout(ctx, out, cfg, r, newSender(r, ws, newPusher(cfg.pushURL, cfg.apiKey)), peers); err != nil {
				return err
			}
		}
	}
	if cfg.hold > 0 {
		fmt.Fprintf(out, "holding %d connections for %s\n", len(conns), cfg.hold)
		if err := sleep(ctx, cfg.hold); err != nil {
			return err
		}
	}
	return nil
}

// fanout checks the sender's contract, then runs the paced and the burst
// measurements one after the other.
func fanout(ctx context.Context, out io.Writer, cfg config, r *recorder, s *sender, peers []*peer) error {
	rtt, err := s.ping(ctx)
	if err != nil {
		fmt.Fprintf(out, "fan-out: skipped, the sender's ping failed: %v\n", err)
		return nil
	}
	fmt.Fprintf(out, "sender: ping→pong %s\n", ms(rtt))
	// The push API counts the connections it reached on the node that
	// answered: the receivers there and the sender.
	pushNode := indexOf(cfg.urls, cfg.pushURL)
	local := 1
	if pushNode >= 0 {
		local += perNode(peers, len(cfg.urls))[pushNode]
	}
	if a, err := s.probe(ctx, local); err != nil {
		fmt.Fprintf(out, "sender: push contract FAILED: %v\n", err)
	} else {
		fmt.Fprintf(out, "sender: pushed typing event arrives as sent; push answered delivered %d, published %v\n", a.Delivered, a.Published)
	}
	if len(cfg.urls) > 1 {
		printShare(out, cfg, peers, pushNode)
	}
	watch := nodeCPU(cfg.urls, cfg.pids, cfg.watchComms)
	runs := []struct {
		name     string
		events   int
		interval time.Duration
	}{
		{"paced", cfg.pacedEvents, cfg.interval},
		{"burst", cfg.burstEvents, 0},
	}
	seq := 0
	for _, run := range runs {
		if run.events == 0 {
			continue
		}
		ph := newPhase(seq, seq+run.events)
		seq += run.events
		cpu0 := watch.sample()
		res := runFanout(ctx, r, s, peers, len(cfg.urls), ph, run.interval, cfg.drainTimeout)
		cpu1 := watch.sample()
		printFanout(out, cfg, run.name, run.interval, res)
		fmt.Fprint(out, "  ")
		printCPU(out, cpu0, cpu1)
		if err := ctx.Err(); err != nil {
			return errors.New("interrupted")
		}
	}
	if n := s.errFrames.Load(); n > 0 {
		fmt.Fprintf(out, "sender: %d error frames from the server, the first: %s\n", n, *s.firstErr.Load())
	}
	return nil
}

// printPresence prints the presence announcements the receivers read in
// one phase: each agent coming online or going offline is announced to
// every agent connection.
func printPresence(out io.Writer, when string, frames, size int64, conns int) {
	fmt.Fprintf(out, "presence frames %s: %d received, %.1f MB, %.1f frames and %.1f KB per connection\n",
		when, frames, float64(size)/1e6, float64(frames)/float64(max(1, conns)), float64(size)/1e3/float64(max(1, conns)))
}

// perNode counts the peers on each of n nodes.
func perNode(peers []*peer, n int) []int {
	c := make([]int, n)
	for _, p := range peers {
		c[p.node]++
	}
	return c
}

// printShare prints how the receivers divide between the node that takes
// the pushes, whose deliveries stay in the process, and the others, whose
// deliveries cross Redis.
func printShare(out io.Writer, cfg config, peers []*peer, pushNode int) {
	on := 0
	if pushNode >= 0 {
		on = perNode(peers, len(cfg.urls))[pushNode]
	}
	others := len(peers) - on
	share := func(k int) float64 { return 100 * float64(k) / float64(max(1, len(peers))) }
	fmt.Fprintf(out, "receivers: %d on the pushing node %s (%.1f %%), %d on the other nodes (%.1f %%): their deliveries cross Redis\n",
		on, nodeLabel(cfg.pushURL), share(on), others, share(others))
}

// rssBefore is each node's VmRSS before the connections open, or why it
// could not be read.
type rssBefore struct {
	kib []int64
	err []error
}

// memoryBefore reads the VmRSS of every known pid.
func memoryBefore(pids []int) rssBefore {
	var b rssBefore
	for _, pid := range pids {
		var (
			kib int64
			err = errors.New("skipped (pid 0)")
		)
		if pid != 0 {
			kib, err = readRSS(pid)
		}
		b.kib = append(b.kib, kib)
		b.err = append(b.err, err)
	}
	return b
}

// closeAll closes every connection with a close frame first, so the
// server, not this client, is left holding TIME_WAIT, then waits a
// bounded time for the read loops to end.
func closeAll(r *recorder, conns []*websocket.Conn) { closeSockets(&r.closing, &r.wg, conns) }

// closeSockets marks closing (so readers count the closes as ours), sends
// every socket a close frame, waits up to 5 s for readers (wg) to see the
// server's reply, then drops whatever is left.
func closeSockets(closing *atomic.Bool, readers *sync.WaitGroup, conns []*websocket.Conn) {
	closing.Store(true)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	deadline := time.Now().Add(2 * time.Second)
	for _, ws := range conns {
		ws.WriteControl(websocket.CloseMessage, msg, deadline)
	}
	done := make(chan struct{})
	go func() { readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	for _, ws := range conns {
		ws.Close()
	}
	<-done // Close makes every pending read return
}

// compact drops the nil entries left by failed handshakes.
func compact(peers []*peer) []*peer {
	out := peers[:0]
	for _, p := range peers {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errors.New("interrupted")
	}
}

// printHeader prints what the figures depend on.
func printHeader(out io.Writer, cfg config, limit uint64) {
	fmt.Fprintf(out, "servicedesk load test, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	printClient(out, limit)
	if len(cfg.urls) == 1 {
		pid := 0
		if len(cfg.pids) == 1 {
			pid = cfg.pids[0]
		}
		fmt.Fprintf(out, "server: %s, %s\n", target(cfg.urls[0]), serverName(pid))
	} else {
		fmt.Fprintf(out, "servers: %d nodes, connections round robin, pushes to %s\n", len(cfg.urls), nodeLabel(cfg.pushURL))
		for i, u := range cfg.urls {
			pid := 0
			if len(cfg.pids) > 0 {
				pid = cfg.pids[i]
			}
			fmt.Fprintf(out, "  %s, %s\n", target(u), serverName(pid))
		}
	}
	fmt.Fprintf(out, "parameters: --n %d --concurrency %d --sources %d --settle %s --paced-events %d --interval %s --burst-events %d --drain-timeout %s\n",
		cfg.n, cfg.concurrency, cfg.sources, cfg.settle, cfg.pacedEvents, cfg.interval, cfg.burstEvents, cfg.drainTimeout)
}

// printClient prints the load tool's own platform.
func printClient(out io.Writer, limit uint64) {
	fmt.Fprintf(out, "client: %s %s/%s, nproc %d, GOMAXPROCS %d, open files %d\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), limit)
}

// target is the server's scheme and host: never credentials or a query.
func target(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Scheme + "://" + u.Host
	}
	return rawURL
}

// serverName describes the server process, when its pid is known.
func serverName(pid int) string {
	if pid == 0 {
		return "pid not given"
	}
	return fmt.Sprintf("pid %d (%s)", pid, processName(pid))
}

// printHandshakes prints the handshake rate, latency and failures.
func printHandshakes(out io.Writer, h handshakes, n int) {
	fmt.Fprintf(out, "handshakes: %d/%d opened in %.2f s = %.0f connections/s, latency p50 %s, p99 %s\n",
		h.opened, n, h.elapsed.Seconds(), perSecond(int64(h.opened), h.elapsed),
		ms(percentileDur(h.latency, 0.50)), ms(percentileDur(h.latency, 0.99)))
	fmt.Fprintf(out, "handshake failures: %s\n", counts(h.failures))
}

// printMemory prints the server's memory per idle connection, for each
// node whose pid is known and, with several, for all of them together.
func printMemory(out io.Writer, cfg config, before rssBefore, conns []int) {
	if len(cfg.pids) == 0 {
		fmt.Fprintln(out, "memory: skipped (no --pid)")
		return
	}
	var sumBefore, sumAfter int64
	var sumConns, measured int
	for i, pid := range cfg.pids {
		err := before.err[i]
		var after int64
		if err == nil {
			after, err = readRSS(pid)
		}
		prefix := "memory: server"
		if len(cfg.pids) > 1 {
			prefix = "memory: " + nodeLabel(cfg.urls[i])
		}
		if err != nil || conns[i] == 0 {
			if err == nil {
				err = errors.New("no connections")
			}
			fmt.Fprintf(out, "%s: %v\n", prefix, err)
			continue
		}
		fmt.Fprintf(out, "%s VmRSS %d KiB before, %d KiB with %d idle connections after %s = %.1f KiB per connection\n",
			prefix, before.kib[i], after, conns[i], cfg.settle, float64(after-before.kib[i])/float64(conns[i]))
		if after < before.kib[i] {
			fmt.Fprintln(out, "memory: the server shrank; measure against a freshly started server")
		}
		sumBefore, sumAfter, sumConns, measured = sumBefore+before.kib[i], sumAfter+after, sumConns+conns[i], measured+1
	}
	if measured > 1 {
		fmt.Fprintf(out, "memory: %d nodes together %d KiB before, %d KiB with %d connections = %.1f KiB per connection\n",
			measured, sumBefore, sumAfter, sumConns, float64(sumAfter-sumBefore)/float64(sumConns))
	}
}

// printFanout prints one fan-out run and, with several nodes, each
// node's share of it.
func printFanout(out io.Writer, cfg config, name string, interval time.Duration, f fanoutResult) {
	pace := "back to back"
	if interval > 0 {
		pace = "one every " + interval.String()
	}
	via := "via POST /api/push"
	if len(cfg.urls) > 1 {
		via += " to " + nodeLabel(cfg.pushURL)
	}
	fmt.Fprintf(out, "fan-out %s: %d events × %d receivers %s, %s\n", name, f.sent, f.receivers, via, pace)
	if len(f.pushed) > 0 {
		fmt.Fprintf(out, "  push answered delivered %d to %d\n", slices.Min(f.pushed), slices.Max(f.pushed))
	}
	if f.sendErr != nil {
		fmt.Fprintf(out, "  sending stopped: %v\n", f.sendErr)
	}
	fmt.Fprintf(out, "  latency p50 %s, p90 %s, p99 %s, max %s\n",
		usMS(percentile(f.lat, 0.50)), usMS(percentile(f.lat, 0.90)), usMS(percentile(f.lat, 0.99)), usMS(percentile(f.lat, 1)))
	span := time.Duration(max(0, f.lastRecv-f.firstSend))
	fmt.Fprintf(out, "  deliveries %d/%d, lost %d, %.0f deliveries/s over %.2f s\n",
		f.received, f.expected(), f.expected()-f.received, perSecond(f.received, span), span.Seconds())
	if len(f.nodes) > 1 {
		for i, n := range f.nodes {
			role := ""
			if cfg.urls[i] == cfg.pushURL {
				role = ", pushing node"
			}
			want := int64(f.sent) * int64(n.receivers)
			got := int64(len(n.lat))
			fmt.Fprintf(out, "  %s (%d receivers%s): latency p50 %s, p99 %s, max %s; deliveries %d/%d, %.0f/s\n",
				nodeLabel(cfg.urls[i]), n.receivers, role, usMS(percentile(n.lat, 0.50)), usMS(percentile(n.lat, 0.99)),
				usMS(percentile(n.lat, 1)), got, want, perSecond(got, time.Duration(max(0, n.lastRecv-f.firstSend))))
		}
	}
	if f.stray > 0 {
		fmt.Fprintf(out, "  late deliveries of earlier events: %d\n", f.stray)
	}
	fmt.Fprintf(out, "  closed by server: %s\n", counts(f.closes))
}

// percentileDur is percentile for unsorted durations.
func percentileDur(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	slices.Sort(s)
	return percentile(s, p)
}
