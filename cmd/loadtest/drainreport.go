package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// printDrainHeader prints what the figures depend on.
func printDrainHeader(out io.Writer, cfg drainConfig, limit uint64) {
	fmt.Fprintf(out, "servicedesk load test: drain and resume, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	printClient(out, limit)
	fmt.Fprintf(out, "nodes: clients connect to %s round robin; %s (%s) is drained; closed clients reconnect to %s round robin\n",
		labels(cfg.urls), nodeLabel(cfg.drainURL), serverName(cfg.drainPid), labels(cfg.reconnectURLs))
	fmt.Fprintf(out, "parameters: %s\n", cfg.flags())
}

// labels lists nodes by host:port.
func labels(urls []string) string {
	l := make([]string, len(urls))
	for i, u := range urls {
		l[i] = nodeLabel(u)
	}
	return strings.Join(l, ", ")
}

// sinceTerm formats a time since base as milliseconds after the SIGTERM.
func sinceTerm(r *drainRun, at int64) string {
	return fmt.Sprintf("+%s", ms(time.Duration(at-r.termAt.Load())))
}

// printDrainConnect prints the first connects and resumes.
func printDrainConnect(out io.Writer, r *drainRun, h handshakes, opened []bool, start, resumed int64) {
	cfg := r.cfg
	per := make([]int, len(cfg.urls))
	for i, ok := range opened {
		if ok {
			per[r.clients[i].node]++
		}
	}
	parts := make([]string, len(per))
	for i, n := range per {
		parts[i] = fmt.Sprintf("%s %d", nodeLabel(cfg.urls[i]), n)
	}
	fmt.Fprintf(out, "connected: %d/%d in %.2f s = %.0f connections/s, latency p50 %s, p99 %s; %s\n",
		h.opened, cfg.n, h.elapsed.Seconds(), perSecond(int64(h.opened), h.elapsed),
		ms(percentileDur(h.latency, 0.50)), ms(percentileDur(h.latency, 0.99)), strings.Join(parts, ", "))
	fmt.Fprintf(out, "handshake failures: %s\n", counts(h.failures))
	r.mu.Lock()
	last := r.initialLast
	r.mu.Unlock()
	var seq int64
	for i, ok := range opened {
		if ok {
			seq = max(seq, r.clients[i].progress.Load())
		}
	}
	fmt.Fprintf(out, "first resume from seq 0: %d/%d answered, up to seq %d, the last %.2f s after the first handshake began\n",
		resumed, h.opened, seq, time.Duration(last-start).Seconds())
}

// printDrainResult prints the drain, the reconnects and the resumes. Call
// it after the clients have stopped.
func printDrainResult(out io.Writer, r *drainRun, w drainWait, caught, onDrained int, opened []bool) {
	cfg := r.cfg
	term := r.termAt.Load()
	drainIdx := indexOf(cfg.urls, cfg.drainURL)
	var (
		affected, others, before           int
		firstClose, lastClose, lastResumed int64
		reasons, otherReasons              = map[string]int{}, map[string]int{}
		attempts, targets                  = map[string]int{}, map[string]int{}
		closeToResumed, dialToResumed      []time.Duration
		handshake, resume, waited          []time.Duration
		firstDial, lastOpen                int64
		resumedN, failedN                  int
		fails                              = map[string]int{}
		gaps, dups, errFrames, closedAgain int
		errCodes                           = map[string]int{}
	)
	for i, c := range r.clients {
		if !opened[i] {
			continue
		}
		gaps += c.gaps
		dups += c.dups
		errFrames += c.errFrames
		closedAgain += c.closedAgain
		if c.firstErr != "" {
			errCodes[c.firstErr]++
		}
		switch {
		case c.closedAt == 0:
			continue
		case c.closedAt < term:
			before++
			continue
		case c.node == drainIdx:
			affected++
			reasons[c.closeReason]++
		default:
			others++
			otherReasons[c.closeReason]++
		}
		if firstClose == 0 || c.closedAt < firstClose {
			firstClose = c.closedAt
		}
		lastClose = max(lastClose, c.closedAt)
		if c.resumedAt == 0 {
			failedN++
			why := c.failed
			if why == "" {
				why = "still trying when the run ended"
			}
			fails[why]++
			continue
		}
		resumedN++
		lastResumed = max(lastResumed, c.resumedAt)
		attempts[fmt.Sprintf("%d", c.attempts)]++
		targets[nodeLabel(cfg.reconnectURLs[c.target])]++
		closeToResumed = append(closeToResumed, time.Duration(c.resumedAt-c.closedAt))
		dialToResumed = append(dialToResumed, time.Duration(c.resumedAt-c.dialAt))
		handshake = append(handshake, time.Duration(c.openAt-c.dialAt))
		resume = append(resume, time.Duration(c.resumedAt-c.resumeAt))
		waited = append(waited, time.Duration(c.dialAt-c.closedAt))
		if firstDial == 0 || c.dialAt < firstDial {
			firstDial = c.dialAt
		}
		lastOpen = max(lastOpen, c.openAt)
	}
	pct := func(d []time.Duration) string {
		return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s", ms(percentileDur(d, 0.50)), ms(percentileDur(d, 0.90)),
			ms(percentileDur(d, 0.99)), ms(percentileDur(d, 1)))
	}

	fmt.Fprintf(out, "closed before the SIGTERM: %d\n", before)
	fmt.Fprintf(out, "drain: SIGTERM to pid %d; %d clients were on %s\n", cfg.drainPid, onDrained, nodeLabel(cfg.drainURL))
	if affected+others > 0 {
		fmt.Fprintf(out, "  sockets closed: %d, the first at %s, the last at %s: %s\n",
			affected, sinceTerm(r, firstClose), sinceTerm(r, lastClose), counts(reasons))
	}
	if w.exitAt != 0 {
		fmt.Fprintf(out, "  the node's process ended at %s\n", sinceTerm(r, w.exitAt))
	} else {
		fmt.Fprintln(out, "  the node's process had NOT ended when the run stopped")
	}
	fmt.Fprintf(out, "  closed on the other nodes: %d %s\n", others, counts(otherReasons))
	m := w.msgs
	who, where := "the employee", "in the shared conversation"
	if cfg.clients == "employees" {
		who, where = "the agent", "one in each of the first conversations of the drained node's clients"
	}
	fmt.Fprintf(out, "messages: %s sent %d/%d through %s from the SIGTERM on, one every %s, %s; answered p50 %s, max %s; failures: %s\n",
		who, m.sent, cfg.messages, nodeLabel(cfg.reconnectURLs[0]), cfg.messageInterval, where,
		ms(percentileDur(m.lat, 0.5)), ms(percentileDur(m.lat, 1)), counts(m.failures))
	fmt.Fprintf(out, "reconnected and resumed: %d/%d, failed %d: %s\n", resumedN, affected+others, failedN, counts(fails))
	if resumedN > 0 {
		fmt.Fprintf(out, "  SIGTERM → last client resumed: %s\n", ms(time.Duration(lastResumed-term)))
		fmt.Fprintf(out, "  per client, close → resumed (backoff included): %s\n", pct(closeToResumed))
		fmt.Fprintf(out, "  per client, backoff wait before the successful attempt: %s\n", pct(waited))
		fmt.Fprintf(out, "  per client, handshake + resume of that attempt: %s\n", pct(dialToResumed))
		fmt.Fprintf(out, "    handshake %s\n", pct(handshake))
		fmt.Fprintf(out, "    resume → resumed %s\n", pct(resume))
		span := time.Duration(lastOpen - firstDial)
		fmt.Fprintf(out, "  reconnect rate: %d handshakes between %s and %s = %.0f/s\n",
			resumedN, sinceTerm(r, firstDial), sinceTerm(r, lastOpen), perSecond(int64(resumedN), span))
		fmt.Fprintf(out, "  attempts per client: %s; resumed on: %s\n", counts(attempts), counts(targets))
	}
	r.mu.Lock()
	fmt.Fprintf(out, "  failed attempts: %s\n", counts(r.failures))
	r.mu.Unlock()
	if closedAgain > 0 {
		fmt.Fprintf(out, "  closed again after resuming: %d\n", closedAgain)
	}
	if w.timedOut {
		fmt.Fprintf(out, "  the run gave up waiting %s after the SIGTERM\n", cfg.deadline+10*time.Second)
	}
	n := 0
	for _, ok := range opened {
		if ok {
			n++
		}
	}
	verdict := "nothing lost"
	if gaps > 0 || caught < n {
		verdict = "EVENTS MISSING"
	}
	errs := fmt.Sprint(errFrames)
	if errFrames > 0 {
		errs += " (first codes: " + counts(errCodes) + ")"
	}
	fmt.Fprintf(out, "history: %d/%d clients applied every event of their conversation up to its last (the messages above included) within 5 s; seqs skipped %d, duplicates dropped %d, error frames %s: %s\n",
		caught, n, gaps, dups, errs, verdict)
	printPresence(out, "from the SIGTERM on", r.presenceFrames.Load(), r.presenceBytes.Load(), n)
}
