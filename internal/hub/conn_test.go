package hub

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/wire"
)

// TestContextEndsWithTheConnection: the context a connection makes when
// first asked (idle ones never are) ends however the connection does, and
// one asked for after that is already over.
func TestContextEndsWithTheConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(p *pair)
	}{
		{"closed by the server", func(p *pair) { p.conn.Close(wire.CloseServiceRestart, "bye") }},
		{"gone on the client's side", func(p *pair) { p.client.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, Options{})
			ctx := p.conn.Context()
			if ctx.Err() != nil {
				t.Fatalf("a live connection's context is over: %v", ctx.Err())
			}
			if p.conn.Context() != ctx {
				t.Error("a second call made a second context")
			}
			tc.end(p)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the context outlived its connection")
			}
		})
	}
	t.Run("first asked when closing", func(t *testing.T) {
		p := newPair(t, Options{})
		p.conn.Close(wire.CloseServiceRestart, "bye")
		if err := p.conn.Context().Err(); err != context.Canceled {
			t.Errorf("context of a closing connection: err %v, want %v", err, context.Canceled)
		}
	})
}

type wakes struct{ n atomic.Int32 }

func (w *wakes) Wake() { w.n.Add(1) }

// TestReaderIsWokenWhenTheConnectionEnds: a read side waiting away from
// its socket is told when the connection starts closing, and when a failed
// write closes the socket under it, the two things it cannot see there.
func TestReaderIsWokenWhenTheConnectionEnds(t *testing.T) {
	t.Run("closing", func(t *testing.T) {
		p := newPair(t, Options{})
		w := &wakes{}
		p.conn.SetReader(w)
		p.conn.Close(wire.CloseServiceRestart, "bye")
		if w.n.Load() == 0 {
			t.Error("Close did not wake the reader")
		}
	})
	t.Run("socket closed by a failed write", func(t *testing.T) {
		// The client reads nothing, so the writes block once the socket's
		// buffers are full, until the write timeout fails one.
		p := newPair(t, Options{SendQueueBytes: 1 << 30, WriteTimeout: 50 * time.Millisecond})
		w := &wakes{}
		p.conn.SetReader(w)
		frame := bytes.Repeat([]byte("x"), 1<<20)
		for range 64 {
			if !p.conn.Send(frame) {
				break
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for w.n.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the reader was not woken when its socket was closed")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}
