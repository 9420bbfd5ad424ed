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
	before, memErr := memory(cfg.pid)

	d := newDialer(cfg.dialTimeout)
	peers := make([]*peer, cfg.n)
	h := connectAll(ctx, cfg, d, agents[:cfg.n], func(i int, ws *websocket.Conn) {
		peers[i] = &peer{ws: ws}
		r.start(peers[i])
	})
	peers = compact(peers)
	conns := make([]*websocket.Conn, 0, len(peers)+1)
	for _, p := range peers {
		conns = append(conns, p.ws)
	}
	defer func() { closeAll(r, conns) }()
	printHandshakes(out, h, cfg.n)
	if err := sleep(ctx, cfg.settle); err != nil {
		return err
	}
	printMemory(out, cfg, before, memErr, h.opened)
	fmt.Fprintf(out, "closed by server after the handshake: %s\n", counts(connectPhase.closed()))

	if !cfg.skipFanout && len(peers) > 0 {
		ws, err := dialAgent(ctx, d, cfg.url, agents[cfg.n], sourceDialer(cfg.n, cfg.sources))
		if err != nil {
			fmt.Fprintf(out, "fan-out: skipped, the sender could not connect: %s\n", failureReason(err))
		} else {
			conns = append(conns, ws)
			if err := fanout(ctx, out, cfg, r, newSender(r, ws, newPusher(cfg.url, cfg.apiKey)), peers); err != nil {
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
	if a, err := s.probe(ctx, len(peers)+1); err != nil {
		fmt.Fprintf(out, "sender: push contract FAILED: %v\n", err)
	} else {
		fmt.Fprintf(out, "sender: pushed typing event arrives as sent; push answered delivered %d, published %v\n", a.Delivered, a.Published)
	}
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
		res := runFanout(ctx, r, s, peers, ph, run.interval, cfg.drainTimeout)
		printFanout(out, run.name, run.interval, res)
		if err := ctx.Err(); err != nil {
			return errors.New("interrupted")
		}
	}
	if n := s.errFrames.Load(); n > 0 {
		fmt.Fprintf(out, "sender: %d error frames from the server, the first: %s\n", n, *s.firstErr.Load())
	}
	return nil
}

// memory reads the server's VmRSS, or explains why it cannot.
func memory(pid int) (int64, error) {
	if pid == 0 {
		return 0, errors.New("skipped (no --pid)")
	}
	return readRSS(pid)
}

// closeAll closes every connection with a close frame first, so the
// server, not this client, is left holding TIME_WAIT, then waits a
// bounded time for the read loops to end.
func closeAll(r *recorder, conns []*websocket.Conn) {
	r.closing.Store(true)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	deadline := time.Now().Add(2 * time.Second)
	for _, ws := range conns {
		ws.WriteControl(websocket.CloseMessage, msg, deadline)
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
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
	fmt.Fprintf(out, "server: %s, %s\n", target(cfg.url), serverName(cfg.pid))
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

// printMemory prints the server's memory per idle connection.
func printMemory(out io.Writer, cfg config, before int64, err error, opened int) {
	if err == nil {
		var after int64
		if after, err = readRSS(cfg.pid); err == nil && opened > 0 {
			fmt.Fprintf(out, "memory: server VmRSS %d KiB before, %d KiB with %d idle connections after %s = %.1f KiB per connection\n",
				before, after, opened, cfg.settle, float64(after-before)/float64(opened))
			if after < before {
				fmt.Fprintln(out, "memory: the server shrank; measure against a freshly started server")
			}
			return
		}
	}
	fmt.Fprintf(out, "memory: %v\n", err)
}

// printFanout prints one fan-out run.
func printFanout(out io.Writer, name string, interval time.Duration, f fanoutResult) {
	pace := "back to back"
	if interval > 0 {
		pace = "one every " + interval.String()
	}
	fmt.Fprintf(out, "fan-out %s: %d events × %d receivers via POST /api/push, %s\n", name, f.sent, f.receivers, pace)
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
