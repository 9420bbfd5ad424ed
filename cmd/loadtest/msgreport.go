package main

import (
	"fmt"
	"io"
	"time"
)

// msgResult is what the sending phase measured.
type msgResult struct {
	send                     sendResult
	agentConns               int
	acked, delivered, echoed int64
	lateAcks, lateDeliveries int64
	dup, reorder             int
	lat                      []int32 // delivery latency, µs, sorted
	ackLat                   []int32 // ack latency, µs, sorted
	lastRecv                 int64   // unix ns of the last delivery
	errFrames, closes, other map[string]int
	cpu                      [2]cpuSample             // at the first send and after the drain
	db                       [2]map[int]time.Duration // the database's sessions, likewise
	timeline                 []second                 // by second of sending
}

// printMsgHeader prints what the figures depend on.
func printMsgHeader(out io.Writer, cfg msgConfig, limit uint64, tag string) {
	fmt.Fprintf(out, "servicedesk load test: messages end to end, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	printClient(out, limit)
	fmt.Fprintf(out, "server: %s, %s\n", target(cfg.url), serverName(cfg.pid))
	fmt.Fprintf(out, "parameters: %s\n", cfg.flags())
	fmt.Fprintf(out, "run: tag %s, employees lt-emp-%s-0…%d, %.1f messages/s per conversation, %d messages planned\n",
		tag, tag, cfg.conversations-1, cfg.perConversation(), cfg.total())
}

// printSetup prints how preparing the conversations went.
func printSetup(out io.Writer, cfg msgConfig, a *agentSession, s setupResult) {
	fmt.Fprintf(out, "agent: %q logged in as %s, %d/%d connections\n", cfg.agentUser, a.id, len(a.conns), cfg.agentConns)
	fmt.Fprintf(out, "setup: %d/%d employees logged in, connected, conversation created and claimed in %.2f s\n",
		len(s.ready), cfg.conversations, s.elapsed.Seconds())
	for step, name := range stepNames {
		fmt.Fprintf(out, "  %-10s p50 %s, p99 %s\n", name, ms(percentileDur(s.lat[step], 0.50)), ms(percentileDur(s.lat[step], 0.99)))
	}
	fmt.Fprintf(out, "setup failures: %s\n", counts(s.failures))
	if n := len(s.ready); n > 0 && cfg.rate/float64(n) > cfg.serverMsgRate {
		fmt.Fprintf(out, "warning: %d conversations ready, so each socket sends %.1f messages/s, above --server-msg-rate %.0f: expect closes with 1008\n",
			n, cfg.rate/float64(n), cfg.serverMsgRate)
	}
}

// printMessages prints the sending phase.
func printMessages(out io.Writer, m msgResult, drain time.Duration) {
	s := m.send
	span := time.Duration(s.last - s.first)
	fmt.Fprintf(out, "sent: %d messages in %.2f s = %.0f messages/s; sender at most %s behind schedule\n",
		s.sent, span.Seconds(), perSecond(s.sent, span), ms(s.maxBehind))
	if len(s.errs) > 0 || s.skipped > 0 {
		fmt.Fprintf(out, "  write failures: %s; %d messages not sent on failed sockets\n", counts(s.errs), s.skipped)
	}
	if s.unsent > 0 {
		fmt.Fprintf(out, "  %d messages not sent: writes blocked past --duration + %s\n", s.unsent, sendGrace)
	}
	fmt.Fprintf(out, "acked: %d/%d, not acked %d, latency p50 %s, p90 %s, p99 %s, max %s\n",
		m.acked, s.sent, s.sent-m.acked, usMS(percentile(m.ackLat, 0.50)), usMS(percentile(m.ackLat, 0.90)),
		usMS(percentile(m.ackLat, 0.99)), usMS(percentile(m.ackLat, 1)))
	want := s.sent * int64(m.agentConns)
	conns := "1 connection"
	if m.agentConns != 1 {
		conns = fmt.Sprintf("%d connections, each should get every message", m.agentConns)
	}
	fmt.Fprintf(out, "delivered to the agent: %d/%d (%s), lost %d (not there %s after the last send), duplicates %d, out of order %d\n",
		m.delivered, want, conns, want-m.delivered, drain, m.dup, m.reorder)
	if m.lateAcks > 0 || m.lateDeliveries > 0 {
		fmt.Fprintf(out, "  arrived later (counted as lost; the agent's sockets close first): %d acks, %d deliveries\n", m.lateAcks, m.lateDeliveries)
	}
	window := time.Duration(max(0, m.lastRecv-s.first))
	fmt.Fprintf(out, "throughput: %.0f messages/s persisted and delivered (%d over %.2f s, first send to last delivery)\n",
		perSecond(m.delivered/int64(m.agentConns), window), m.delivered/int64(m.agentConns), window.Seconds())
	fmt.Fprintf(out, "delivery latency: p50 %s, p90 %s, p99 %s, max %s\n",
		usMS(percentile(m.lat, 0.50)), usMS(percentile(m.lat, 0.90)), usMS(percentile(m.lat, 0.99)), usMS(percentile(m.lat, 1)))
	fmt.Fprintln(out, "by second of sending:")
	for i, sec := range m.timeline {
		fmt.Fprintf(out, "  %3d s: sent %5d, delivered %5d, latency p50 %s, p99 %s, max %s\n", i, sec.sent, sec.delivered,
			usMS(percentile(sec.lat, 0.50)), usMS(percentile(sec.lat, 0.99)), usMS(percentile(sec.lat, 1)))
	}
	fmt.Fprintf(out, "echoes to the sending employee: %d/%d\n", m.echoed, s.sent)
	fmt.Fprintf(out, "error frames: %s\n", counts(m.errFrames))
	fmt.Fprintf(out, "closed by server: %s\n", counts(m.closes))
	if len(m.other) > 0 {
		fmt.Fprintf(out, "other frames: %s\n", counts(m.other))
	}
	printCPU(out, m.cpu[0], m.cpu[1])
	printDBSessions(out, m.db[0], m.db[1], m.cpu[1].at.Sub(m.cpu[0].at))
}

// printChecks prints the read-back of stored histories.
func printChecks(out io.Writer, c historyCheck) {
	if c.conversations == 0 {
		return
	}
	verdict := "every acked message stored once"
	if len(c.problems) > 0 || c.failed > 0 {
		verdict = fmt.Sprintf("PROBLEMS in %d, %d unreadable", len(c.problems), c.failed)
	}
	fmt.Fprintf(out, "stored: %d conversations read back as the agent: %d sent, %d acked, %d stored (%d still in flight), acked but missing %d, stored twice %d, seq gaps %d: %s\n",
		c.conversations, c.sent, c.acked, c.stored, max(0, c.sent-(c.stored-c.twice)), c.ackedMissing, c.twice, c.gaps, verdict)
	for _, p := range c.problems {
		fmt.Fprintf(out, "  %s\n", p)
	}
	if c.failed > 0 {
		fmt.Fprintf(out, "  read failures: %s\n", counts(c.failures))
	}
}
