package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// newDialer returns a WebSocket dialer with small buffers, since the
// client shares the machine with the server under test.
func newDialer(timeout time.Duration) *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: timeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  512,
		WriteBufferPool:  &sync.Pool{},
	}
}

// sourceDialer returns a dial function for connection i. With several
// sources it binds to 127.0.0.{1+i%sources}: each source address has its
// own ephemeral port range, so one client can open more connections than
// one range holds. TCP keepalive is off: on this machine's loopback its
// probes go unanswered, which kills idle connections after about 150 s,
// and the server's own pings already prove liveness.
func sourceDialer(i, sources int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{KeepAlive: -1}
	if sources > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%sources))}
		d.Control = bindNoPort
	}
	return d.DialContext
}

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT (since 4.2),
// which package syscall does not name.
const ipBindAddressNoPort = 24

// bindNoPort lets a socket bound to a source address take its port at
// connect time, from the whole 4-tuple. Without it bind picks a port no
// other socket on that address holds: with thousands of sockets open and
// thousands more in TIME_WAIT after a reconnect wave, that search kept
// both cores busy in the kernel for seconds and delayed every handshake.
func bindNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	return cmp.Or(err, serr)
}

// handshakes is the outcome of opening many connections.
type handshakes struct {
	opened   int
	elapsed  time.Duration
	latency  []time.Duration // successful handshakes only
	failures map[string]int  // reason → count
}

// agentDial holds what one agent needs to connect.
type agentDial struct {
	id, token string
}

// dialAgent opens one authenticated agent connection.
func dialAgent(ctx context.Context, base *websocket.Dialer, rawURL string, a agentDial, netDial func(context.Context, string, string) (net.Conn, error)) (*websocket.Conn, error) {
	return dialWS(ctx, base, rawURL, "/ws/"+a.id, a.token, netDial)
}

// dialWS opens {rawURL}{path} with the token offered as the bearer
// subprotocol, and checks that the server selected it, as browsers require.
func dialWS(ctx context.Context, base *websocket.Dialer, rawURL, path, token string, netDial func(context.Context, string, string) (net.Conn, error)) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, base.HandshakeTimeout)
	defer cancel()
	d := *base
	d.NetDialContext = netDial
	proto := "bearer." + token
	d.Subprotocols = []string{proto}
	ws, resp, err := d.DialContext(ctx, strings.TrimSuffix(rawURL, "/")+path, nil)
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil, err
	}
	if ws.Subprotocol() != proto {
		ws.Close()
		return nil, errors.New("subprotocol not echoed")
	}
	return ws, nil
}

// connectDeadline bounds the whole handshake phase: a minute plus 10 ms
// per connection, ample for a server doing a few hundred a second.
func connectDeadline(n int) time.Duration { return time.Minute + time.Duration(n)*10*time.Millisecond }

// connectAll opens n connections with at most concurrency handshakes in
// flight, dial opening connection i, and calls opened for each success as
// it happens.
func connectAll(ctx context.Context, n, concurrency int, dial func(ctx context.Context, i int) (*websocket.Conn, error),
	opened func(i int, ws *websocket.Conn)) handshakes {
	ctx, cancel := context.WithTimeout(ctx, connectDeadline(n))
	defer cancel()
	lat := make([]time.Duration, n)
	var (
		next     atomic.Int64
		tried    atomic.Int64
		mu       sync.Mutex
		failures = map[string]int{}
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range min(concurrency, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				tried.Add(1)
				t0 := time.Now()
				ws, err := dial(ctx, i)
				if err != nil {
					mu.Lock()
					failures[failureReason(err)]++
					mu.Unlock()
					continue
				}
				lat[i] = time.Since(t0)
				opened(i, ws)
			}
		})
	}
	wg.Wait()
	if skipped := n - int(tried.Load()); skipped > 0 {
		failures["not attempted, phase deadline or interrupt"] = skipped
	}
	h := handshakes{elapsed: time.Since(start), failures: failures}
	for _, l := range lat {
		if l > 0 {
			h.latency = append(h.latency, l)
		}
	}
	h.opened = len(h.latency)
	return h
}

// failureReason names why a handshake failed in a few stable words, so
// thousands of failures group into a short list.
func failureReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port (EADDRNOTAVAIL)"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed during handshake"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u // the innermost message carries no addresses or ports
	}
	return err.Error()
}
