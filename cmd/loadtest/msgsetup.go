package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// agentSession is the logged-in agent and its open sockets.
type agentSession struct {
	id, token string
	conns     []*agentConn
}

// setupResult is what preparing the conversations took.
type setupResult struct {
	ready    []*employee // connected, conversation created and claimed
	elapsed  time.Duration
	failures map[string]int     // "step: reason" → count
	lat      [4][]time.Duration // per setupStep, successful calls only
}

// The steps of preparing one employee, in order.
const (
	stepLogin = iota
	stepConnect
	stepCreate
	stepClaim
)

var stepNames = [...]string{"mock-login", "connect", "create", "claim"}

// setupDeadline bounds the whole setup: a minute plus 50 ms per
// conversation, ample for four round trips each with a few in flight.
func setupDeadline(n int) time.Duration { return time.Minute + time.Duration(n)*50*time.Millisecond }

// loginAgent logs the agent in and opens its sockets. Any failure ends the
// run: without the agent nothing can be delivered.
func (r *msgRun) loginAgent(ctx context.Context, rc *restClient, d *websocket.Dialer) (*agentSession, error) {
	ctx, cancel := context.WithTimeout(ctx, setupDeadline(r.cfg.agentConns))
	defer cancel()
	token, id, err := rc.agentLogin(ctx, r.cfg.agentUser, r.cfg.agentPass)
	if err != nil {
		return nil, fmt.Errorf("agent login: %w", err)
	}
	a := &agentSession{id: id, token: token}
	for j := range r.cfg.agentConns {
		ws, err := dialWS(ctx, d, r.cfg.url, "/ws/"+id, token, sourceDialer(j, r.cfg.sources))
		if err != nil {
			for _, c := range a.conns {
				c.ws.Close()
			}
			return nil, fmt.Errorf("agent connection %d: %s", j+1, failureReason(err))
		}
		c := r.newAgentConn(ws)
		a.conns = append(a.conns, c)
		r.wg.Go(func() { r.readAgent(c) })
	}
	return a, nil
}

// setupEmployees logs every employee in, connects it, creates its
// conversation and has the agent claim it, with at most concurrency
// employees in progress at once.
func (r *msgRun) setupEmployees(ctx context.Context, rc *restClient, d *websocket.Dialer, agent *agentSession) setupResult {
	n := r.cfg.conversations
	ctx, cancel := context.WithTimeout(ctx, setupDeadline(n))
	defer cancel()
	emps := make([]*employee, n)
	var (
		next     atomic.Int64
		tried    atomic.Int64
		mu       sync.Mutex
		failures = map[string]int{}
		lat      [4][]time.Duration
		wg       sync.WaitGroup
	)
	timed := func(step int, f func() error) error {
		t0 := time.Now()
		err := f()
		if err != nil {
			mu.Lock()
			failures[stepNames[step]+": "+failureReason(err)]++
			mu.Unlock()
			return err
		}
		mu.Lock()
		lat[step] = append(lat[step], time.Since(t0))
		mu.Unlock()
		return nil
	}
	start := time.Now()
	for range min(r.cfg.concurrency, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				tried.Add(1)
				emps[i] = r.setupEmployee(ctx, rc, d, agent, i, timed)
			}
		})
	}
	wg.Wait()
	if skipped := n - int(tried.Load()); skipped > 0 {
		failures["not attempted, phase deadline or interrupt"] = skipped
	}
	res := setupResult{elapsed: time.Since(start), failures: failures, lat: lat}
	for _, e := range emps {
		if e != nil {
			res.ready = append(res.ready, e)
		}
	}
	return res
}

// setupEmployee prepares employee i, or returns nil after recording why it
// could not.
func (r *msgRun) setupEmployee(ctx context.Context, rc *restClient, d *websocket.Dialer, agent *agentSession, i int,
	timed func(step int, f func() error) error) *employee {
	e := &employee{i: i, id: r.employeeID(i)}
	if timed(stepLogin, func() (err error) {
		e.token, err = rc.mockLogin(ctx, e.id, "LT "+strconv.Itoa(i))
		return err
	}) != nil {
		return nil
	}
	if timed(stepConnect, func() (err error) {
		e.ws, err = dialWS(ctx, d, r.cfg.url, "/ws/h5/"+e.id, e.token, sourceDialer(r.cfg.agentConns+i, r.cfg.sources))
		return err
	}) != nil {
		return nil
	}
	// Read from the start: queue positions and the conversation's own
	// events arrive while it is being set up.
	r.wg.Go(func() { r.readEmployee(e) })
	if timed(stepCreate, func() (err error) {
		e.conv, err = rc.createConversation(ctx, e.token, "load test "+strconv.Itoa(i), "opened by the load test", r.openingID(i))
		return err
	}) != nil {
		e.abandoned.Store(true)
		e.ws.Close()
		return nil
	}
	if timed(stepClaim, func() error {
		seq, err := rc.claim(ctx, agent.token, e.conv)
		if err != nil || !r.cfg.readClaim {
			return err
		}
		// The sender writes to e.ws only after setup has ended.
		return e.ws.WriteMessage(websocket.TextMessage, readFrame(e.conv, seq))
	}) != nil {
		e.abandoned.Store(true)
		e.ws.Close()
		return nil
	}
	e.frame = messagePrefix(e.conv, r.tag, i)
	return e
}
