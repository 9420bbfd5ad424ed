package gateway

import (
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
)

func TestWholeClientPong(t *testing.T) {
	mask := []byte{1, 2, 3, 4}
	frame := func(b0, b1 byte, payload int) []byte {
		return append(append([]byte{b0, b1}, mask...), make([]byte, payload)...)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		size int
	}{
		{"empty pong", frame(0x8a, 0x80, 0), 6},
		{"pong with payload", frame(0x8a, 0x85, 5), 11},
		{"largest pong", frame(0x8a, 0x80|125, 125), 131},
		{"pong then more", append(frame(0x8a, 0x82, 2), 0x81, 0x80), 8},
		{"half a pong", frame(0x8a, 0x85, 5)[:8], 0},
		{"one byte", []byte{0x8a}, 0},
		{"unmasked pong", []byte{0x8a, 0x00}, 0},
		{"pong not final", frame(0x0a, 0x80, 0), 0},
		{"pong with extension bit", frame(0xca, 0x80, 0), 0},
		{"pong claiming 126 bytes", frame(0x8a, 0x80|126, 2), 0},
		{"text frame", frame(0x81, 0x80, 0), 0},
		{"ping", frame(0x89, 0x80, 0), 0},
		{"close", frame(0x88, 0x80, 0), 0},
	} {
		size, ok := wholeClientPong(tc.b)
		if ok != (tc.size > 0) || size != tc.size {
			t.Errorf("%s: wholeClientPong = %d, %v; want %d", tc.name, size, ok, tc.size)
		}
	}
}

// An idle socket's pongs are read while it is parked: a client that
// answers pings stays through many intervals, and what it sends after a
// pong (in the same packet, or a frame cut in two) still reaches gorilla
// whole.
func TestParkedSocketAnswersPingsAndWakesForFrames(t *testing.T) {
	d := newTestDesk(t, nil, func(o *Options, h *hub.Options) {
		o.PingInterval, h.PingInterval = 100*time.Millisecond, 100*time.Millisecond
	})
	alive := d.connect(desk.RoleAgent, "alive")
	// The test reads frames itself below, so answer pings by hand: gorilla's
	// client answers them only while something reads.
	nc := alive.ws.NetConn()
	pong := []byte{0x8a, 0x80, 0, 0, 0, 0}
	ping := func() []byte { // {"type":"ping"}, masked with zeros
		p := []byte(`{"type":"ping"}`)
		return append([]byte{0x81, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
	}
	deadline := time.Now().Add(time.Second) // 10 ping intervals, 5 read deadlines
	for time.Now().Before(deadline) {
		if _, err := nc.Write(pong); err != nil {
			t.Fatalf("write pong: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := d.hub.UserConns(desk.Principal{Role: desk.RoleAgent, ID: "alive"}); n != 1 {
		t.Fatalf("a client sending pongs was dropped: %d connections", n)
	}
	// A pong and a frame in one write.
	if _, err := nc.Write(append(append([]byte{}, pong...), ping()...)); err != nil {
		t.Fatal(err)
	}
	if m := alive.next(); m["type"] != "pong" {
		t.Fatalf("after pong+ping in one write: %v", m)
	}
	// A frame cut in two: the parked side must not take its first half.
	f := ping()
	if _, err := nc.Write(f[:3]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := nc.Write(f[3:]); err != nil {
		t.Fatal(err)
	}
	if m := alive.next(); m["type"] != "pong" {
		t.Fatalf("after a frame in two writes: %v", m)
	}
	// A pong cut in two goes to gorilla, which takes it as ever.
	if _, err := nc.Write(pong[:1]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := nc.Write(append(pong[1:], ping()...)); err != nil {
		t.Fatal(err)
	}
	if m := alive.next(); m["type"] != "pong" {
		t.Fatalf("after a pong in two writes: %v", m)
	}
}
