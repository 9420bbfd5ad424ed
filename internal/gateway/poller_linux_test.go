package gateway

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

func (p *poller) holding() (n int, running bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held), p.epfd >= 0
}

// TestIdleSocketsHoldNoGoroutine: idle sockets wait in the poller, not in
// a goroutine each; they still answer when spoken to, and the poller's own
// goroutine ends with the last of them.
func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	d := newTestDesk(t, nil)
	base := runtime.NumGoroutine()
	const n = 50
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = d.connect(desk.RoleAgent, fmt.Sprintf("a%d", i))
	}
	waitFor(t, "every idle socket held by the poller", func() bool {
		held, _ := d.gw.poller.holding()
		return held == n
	})
	// A goroutine each would be n more; the poller is one.
	waitFor(t, "the handshakes' goroutines gone", func() bool { return runtime.NumGoroutine() < base+n/5 })
	for _, c := range clients[:3] {
		c.send(`{"type":"ping"}`)
		if m := c.next(); m["type"] != "pong" {
			t.Fatalf("a held socket did not answer: %v", m)
		}
	}
	for _, c := range clients {
		c.ws.Close()
	}
	waitFor(t, "the poller stopped", func() bool {
		held, running := d.gw.poller.holding()
		return held == 0 && !running && d.hub.Count() == 0
	})
}

// TestHeldSocketClosedByTheServerEnds: a socket the server closes while
// the poller holds it ends (its reader unregisters it) even if the client
// never answers the close frame: the reader waits for the reply on the
// socket, with its grace, as without a poller.
func TestHeldSocketClosedByTheServerEnds(t *testing.T) {
	d := newTestDesk(t, nil)
	d.connect(desk.RoleAgent, "a1") // never reads, so never answers the close
	waitFor(t, "the socket held by the poller", func() bool {
		held, _ := d.gw.poller.holding()
		return held == 1
	})
	// Shutdown closes it and waits until it is unregistered.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := d.hub.Shutdown(ctx, wire.CloseServiceRestart, "restarting"); err != nil {
		t.Fatalf("the held connection did not end: %v", err)
	}
}
