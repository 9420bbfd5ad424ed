package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/limits"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// readBufferSize is gorilla's read buffer: any ping or typing frame in one
// read; bigger frames stream through it.
const readBufferSize = 1024

// keptReader hands gorilla, at the upgrade, a read buffer the gateway keeps
// a hold of, so the reader can tell when everything received has been read
// and lend the buffer out while the connection is parked. gorilla reuses a
// hijacked reader when the Upgrader's ReadBufferSize is 0.
type keptReader struct {
	http.ResponseWriter
	br *bufio.Reader
}

func (k *keptReader) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(k.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return nc, brw, err // gorilla refuses early data itself
	}
	k.br = new(bufio.Reader)
	lendBuffer(k.br, nc)
	return nc, bufio.NewReadWriter(k.br, brw.Writer), nil
}

// spareBuffers holds the read buffers of parked connections (as
// *bufio.Reader values that own them): an idle socket keeps none.
var spareBuffers sync.Pool

// lendBuffer gives br, whose buffer was taken back (or never given), a
// read buffer over nc: a spare one if there is one.
func lendBuffer(br *bufio.Reader, nc net.Conn) {
	if spare, ok := spareBuffers.Get().(*bufio.Reader); ok {
		spare.Reset(nc)
		*br = *spare
		return
	}
	*br = *bufio.NewReaderSize(nc, readBufferSize)
}

// takeBuffer takes back br's buffer, which holds nothing unread: gorilla
// keeps its *bufio.Reader, emptied, until lendBuffer fills it again, and
// nothing of gorilla's reads it meanwhile (only the reader does, and it is
// parked).
func takeBuffer(br *bufio.Reader) {
	spare := new(bufio.Reader)
	*spare = *br
	spare.Reset(nil) // let go of the connection
	spareBuffers.Put(spare)
	*br = bufio.Reader{}
}

// reader is one connection's read side. While the client sends, it reads
// frames in a goroutine of its own; once everything received has been
// read, that goroutine ends and the connection parks: its socket is held
// by the gateway's poller (Linux), with no goroutine at all, until it
// becomes readable; then a parked goroutine with a fresh, small stack
// looks at what arrived. A reader blocked inside gorilla would hold its
// whole call chain, and even a parked goroutine is 2.5 KiB: at 10,000 idle
// sockets those were the largest part of their memory (docs/benchmarks.md,
// issue 14). A parked connection also lends its read buffer out
// (takeBuffer). The parked goroutine answers the client's pongs itself and
// hands the socket back to the poller, so keep-alives do not wake a
// reader; anything else starts the reader again. Where there is no
// poller, the parked goroutine waits on the socket itself.
type reader struct {
	session // what frame handlers know of the connection
	c       *hub.Conn
	ws      *websocket.Conn
	// addr is the client address its socket is counted under (admit).
	addr string
	// limiter is the socket's own frame budget, when users have no shared
	// one (Options.Frames).
	limiter *rate.Limiter
	// br is gorilla's read buffer and raw the socket, for parking; either
	// nil (TLS, a test's pipe) and the reader never parks.
	br  *bufio.Reader
	raw syscall.RawConn
	// deadline is the read deadline alive last set, in Unix nanoseconds:
	// the poller's to enforce while it holds the socket.
	deadline atomic.Int64
	// key names the socket in the poller while it holds it, else 0;
	// guarded by the poller's mutex.
	key uint64
}

// Every field above is kept as long as the socket lives, so the reader
// keeps no closures (methods instead, bound where gorilla wants a func),
// and nothing it can find from another field (the connection's id, the
// user's budget key).

func newReader(g *Gateway, c *hub.Conn, ws *websocket.Conn, br *bufio.Reader, addr string) *reader {
	r := &reader{session: session{g: g, out: c, user: c.User},
		c: c, ws: ws, addr: addr, br: br}
	if tc, ok := ws.NetConn().(*net.TCPConn); ok && br != nil {
		if raw, err := tc.SyscallConn(); err == nil {
			r.raw = raw
		}
	}
	c.SetReader(r)
	ws.SetReadLimit(g.opts.MaxMessageBytes)
	r.alive()
	ws.SetPongHandler(r.pongHandler)
	if g.opts.Frames == nil {
		r.limiter = rate.NewLimiter(rate.Limit(g.opts.MsgRate), g.opts.MsgBurst)
	}
	return r
}

// allow takes one frame from the budget: one per user, whatever their
// number of sockets (and REST writes), as a flood from many tabs is still
// one user's flood.
func (r *reader) allow() bool {
	if r.limiter != nil {
		return r.limiter.Allow()
	}
	ok, _ := r.g.opts.Frames.Allow(limits.Key(r.user))
	return ok
}

// alive moves the read deadline on. A peer that answers neither our pings
// nor sends anything for two intervals is gone (half-open TCP): the read
// times out and we unregister.
func (r *reader) alive() {
	t := time.Now().Add(2 * r.g.opts.PingInterval)
	r.deadline.Store(t.UnixNano())
	r.ws.SetReadDeadline(t)
}

func (r *reader) pongHandler(string) error {
	r.pong()
	return nil
}

// start reads or parks the connection's read side.
func (r *reader) start() {
	if r.parkable() {
		r.parkNow()
	} else {
		go r.run()
	}
}

// parkNow lends the read buffer out and leaves the socket to the poller,
// or to a goroutine that waits on it.
func (r *reader) parkNow() {
	takeBuffer(r.br)
	if !r.sleep() {
		go r.park()
	}
}

// sleep leaves the parked socket to the poller, and reports whether it
// took it. From then on the poller, or Wake, starts park when there is
// something to look at.
func (r *reader) sleep() bool {
	if !r.g.poller.hold(r) {
		return false
	}
	// Closing may have begun before the poller held the socket, when Wake
	// found nothing to wake (hub.Conn.wakeReader).
	if r.c.Closing() {
		r.Wake()
	}
	return true
}

// Wake (hub.Waker) takes the socket back from the poller, if it holds it,
// for a parked goroutine to wait on: for the client's close reply, a read
// deadline the poller does not know, or the error of a socket closed.
func (r *reader) Wake() {
	if r.g.poller.release(r) {
		go r.park()
	}
}

func (r *reader) pong() {
	if !r.c.Closing() {
		r.alive()
	}
}

// log is the connection's logger, made only when there is something to
// say: a logger kept per socket costs every idle one its clone.
func (r *reader) log() *slog.Logger {
	return r.g.log.With(idAttr(r.c.User.Role, r.c.User.ID), "conn_id", r.c.ID())
}

// run reads the client's frames, enforcing liveness, size, type and rate
// limits, until everything received has been read (then it parks) or the
// connection ends (then it unregisters it).
func (r *reader) run() {
	parked := false
	defer func() {
		// Frame handlers recover on their own; this guards the loop itself.
		if v := recover(); v != nil {
			r.log().Error("read loop panicked", "error", fmt.Sprint(v), "stack", string(debug.Stack()))
			r.c.Close(wire.CloseInternal, wire.ReasonInternal)
			parked = false
		}
		if !parked {
			r.g.hub.Unregister(r.c)
			r.g.release(r.user, r.addr)
		}
	}()
	c, ws := r.c, r.ws
	// between says gorilla stands between two messages: nothing of a frame
	// is left unread, so what arrives next starts a frame. run is started
	// when there is something to read, so it reads before parking again.
	between := false
	for {
		if between && r.parkable() {
			parked = true
			r.parkNow()
			return
		}
		between = false
		mt, rd, err := ws.NextReader()
		if err != nil {
			r.g.logEnd(r.log(), c, err)
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has sent 1009; discard (never buffer) what the
				// client is still sending so it reads the close frame
				// instead of a TCP reset.
				linger(ws.NetConn())
			}
			return
		}
		if c.Closing() {
			// Closed by us (revoked, slow, shutting down): act on nothing
			// more, only wait for the client's close reply.
			continue
		}
		r.alive()
		switch {
		case !r.allow():
			r.log().Warn("websocket closed", "reason", "rate_limited")
			c.Close(wire.ClosePolicyViolation, wire.ReasonRateExceeded)
		case mt != websocket.TextMessage:
			r.log().Warn("websocket closed", "reason", "binary_frame")
			c.Close(wire.CloseUnsupportedData, wire.ReasonBinary)
		default:
			data, err := io.ReadAll(rd)
			if err != nil {
				continue // the next NextReader reports the failure
			}
			between = true
			// The connection's context: a handler waiting on the desk
			// stops when the socket closes or the server drains.
			r.handle(c.Context(), data)
		}
	}
}

// parkable says the reader may stop: it can watch the socket, gorilla
// holds nothing unread, and we are not waiting for a close reply.
func (r *reader) parkable() bool {
	return r.raw != nil && r.br.Buffered() == 0 && !r.c.Closing()
}

// maxPongFrame is a client's largest pong: 2 header bytes, the 4-byte mask
// and at most 125 bytes of payload.
const maxPongFrame = 2 + 4 + 125

// park waits until the socket is readable. A whole pong waiting there is
// read and acted on here; anything else (a frame, the client closing, an
// error, the read deadline passing) starts run again, which reads it with
// gorilla, or ends the connection through the same path as ever.
func (r *reader) park() {
	for {
		if r.wait() != nil {
			break
		}
		buf := pongBuffers.Get().(*[maxPongFrame]byte)
		ok, err := r.takePong(buf[:])
		pongBuffers.Put(buf)
		if err != nil {
			// Part of a frame gone: gorilla could not find the next one.
			r.ws.NetConn().Close()
			break
		}
		if !ok {
			break
		}
		r.pong()
		if r.sleep() {
			return
		}
	}
	lendBuffer(r.br, r.ws.NetConn())
	go r.run()
}

// pongBuffers hold what takePong looks at: a buffer kept by each parked
// socket would be as much again as everything else it keeps.
var pongBuffers = sync.Pool{New: func() any { return new([maxPongFrame]byte) }}

// wait blocks until the socket has something to read, or fails (a passed
// deadline, a closed socket).
func (r *reader) wait() error {
	return r.raw.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EINTR {
				// EAGAIN: nothing yet, wait for the poller (an EAGAIN seen
				// means the next arrival wakes it).
				return err != syscall.EAGAIN
			}
		}
	})
}

// takePong reads a whole pong off the socket if that is what it holds
// first, and reports whether it did; anything else is left in place.
func (r *reader) takePong(buf []byte) (bool, error) {
	n, err := r.peek(buf)
	if err != nil || n == 0 {
		return false, nil // gorilla reads the failure, or the end
	}
	size, ok := wholeClientPong(buf[:n])
	if !ok {
		return false, nil
	}
	return true, r.discard(buf[:size])
}

// peek copies what the socket holds into buf without taking it; it does
// not wait (wait has).
func (r *reader) peek(buf []byte) (n int, err error) {
	var rerr error
	werr := r.raw.Read(func(fd uintptr) bool {
		for {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if rerr != syscall.EINTR {
				return true
			}
		}
	})
	if werr != nil {
		return 0, werr
	}
	return n, rerr
}

// discard takes len(buf) bytes already seen by peek off the socket.
func (r *reader) discard(buf []byte) error {
	var n int
	var rerr error
	werr := r.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), buf)
			if rerr != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case werr != nil:
		return werr
	case rerr != nil:
		return rerr
	case n != len(buf):
		return io.ErrShortBuffer
	}
	return nil
}

// wholeClientPong reports whether b starts with a whole, well-formed pong from a
// client (final, no extension bits, masked, at most 125 bytes of payload)
// and its size. Anything else, even a malformed pong, is gorilla's to read
// and answer as it always has.
func wholeClientPong(b []byte) (int, bool) {
	const finPong, masked = 0x80 | websocket.PongMessage, 0x80
	if len(b) < 2 || b[0] != finPong || b[1]&masked == 0 {
		return 0, false
	}
	size := 2 + 4 + int(b[1]&0x7f)
	if b[1]&0x7f > 125 || len(b) < size {
		return 0, false
	}
	return size, true
}
