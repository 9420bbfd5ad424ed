//go:build unix

package hub

import (
	"errors"
	"net"
	"syscall"
)

// tryWrite writes as much of b to nc as its socket takes now, without
// waiting for room. A socket it cannot reach this way (TLS, a pipe) takes
// nothing, and the caller leaves b to a writer goroutine.
func tryWrite(nc net.Conn, b []byte) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, nil
	}
	n := 0
	var werr error
	// Write holds the socket's write lock around the callback, so a frame
	// from net.Conn.Write (gorilla's close frame) never lands inside it,
	// and the descriptor cannot be closed and reused meanwhile. Returning
	// true says not to wait for room: what is left is the caller's.
	err = raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return true
			case e != nil:
				werr = e
				return true
			}
			n += m
		}
		return true
	})
	if werr != nil {
		return n, werr
	}
	if err != nil && n == 0 && !errors.Is(err, net.ErrClosed) {
		// The socket's write deadline has passed, from an earlier
		// write: a writer goroutine sets a fresh one.
		return 0, nil
	}
	return n, err
}
