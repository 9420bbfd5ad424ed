package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// floorWriteTimeout bounds one write, so a client that stops reading
// cannot stall a broadcast for long.
const floorWriteTimeout = 5 * time.Second

// floor is a deliberately bare server speaking the servicedesk agent wire
// contract: no authentication, no queues, every broadcast written to every
// connection straight from the sender's read loop or push request. What
// the load test measures against it is what this machine can do at best.
type floor struct {
	upgrader websocket.Upgrader
	pong     *websocket.PreparedMessage
	apiKey   string

	mu    sync.Mutex
	conns []*floorConn
}

// floorConn is one connection; mu serialises its writers (the broadcast
// loop and its own pong replies).
type floorConn struct {
	ws  *websocket.Conn
	id  string
	idx int // position in floor.conns, guarded by floor.mu

	mu sync.Mutex
}

// runFloor serves the floor until ctx ends.
func runFloor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8001", "listen address")
	apiKey := fs.String("api-key", "loadtest-key-0123456789abcdef01234567", "X-API-Key that POST /api/push requires")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	pong, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
	if err != nil {
		return err
	}
	f := &floor{
		upgrader: websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}},
		pong:     pong,
		apiKey:   *apiKey,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/{agent_id}", f.serveWS)
	mux.HandleFunc("POST /api/push", f.servePush)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "floor: listening on %s, pid %d\n", ln.Addr(), os.Getpid())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		srv.Close() // hijacked connections are not the server's to close
		f.closeAll()
	}
	if err == http.ErrServerClosed {
		err = nil
	}
	return err
}

// serveWS upgrades, selecting the offered bearer subprotocol unchecked,
// and hands the connection to its own read loop. Returning from the
// handler matters: while it runs, net/http keeps its request buffers
// (about 10 KiB) alive for the whole life of the WebSocket.
func (f *floor) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := upgradeBearer(f.upgrader, w, r)
	if err != nil {
		return
	}
	c := &floorConn{ws: ws, id: r.PathValue("agent_id")}
	f.add(c)
	go f.read(c)
}

// upgradeBearer upgrades with up, selecting the offered bearer
// subprotocol unchecked, and bounds frames as the desk does.
func upgradeBearer(up websocket.Upgrader, w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	for _, p := range websocket.Subprotocols(r) {
		if strings.HasPrefix(p, "bearer.") {
			up.Subprotocols = []string{p}
			break
		}
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(64 << 10)
	return ws, nil
}

// read handles c's frames until the connection ends.
func (f *floor) read(c *floorConn) {
	defer f.remove(c)
	readFrames(c, func(buf []byte) bool {
		var m struct {
			Type           string `json:"type"`
			ConversationID string `json:"conversation_id"`
			SenderName     string `json:"sender_name"`
		}
		if json.Unmarshal(buf, &m) != nil {
			return false
		}
		switch m.Type {
		case "ping":
			c.write(f.pong, time.Now().Add(floorWriteTimeout))
		case "typing":
			if m.ConversationID != "" {
				f.broadcast(c, m.ConversationID, m.SenderName)
			}
		}
		return true
	})
}

// readFrames hands each of c's frames to handle, whole, until the
// connection ends or handle returns false; then it closes c.
func readFrames(c *floorConn, handle func(frame []byte) bool) {
	defer c.ws.Close()
	var buf []byte
	for {
		_, rd, err := c.ws.NextReader()
		if err != nil {
			return
		}
		if buf, err = readInto(rd, buf[:0]); err != nil || !handle(buf) {
			return
		}
	}
}

// broadcast encodes the typing frame once and writes it to every
// connection in turn.
func (f *floor) broadcast(from *floorConn, conv, name string) {
	type data struct {
		ConversationID string `json:"conversation_id"`
		SenderID       string `json:"sender_id"`
		SenderName     string `json:"sender_name"`
		SenderType     string `json:"sender_type"`
	}
	b, err := json.Marshal(struct {
		Type string `json:"type"`
		Data data   `json:"data"`
	}{"typing", data{conv, from.id, cmp.Or(name, from.id), "agent"}})
	if err != nil {
		return
	}
	f.broadcastFrame(b)
}

// broadcastFrame writes one text frame to every connection in turn and
// returns how many there were.
func (f *floor) broadcastFrame(b []byte) int {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		return 0
	}
	f.mu.Lock()
	conns := slices.Clone(f.conns)
	f.mu.Unlock()
	deadline := time.Now().Add(floorWriteTimeout)
	for _, c := range conns {
		c.write(pm, deadline)
	}
	return len(conns)
}

// servePush is the push API reduced to what the load test sends: the
// event, compacted, to every connection (all of them are agents here),
// written before the answer.
func (f *floor) servePush(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-API-Key") != f.apiKey {
		http.Error(w, `{"error":{"code":"unauthorized","message":"missing or wrong X-API-Key"}}`, http.StatusUnauthorized)
		return
	}
	var req struct {
		To struct {
			AllAgents bool `json:"all_agents"`
		} `json:"to"`
		Event json.RawMessage `json:"event"`
	}
	var event bytes.Buffer
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil ||
		!req.To.AllAgents || json.Compact(&event, req.Event) != nil || !bytes.HasPrefix(event.Bytes(), []byte("{")) {
		http.Error(w, `{"error":{"code":"invalid","message":"the floor takes {\"to\":{\"all_agents\":true},\"event\":{…}}"}}`, http.StatusBadRequest)
		return
	}
	n := f.broadcastFrame(event.Bytes())
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"delivered\":%d,\"published\":true}\n", n)
}

// write sends pm; a failed connection is closed, which ends its reader.
func (c *floorConn) write(pm *websocket.PreparedMessage, deadline time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ws.SetWriteDeadline(deadline)
	if c.ws.WritePreparedMessage(pm) != nil {
		c.ws.Close()
	}
}

func (f *floor) add(c *floorConn) {
	f.mu.Lock()
	c.idx = len(f.conns)
	f.conns = append(f.conns, c)
	f.mu.Unlock()
}

func (f *floor) remove(c *floorConn) {
	f.mu.Lock()
	last := f.conns[len(f.conns)-1]
	f.conns[c.idx], last.idx = last, c.idx
	f.conns = f.conns[:len(f.conns)-1]
	f.mu.Unlock()
}

func (f *floor) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.ws.Close()
	}
}

// readInto appends a whole message to buf.
func readInto(rd io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
