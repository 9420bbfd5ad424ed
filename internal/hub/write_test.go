package hub

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/wire"
)

// TestFramesGoOutFromTheSender: to a client that reads, a frame is
// written by the goroutine that sends it, and no writer is left running.
func TestFramesGoOutFromTheSender(t *testing.T) {
	p := newPair(t, Options{})
	for i := range 100 {
		if !p.conn.Send(fmt.Appendf(nil, `{"seq":%d}`, i+1)) {
			t.Fatal("send refused")
		}
		p.conn.mu.Lock()
		writing := p.conn.writing
		p.conn.mu.Unlock()
		if writing {
			t.Fatalf("frame %d: a writer still runs after Send returned", i+1)
		}
	}
	got := p.seqs(t, 100)
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("frames %v", got)
		}
	}
}

// numbered is frame i: its number, then filler, so a frame cut or spliced
// anywhere reads differently.
func numbered(i, size int) []byte {
	b := fmt.Appendf(nil, "%08d", i)
	return append(b, bytes.Repeat([]byte{byte('a' + i%26)}, size-len(b))...)
}

func readNumbered(t *testing.T, ws *websocket.Conn, i, size int) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("frame %d: %v", i, err)
	}
	if !bytes.Equal(b, numbered(i, size)) {
		t.Fatalf("frame %d arrived altered (%d bytes, starts %q)", i, len(b), b[:min(len(b), 16)])
	}
}

// TestFullSocketKeepsFramesWhole: a client that stops reading fills its
// socket, so frames are left half written for a writer goroutine to
// finish. Nothing written meanwhile may land inside one: not the next
// frames, not the answer to the client's ping, and on Close not the close
// frame, which follows the frame begun.
func TestFullSocketKeepsFramesWhole(t *testing.T) {
	const size, n = 200 << 10, 60 // 12 MB: more than loopback's socket buffers hold
	t.Run("ping", func(t *testing.T) {
		p := newPair(t, Options{SendQueueBytes: 1 << 30})
		pongs := make(chan string, 1)
		p.client.SetPongHandler(func(s string) error { pongs <- s; return nil })
		for i := range n {
			p.conn.Send(numbered(i, size))
			if i == n/2 {
				if err := p.client.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := range n {
			readNumbered(t, p.client, i, size)
		}
		select {
		case s := <-pongs:
			if s != "are you there" {
				t.Errorf("pong %q", s)
			}
		default:
			t.Error("no pong among the frames")
		}
	})
	t.Run("close", func(t *testing.T) {
		p := newPair(t, Options{SendQueueBytes: 1 << 30})
		for i := range n {
			p.conn.Send(numbered(i, size))
		}
		p.conn.Close(wire.CloseTryAgainLater, "bye")
		for i := 0; ; i++ {
			p.client.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, b, err := p.client.ReadMessage()
			if ce, ok := err.(*websocket.CloseError); ok {
				if ce.Code != wire.CloseTryAgainLater || ce.Text != "bye" {
					t.Errorf("closed with %d %q", ce.Code, ce.Text)
				}
				if i == n {
					t.Error("Close dropped nothing that was queued")
				}
				return
			}
			if err != nil {
				t.Fatalf("after %d frames: %v", i, err)
			}
			if !bytes.Equal(b, numbered(i, size)) {
				t.Fatalf("frame %d arrived altered (%d bytes)", i, len(b))
			}
		}
	})
}

// TestCloseFinishesTheFrameBegun: a frame the socket took half of is
// finished before the close frame, and the frames after it are dropped.
func TestCloseFinishesTheFrameBegun(t *testing.T) {
	p := newPair(t, Options{})
	c := p.conn
	first, second := textFrame(numbered(0, 1000)), textFrame(numbered(1, 1000))
	// What writeInline leaves when the socket takes half of a frame.
	c.mu.Lock()
	c.writing = true
	c.queued = 2000
	c.hub.writers.Add(1)
	c.mu.Unlock()
	n, err := tryWrite(c.ws.NetConn(), first[:500])
	if err != nil || n != 500 {
		t.Fatalf("wrote %d: %v", n, err)
	}
	c.Close(wire.CloseTryAgainLater, "bye")
	c.writeLoop([]item{{frame: first, size: 1000}, {frame: second, size: 1000}}, n)

	readNumbered(t, p.client, 0, 1000)
	p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = p.client.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != wire.CloseTryAgainLater {
		t.Fatalf("after the frame begun: %v, want the close frame", err)
	}
}

// TestCloseBoundsTheFrameBegun: a frame begun before Close, to a client
// that reads nothing, is given the close's grace, not the write timeout.
func TestCloseBoundsTheFrameBegun(t *testing.T) {
	p := newPair(t, Options{WriteTimeout: time.Minute})
	c := p.conn
	huge := textFrame(bytes.Repeat([]byte("x"), 64<<20)) // more than the socket buffers hold
	c.mu.Lock()
	c.writing = true
	c.queued = len(huge)
	c.hub.writers.Add(1)
	c.mu.Unlock()
	n, err := tryWrite(c.ws.NetConn(), huge)
	if err != nil || n == 0 || n == len(huge) {
		t.Fatalf("wrote %d of %d: %v", n, len(huge), err)
	}
	c.Close(wire.CloseTryAgainLater, "bye")
	done := make(chan struct{})
	go func() {
		c.writeLoop([]item{{frame: huge, size: len(huge)}}, n)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the frame begun was still being written 10 s after Close")
	}
}
