package hub

import (
	"context"
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
