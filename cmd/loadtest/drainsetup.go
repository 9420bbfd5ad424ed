package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// setupAgents seeds a token for every client as agent lt-d-{i} and has
// one employee open a conversation through a surviving node, left in the
// queue, where every agent may read it: cheap, and every client resumes
// the same history. It returns the cleanup that deletes the tokens.
func (r *drainRun) setupAgents(ctx context.Context, out io.Writer, ready []bool) (func(), error) {
	ids := make([]string, len(r.clients))
	for i := range ids {
		ids[i] = "lt-d-" + strconv.Itoa(i)
	}
	tokens := newTokens(ids)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	cleanup, err := seedTokens(sctx, r.cfg.redisURL, ids, tokens)
	cancel()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "tokens: %d seeded in Redis (TTL %s), deleted at the end\n", len(tokens), tokenTTL)
	done := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cleanup(cctx); err != nil {
			fmt.Fprintln(out, "tokens:", err)
		}
	}
	empID := "lt-drain-" + r.tag
	if r.msgToken, err = r.msgRC.mockLogin(ctx, empID, "LT drain"); err != nil {
		done()
		return nil, fmt.Errorf("employee mock login (are the nodes started with --dev?): %w", err)
	}
	if r.conv, err = r.msgRC.createConversation(ctx, r.msgToken, "drain test "+r.tag, "opened by the load test", empID+"-open"); err != nil {
		done()
		return nil, fmt.Errorf("create conversation: %w", err)
	}
	for i, c := range r.clients {
		c.token, c.path, c.conv = tokens[i], "/ws/"+ids[i], r.conv
		ready[i] = true
	}
	fmt.Fprintf(out, "conversation: %s opened by employee %s through %s and left queued, so every agent may read it\n",
		r.conv, empID, nodeLabel(r.cfg.reconnectURLs[0]))
	return done, nil
}

// setupEmployees logs the agent in, then for every client, --concurrency
// at a time and through the node it will connect to: logs employee
// lt-de-{tag}-{i} in (mock login), opens a conversation and has the
// agent claim it, so it is out of the queue (a queued one would get
// queue.position frames) and nobody but the employee and the agent
// receives its events.
func (r *drainRun) setupEmployees(ctx context.Context, out io.Writer, ready []bool) error {
	cfg := r.cfg
	var err error
	var agentID string
	if r.msgToken, agentID, err = r.msgRC.agentLogin(ctx, cfg.agentUser, cfg.agentPass); err != nil {
		return fmt.Errorf("agent login (are the nodes started with --dev?): %w", err)
	}
	rest := make([]*restClient, len(cfg.urls))
	for i, u := range cfg.urls {
		rest[i] = newRESTClient(httpBase(u), cfg.concurrency, cfg.dialTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, setupDeadline(len(r.clients)))
	defer cancel()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		failures = map[string]int{}
		wg       sync.WaitGroup
	)
	fail := func(step string, err error) {
		mu.Lock()
		failures[step+": "+failureReason(err)]++
		mu.Unlock()
	}
	start := time.Now()
	for range min(cfg.concurrency, len(r.clients)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(r.clients) {
					return
				}
				if ctx.Err() != nil {
					fail("setup", ctx.Err())
					continue
				}
				c := r.clients[i]
				rc := rest[c.node]
				id := "lt-de-" + r.tag + "-" + strconv.Itoa(i)
				token, err := rc.mockLogin(ctx, id, "LT "+strconv.Itoa(i))
				if err != nil {
					fail("mock-login", err)
					continue
				}
				conv, err := rc.createConversation(ctx, token, "drain test "+strconv.Itoa(i), "opened by the load test", id+"-open")
				if err != nil {
					fail("create", err)
					continue
				}
				if _, err := rc.claim(ctx, r.msgToken, conv); err != nil {
					fail("claim", err)
					continue
				}
				c.token, c.path, c.conv = token, "/ws/h5/"+id, conv
				ready[i] = true
			}
		})
	}
	wg.Wait()
	n := 0
	for _, ok := range ready {
		if ok {
			n++
		}
	}
	fmt.Fprintf(out, "setup: agent %q (%s); %d/%d employees lt-de-%s-0…%d logged in, each with a conversation it opened and the agent claimed, in %.2f s; failures: %s\n",
		cfg.agentUser, agentID, n, len(r.clients), r.tag, len(r.clients)-1, time.Since(start).Seconds(), counts(failures))
	if n == 0 {
		return errors.New("no employee is ready")
	}
	return nil
}
