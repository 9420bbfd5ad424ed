package gateway

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/wire"
)

func TestSeveralConnectionsPerUser(t *testing.T) {
	d := newTestDesk(t, nil)
	conv := d.conversation("e1", "a1", "a2")
	tab1 := d.connect(desk.RoleAgent, "a1")
	tab2 := d.connect(desk.RoleAgent, "a1")
	phone := d.connect(desk.RoleAgent, "a1")
	d.waitConns(desk.RoleAgent, "a1", 3)
	sender := d.connect(desk.RoleAgent, "a2")

	sender.send(`{"type":"typing","conversation_id":"` + conv + `"}`)
	for i, c := range []*client{tab1, tab2, phone} {
		if m := c.next(); m["type"] != "typing" {
			t.Fatalf("connection %d got %v", i, m)
		}
	}
	// Closing the first tab must leave the others registered (the seed's
	// disconnect removed whichever socket was stored last).
	tab1.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	tab1.closed()
	waitFor(t, "first tab unregistered", func() bool { return d.hub.Count() == 3 })
	sender.send(`{"type":"typing","conversation_id":"` + conv + `"}`)
	for i, c := range []*client{tab2, phone} {
		if m := c.next(); m["type"] != "typing" {
			t.Fatalf("connection %d got %v after another tab closed", i, m)
		}
	}
}

// TestSlowConsumerIsClosedAndOthersKeepReceiving: one agent never reads. Its
// queue overflows and it is closed; another agent receives every event
// published to all agents, without waiting on the first.
func TestSlowConsumerIsClosedAndOthersKeepReceiving(t *testing.T) {
	d := newTestDesk(t, nil, func(o *Options, h *hub.Options) {
		o.MsgRate, o.MsgBurst = 1e6, 1e6
		h.SendQueueBytes = 256 << 10
	})
	stalled := d.connect(desk.RoleAgent, "stalled") // never reads
	fast := d.connect(desk.RoleAgent, "fast")

	const events = 1500 // × 16 KiB ≈ 24 MiB: far past any socket buffer
	pad := strings.Repeat("x", 16<<10)
	var received atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := range events {
			fast.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := fast.ws.ReadMessage()
			if err != nil {
				done <- fmt.Errorf("fast client read %d: %w", i, err)
				return
			}
			if !strings.Contains(string(data), fmt.Sprintf(`"conversation_id":"%d-`, i)) {
				done <- fmt.Errorf("event %d out of order: %.60s", i, data)
				return
			}
			received.Add(1)
		}
		done <- nil
	}()
	// The sender keeps only a few events ahead of the fast reader, as a
	// healthy client would be; the stalled one falls behind without limit.
	const window = 4
	for i := range events {
		waitFor(t, "fast client to keep up", func() bool { return int64(i)-received.Load() < window })
		err := d.gw.bus.Publish(t.Context(), desk.Event{To: desk.Audience{Kind: desk.ToAllAgents},
			Frame: []byte(fmt.Sprintf(`{"type":"notice","conversation_id":"%d-%s"}`, i, pad))})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stalled client unregistered", func() bool {
		return d.hub.UserConns(desk.Principal{Role: desk.RoleAgent, ID: "stalled"}) == 0
	})
	if !strings.Contains(d.logs.String(), "closing slow consumer") {
		t.Error("slow consumer close not logged")
	}
	_ = stalled
}

func TestUnresponsivePeerIsReaped(t *testing.T) {
	d := newTestDesk(t, nil, func(o *Options, h *hub.Options) {
		o.PingInterval, h.PingInterval = 50*time.Millisecond, 50*time.Millisecond
	})
	silent := d.connect(desk.RoleAgent, "silent") // never reads, so never pongs
	alive := d.connect(desk.RoleAgent, "alive")
	go func() {
		for { // reading answers pings automatically
			if _, _, err := alive.ws.NextReader(); err != nil {
				return
			}
		}
	}()
	waitFor(t, "silent peer reaped", func() bool {
		return d.hub.UserConns(desk.Principal{Role: desk.RoleAgent, ID: "silent"}) == 0
	})
	if n := d.hub.Count(); n != 1 {
		t.Errorf("%d connections left, want only the responsive one", n)
	}
	_ = silent
}

func TestRevokedTokenClosesOnlyItsConnections(t *testing.T) {
	d := newTestDesk(t, nil)
	tokA := d.login(desk.RoleAgent, "a1")
	tokB := d.login(desk.RoleAgent, "a1")
	a1 := d.dial(desk.RoleAgent, "a1", tokA)
	a2 := d.dial(desk.RoleAgent, "a1", tokA)
	b := d.dial(desk.RoleAgent, "a1", tokB)
	d.waitConns(desk.RoleAgent, "a1", 3)
	d.gw.bus.Publish(t.Context(), desk.Event{
		To:    desk.Audience{Kind: desk.ToToken, Fingerprint: desk.TokenFingerprint(tokA)},
		Close: &desk.Close{Code: wire.CloseUnauthorized, Reason: wire.ReasonTokenRevoked},
	})
	for _, c := range []*client{a1, a2} {
		if code, reason := c.closed(); code != wire.CloseUnauthorized || reason != wire.ReasonTokenRevoked {
			t.Errorf("closed with %d %q", code, reason)
		}
	}
	b.send(`{"type":"ping"}`)
	if m := b.next(); m["type"] != "pong" {
		t.Errorf("connection with another token affected: %v", m)
	}
}

func TestShutdownClosesWith1012(t *testing.T) {
	d := newTestDesk(t, nil)
	c := d.connect(desk.RoleEmployee, "e1")
	go d.hub.Shutdown(t.Context(), wire.CloseServiceRestart, "server restarting")
	if code, _ := c.closed(); code != websocket.CloseServiceRestart {
		t.Errorf("closed with %d, want 1012", code)
	}
	_, _, err := d.dialWith(d.url(desk.RoleAgent, "a9"), []string{"bearer." + d.login(desk.RoleAgent, "a9")}, nil)
	if err == nil {
		// The handshake may complete; the connection must then close at once.
		t.Log("handshake after shutdown completed; expecting an immediate close")
	}
}
