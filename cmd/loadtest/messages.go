package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// runMessages measures messages end to end: employees send over their
// sockets, the server stores each message and delivers it to the agent
// who claimed the conversation. Every phase has a deadline, so it returns
// on its own. What it creates stays in the server's database.
func runMessages(ctx context.Context, cfg msgConfig, out io.Writer) error {
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	if need := uint64(cfg.conversations + cfg.agentConns + cfg.concurrency + fdHeadroom); need > limit {
		return fmt.Errorf("--conversations %d needs about %d open files, the limit is %d", cfg.conversations, need, limit)
	}
	r := newMsgRun(cfg, strings.ToLower(rand.Text()[:8]))
	printMsgHeader(out, cfg, limit, r.tag)

	rc := newRESTClient(httpBase(cfg.url), cfg.concurrency+cfg.verify+4, cfg.dialTimeout)
	d := newDialer(cfg.dialTimeout)
	agent, err := r.loginAgent(ctx, rc, d)
	if err != nil {
		return err
	}
	conns := make([]*websocket.Conn, 0, cfg.agentConns+cfg.conversations)
	for _, c := range agent.conns {
		conns = append(conns, c.ws)
	}
	setup := r.setupEmployees(ctx, rc, d, agent)
	for _, e := range setup.ready {
		conns = append(conns, e.ws)
	}
	closed := false
	closeAll := func() {
		if !closed {
			closed = true
			r.closeAll(conns)
		}
	}
	defer closeAll()
	printSetup(out, cfg, agent, setup)
	if len(setup.ready) == 0 {
		return errors.New("no conversation is ready; nothing to send")
	}
	if err := sleep(ctx, cfg.settle); err != nil {
		return err
	}
	setupCloses := r.snapshot(r.closes)

	watch := cpuWatch{comms: splitList(cfg.watchComm)}
	if cfg.pid != 0 {
		watch.servers = []cpuProc{{pid: cfg.pid}}
	}
	sessions, err := openDBSessions(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer sessions.close()
	db0 := sessions.sample(ctx)
	before := watch.sample()
	sent := r.send(ctx, setup.ready)
	r.drain(ctx, sent.sent, len(agent.conns))
	r.stopped.Store(true)
	after := watch.sample()
	db1 := sessions.sample(ctx)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	res := msgResult{
		send: sent, agentConns: len(agent.conns), cpu: [2]cpuSample{before, after}, db: [2]map[int]time.Duration{db0, db1},
		acked: r.acked.Load(), delivered: r.delivered.Load(), echoed: r.echoed.Load(),
		errFrames: r.snapshot(r.errFrames), closes: subtract(r.snapshot(r.closes), setupCloses),
	}
	checks := r.fetchHistories(ctx, rc, agent.token, setup.ready)
	closeAll()

	res.lateAcks, res.lateDeliveries, res.other = r.lateAcks.Load(), r.lateDeliv.Load(), r.snapshot(r.other)
	res.timeline = r.timeline(agent.conns, sent.first)
	for _, a := range agent.conns {
		res.lat = append(res.lat, a.lat...)
		res.lastRecv = max(res.lastRecv, a.last)
		res.dup += a.dup
		res.reorder += a.reorder
	}
	slices.Sort(res.lat)
	for k := range r.total {
		if l := r.ackLat[k]; l != 0 {
			res.ackLat = append(res.ackLat, l-1)
		}
	}
	slices.Sort(res.ackLat)
	printMessages(out, res, cfg.drainTimeout)
	printChecks(out, r.compareHistories(checks, setup.ready))
	return nil
}

// second is one second of sending: the deliveries of the messages sent
// in it, and their latency.
type second struct {
	sent, delivered int
	lat             []int32 // µs, sorted
}

// timeline groups deliveries by the second their message was sent in,
// which shows stalls (a checkpoint, a GC, a noisy neighbour) that the
// overall percentiles blur. Call it after the readers have ended.
func (r *msgRun) timeline(conns []*agentConn, first int64) []second {
	var secs []second
	at := func(k int64) *second {
		i := int((r.sentAt[k].Load() - first) / int64(time.Second))
		for len(secs) <= i {
			secs = append(secs, second{})
		}
		return &secs[i]
	}
	for k := range r.total {
		if r.sentAt[k].Load() != 0 {
			at(k).sent++
		}
	}
	for _, a := range conns {
		for j, l := range a.lat {
			s := at(int64(a.ks[j]))
			s.delivered++
			s.lat = append(s.lat, l)
		}
	}
	for i := range secs {
		slices.Sort(secs[i].lat)
	}
	return secs
}

// subtract returns a's counts less b's, dropping what is left at zero.
func subtract(a, b map[string]int) map[string]int {
	for k, v := range b {
		if a[k] -= v; a[k] <= 0 {
			delete(a, k)
		}
	}
	return a
}

// history is one conversation's stored messages from the run, as the
// events endpoint returned them.
type history struct {
	emp     int // index into the ready employees
	stored  int // message.created events with the run's client_msg_ids
	twice   int // of them, client_msg_ids stored more than once
	gaps    int // missing seq numbers: the agent sees every event
	err     error
	checked bool
}

// fetchHistories reads back the stored history of cfg.verify conversations
// spread over the ready ones, as the agent.
func (r *msgRun) fetchHistories(ctx context.Context, rc *restClient, token string, ready []*employee) []history {
	n := min(r.cfg.verify, len(ready))
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out := make([]history, n)
	for j := range out {
		h := &out[j]
		h.emp = j * len(ready) / n
		e := ready[h.emp]
		evs, err := rc.events(ctx, token, e.conv)
		if h.err = err; err != nil {
			continue
		}
		h.checked = true
		mine := fmt.Sprintf("lt-%s-%d-", r.tag, e.i)
		seen := make(map[string]bool, len(evs))
		for s, ev := range evs {
			if ev.Seq != int64(s+1) {
				h.gaps++
			}
			id := ev.Data.ClientMsgID
			if ev.Type != "message.created" || !strings.HasPrefix(id, mine) || id == r.openingID(e.i) {
				continue
			}
			h.stored++
			if seen[id] {
				h.twice++
			}
			seen[id] = true
		}
	}
	return out
}

// historyCheck compares stored messages with what was sent and acked.
// Every acked message must be stored, once; a sent message the server had
// not reached when the history was read is only in flight.
type historyCheck struct {
	conversations, failed int
	failures              map[string]int
	stored, sent, acked   int
	twice, gaps           int
	ackedMissing          int      // acked but not stored: a lost write
	problems              []string // conversations with any of the above
}

// compareHistories counts, for each fetched conversation, the messages
// the sender wrote and the acks its employee received. Call it after the
// readers have ended.
func (r *msgRun) compareHistories(hs []history, ready []*employee) historyCheck {
	c := historyCheck{failures: map[string]int{}}
	for _, h := range hs {
		c.conversations++
		if !h.checked {
			c.failed++
			c.failures[failureReason(h.err)]++
			continue
		}
		sent, acked := 0, 0
		for k := int64(h.emp); k < r.total; k += int64(len(ready)) {
			if r.sentAt[k].Load() != 0 {
				sent++
			}
			if r.ackLat[k] != 0 {
				acked++
			}
		}
		missing := max(0, acked-(h.stored-h.twice))
		c.stored, c.sent, c.acked = c.stored+h.stored, c.sent+sent, c.acked+acked
		c.twice, c.gaps, c.ackedMissing = c.twice+h.twice, c.gaps+h.gaps, c.ackedMissing+missing
		if missing > 0 || h.twice > 0 || h.gaps > 0 || h.stored > sent {
			c.problems = append(c.problems, fmt.Sprintf("%s: stored %d (%d twice), sent %d, acked %d, seq gaps %d",
				ready[h.emp].conv, h.stored, h.twice, sent, acked, h.gaps))
		}
	}
	return c
}
