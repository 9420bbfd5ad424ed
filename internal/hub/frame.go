package hub

import (
	"encoding/binary"

	"github.com/gorilla/websocket"
)

// The hub writes frames itself, encoded once per event for every receiver
// (what a websocket.PreparedMessage did), so that a frame can go out from
// the goroutine that queued it, without waiting, and what the socket did
// not take can be finished by a writer goroutine (Conn.writeInline). A
// server's frames are never masked, and the gateway does not negotiate
// compression.

// textFrame is payload as one text frame.
func textFrame(payload []byte) []byte { return frame(websocket.TextMessage, payload) }

// pingFrame is the server's liveness probe, with no payload.
var pingFrame = frame(websocket.PingMessage, nil)

// frame encodes one final, unmasked frame of the given type (RFC 6455 §5.2).
func frame(typ int, payload []byte) []byte {
	n := len(payload)
	var b []byte
	switch {
	case n <= 125:
		b = make([]byte, 2, 2+n)
		b[1] = byte(n)
	case n <= 0xffff:
		b = make([]byte, 4, 4+n)
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b = make([]byte, 10, 10+n)
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	b[0] = 0x80 | byte(typ)
	return append(b, payload...)
}
