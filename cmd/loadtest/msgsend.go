package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// sendTick is how often the sender wakes. Each wake sends what the rate
// says is due by then, so a late wake catches up instead of losing rate;
// at 5,000 messages/s that is about five messages a tick.
const sendTick = time.Millisecond

// sendWriteTimeout bounds one write, so a server that stops reading one
// socket cannot stall the whole run.
const sendWriteTimeout = 5 * time.Second

// sendGrace is how far past --duration the sending phase may run when
// writes block, before it gives up on the messages not yet sent.
const sendGrace = 30 * time.Second

// sendResult is what the sending phase did.
type sendResult struct {
	sent        int64
	first, last int64          // unix ns of the first and the last write
	maxBehind   time.Duration  // the furthest the sender fell behind the schedule
	errs        map[string]int // write failures by reason
	skipped     int64          // messages due on sockets that had failed
	unsent      int64          // messages never due: the phase ran out of time
}

// send writes the run's messages at cfg.rate, round robin over emps, so
// each socket sends at rate/len(emps), evenly spaced. One goroutine
// writes every socket: nothing else writes their data frames, and loopback
// writes of a few hundred bytes do not block.
func (r *msgRun) send(ctx context.Context, emps []*employee) sendResult {
	res := sendResult{errs: map[string]int{}}
	if len(emps) == 0 {
		return res
	}
	t := time.NewTicker(sendTick)
	defer t.Stop()
	buf := make([]byte, 0, 256)
	perNS := r.cfg.rate / 1e9
	start := time.Now()
	end := start.Add(r.cfg.duration + sendGrace)
	var k int64
	for k < r.total && time.Now().Before(end) {
		select {
		case <-t.C:
		case <-ctx.Done():
			return res
		}
		due := min(r.total, int64(float64(time.Since(start))*perNS)+1)
		if behind := time.Duration(float64(due-1-k) / perNS); behind > res.maxBehind {
			res.maxBehind = behind
		}
		for ; k < due; k++ {
			e := emps[k%int64(len(emps))]
			if e.dead {
				res.skipped++
				continue
			}
			now := time.Now()
			buf = appendMessage(buf[:0], e.frame, k, now.UnixNano())
			r.sentAt[k].Store(now.UnixNano())
			deadline := now.Add(sendWriteTimeout)
			if deadline.After(end) {
				deadline = end
			}
			e.ws.SetWriteDeadline(deadline)
			if err := e.ws.WriteMessage(websocket.TextMessage, buf); err != nil {
				e.dead = true
				res.errs[failureReason(err)]++
				r.sentAt[k].Store(0)
				continue
			}
			if res.sent == 0 {
				res.first = now.UnixNano()
			}
			res.sent++
			res.last = now.UnixNano()
		}
	}
	res.unsent = r.total - k
	return res
}

// messagePrefix is employee i's message frame up to the k of its
// client_msg_id; appendMessage completes it.
func messagePrefix(conv, tag string, i int) []byte {
	return fmt.Appendf(nil, `{"type":"message","conversation_id":%q,"client_msg_id":"lt-%s-%d-`, conv, tag, i)
}

// readFrame marks conversation conv read up to seq.
func readFrame(conv string, seq int64) []byte {
	return fmt.Appendf(nil, `{"type":"read","conversation_id":%q,"seq":%d}`, conv, seq)
}

// appendMessage appends message k with its send time in the body, without
// allocating.
func appendMessage(b, prefix []byte, k, sentNS int64) []byte {
	b = strconv.AppendInt(append(b, prefix...), k, 10)
	b = strconv.AppendInt(append(b, `","body":"lt `...), sentNS, 10)
	return append(b, `"}`...)
}

// drain waits until every sent message is acked and delivered to every
// agent socket, or drainTimeout has passed since the last send, or ctx ends.
func (r *msgRun) drain(ctx context.Context, sent int64, agentConns int) {
	deadline := time.Now().Add(r.cfg.drainTimeout)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for r.acked.Load() < sent || r.delivered.Load() < sent*int64(agentConns) {
		if time.Now().After(deadline) {
			return
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			return
		}
	}
}
