// Package client is the reference Go client of the desk's WebSocket
// protocol, written from docs/protocol.md: it authenticates with the
// bearer subprotocol, resumes every conversation it follows on each
// (re)connect before reading anything else, buffers a conversation's live
// events until its "resumed", applies events in seq order dropping those it
// already has, and sends messages with client ids, retrying the same id
// after an "unavailable" answer or a reconnect. Tests use it to check what a
// client following the protocol sees; nothing in it knows the server's
// code.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Event is one conversation event as applied.
type Event struct {
	Conversation string
	Seq          int64
	Type         string
	Data         json.RawMessage
	At           time.Time
}

// Config sets up a Client.
type Config struct {
	// URLs are the WebSocket URLs of the nodes to connect to
	// (ws://host/ws/h5/{id}); after a failure the next one is tried.
	URLs  []string
	Token string
	// Follow lists conversations to resume from the start (seq 0).
	Follow []string
	// OnApply, if set, is called for every event applied, in order.
	OnApply func(Event)
}

// Client keeps one connection open, reconnecting with jittered backoff.
type Client struct {
	cfg Config

	mu         sync.Mutex
	ws         *websocket.Conn
	connected  chan struct{} // closed while connected; replaced on disconnect
	last       map[string]int64
	resuming   map[string][]Event
	applied    map[string][]int64
	dropped    int
	waiting    map[string]chan reply // by client_msg_id
	closed4001 bool
}

type reply struct {
	seq  int64
	code string // error code, "" for an ack
}

// New returns a Client; call Run.
func New(cfg Config) *Client {
	c := &Client{
		cfg: cfg, connected: make(chan struct{}), last: map[string]int64{},
		resuming: map[string][]Event{}, applied: map[string][]int64{}, waiting: map[string]chan reply{},
	}
	for _, id := range cfg.Follow {
		c.last[id] = 0
	}
	return c
}

// Follow adds a conversation to resume on every connect (from what has
// been applied, or 0), and resumes it now when connected.
func (c *Client) Follow(id string) {
	c.mu.Lock()
	if _, ok := c.last[id]; !ok {
		c.last[id] = 0
	}
	ws, after := c.ws, c.last[id]
	if ws != nil {
		c.resuming[id] = c.resuming[id][:0]
		ws.WriteJSON(map[string]any{"type": "resume", "conversation_id": id, "after_seq": after})
	}
	c.mu.Unlock()
}

// Run connects and reads until ctx ends or the server closes with 4001.
func (c *Client) Run(ctx context.Context) error {
	delay := 250 * time.Millisecond
	for i := 0; ctx.Err() == nil; i++ {
		url := c.cfg.URLs[i%len(c.cfg.URLs)]
		err := c.session(ctx, url)
		c.mu.Lock()
		if c.closed4001 {
			c.mu.Unlock()
			return errors.New("client: closed with 4001")
		}
		c.mu.Unlock()
		if err == nil {
			delay = 250 * time.Millisecond
		}
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
	return nil
}

// session runs one connection: resume everything followed, then read.
func (c *Client) session(ctx context.Context, url string) error {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{"bearer." + c.cfg.Token}}
	ws, _, err := d.DialContext(ctx, url, http.Header{})
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	c.mu.Lock()
	c.ws = ws
	for id, after := range c.last {
		// Step 1: resume before reading anything from the new socket.
		c.resuming[id] = []Event{}
		if err := ws.WriteJSON(map[string]any{"type": "resume", "conversation_id": id, "after_seq": after}); err != nil {
			c.ws = nil
			c.mu.Unlock()
			ws.Close()
			return err
		}
	}
	close(c.connected)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.ws = nil
		c.connected = make(chan struct{})
		c.mu.Unlock()
		ws.Close()
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == 4001 {
				c.mu.Lock()
				c.closed4001 = true
				c.mu.Unlock()
			}
			return err
		}
		c.frame(data)
	}
}

// frame handles one frame from the server.
func (c *Client) frame(data []byte) {
	var f struct {
		Type           string          `json:"type"`
		ConversationID string          `json:"conversation_id"`
		Seq            int64           `json:"seq"`
		More           bool            `json:"more"`
		ClientMsgID    string          `json:"client_msg_id"`
		Code           string          `json:"code"`
		Data           json.RawMessage `json:"data"`
	}
	if json.Unmarshal(data, &f) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case f.Type == "ack":
		c.answer(f.ClientMsgID, reply{seq: f.Seq})
	case f.Type == "error":
		if f.ClientMsgID != "" {
			c.answer(f.ClientMsgID, reply{code: f.Code})
		}
	case f.Type == "resumed":
		// Step 3: apply what was buffered, in order; more pages if any.
		buf := c.resuming[f.ConversationID]
		delete(c.resuming, f.ConversationID)
		slices.SortFunc(buf, func(a, b Event) int { return int(a.Seq - b.Seq) })
		for _, ev := range buf {
			c.apply(ev)
		}
		if f.More && c.ws != nil {
			c.resuming[f.ConversationID] = []Event{}
			c.ws.WriteJSON(map[string]any{"type": "resume", "conversation_id": f.ConversationID, "after_seq": f.Seq})
		}
	case f.ConversationID != "" && f.Seq > 0:
		ev := Event{Conversation: f.ConversationID, Seq: f.Seq, Type: f.Type, Data: f.Data, At: time.Now()}
		if buf, ok := c.resuming[f.ConversationID]; ok {
			c.resuming[f.ConversationID] = append(buf, ev) // step 2
			return
		}
		c.apply(ev) // step 4
	}
}

// apply applies ev unless it was applied already; mu held.
func (c *Client) apply(ev Event) {
	if _, followed := c.last[ev.Conversation]; !followed {
		c.last[ev.Conversation] = 0
	}
	if ev.Seq <= c.last[ev.Conversation] {
		c.dropped++
		return
	}
	c.last[ev.Conversation] = ev.Seq
	c.applied[ev.Conversation] = append(c.applied[ev.Conversation], ev.Seq)
	if c.cfg.OnApply != nil {
		c.cfg.OnApply(ev)
	}
}

func (c *Client) answer(id string, r reply) {
	if ch := c.waiting[id]; ch != nil {
		select {
		case ch <- r:
		default:
		}
	}
}

// ErrRefused is a send the desk refused for good (not "unavailable").
type ErrRefused struct{ Code string }

func (e *ErrRefused) Error() string { return "client: refused: " + e.Code }

// Send sends a message with clientMsgID and waits for its ack, sending the
// same frame again after an "unavailable" answer or a reconnect, until ctx
// ends. It returns the stored seq.
func (c *Client) Send(ctx context.Context, conversation, body, clientMsgID string) (int64, error) {
	ch := make(chan reply, 4)
	c.mu.Lock()
	c.waiting[clientMsgID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, clientMsgID)
		c.mu.Unlock()
	}()
	frame := map[string]any{"type": "message", "conversation_id": conversation, "body": body, "client_msg_id": clientMsgID}
	delay := 200 * time.Millisecond
	for {
		c.mu.Lock()
		ws, connected := c.ws, c.connected
		c.mu.Unlock()
		if ws == nil {
			select {
			case <-connected:
				continue
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		c.mu.Lock()
		err := ws.WriteJSON(frame)
		c.mu.Unlock()
		if err == nil {
			t := time.NewTimer(3 * time.Second)
			select {
			case r := <-ch:
				t.Stop()
				if r.code == "" {
					return r.seq, nil
				}
				if r.code != "unavailable" {
					return 0, &ErrRefused{Code: r.code}
				}
			case <-t.C: // no answer: the socket may be gone; try again
			case <-ctx.Done():
				t.Stop()
				return 0, ctx.Err()
			}
		}
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// Applied returns the seqs applied for a conversation, in order.
func (c *Client) Applied(conversation string) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.applied[conversation])
}

// Dropped counts events received again and dropped (already applied).
func (c *Client) Dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// String names the client for test logs.
func (c *Client) String() string { return fmt.Sprint(c.cfg.URLs) }
