package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/wire"
)

func TestPingPong(t *testing.T) {
	d := newTestDesk(t, nil)
	for _, role := range []desk.Role{desk.RoleAgent, desk.RoleEmployee} {
		c := d.connect(role, "u1")
		c.send(`{"type":"ping"}`)
		if got := string(c.nextRaw()); got != `{"type":"pong"}` {
			t.Errorf("%s: got %s, want {\"type\":\"pong\"}", role, got)
		}
	}
}

func TestTypingReachesTheOtherParticipantsInTheSeedsShape(t *testing.T) {
	d := newTestDesk(t, nil)
	conv := d.conversation("e1", "a1", "a2")
	sender := d.connect(desk.RoleAgent, "a1")
	senderTab2 := d.connect(desk.RoleAgent, "a1")
	other := d.connect(desk.RoleAgent, "a2")
	employee := d.connect(desk.RoleEmployee, "e1")
	outsider := d.connect(desk.RoleAgent, "a3")
	// A pong proves a socket is registered: the 101 comes before that, and
	// a typing event published in between would not reach it.
	for _, c := range []*client{sender, senderTab2, other, employee, outsider} {
		c.send(`{"type":"ping"}`)
		if m := c.next(); m["type"] != "pong" {
			t.Fatalf("before typing: %v", m)
		}
	}

	// The name shown is the one the desk knows, not the one the frame says.
	sender.send(`{"type":"typing","conversation_id":"` + conv + `","sender_name":"IT Security Team"}`)
	want := `{"type":"typing","data":{"conversation_id":"` + conv + `","sender_id":"a1","sender_name":"Agent a1","sender_type":"agent"}}`
	for name, c := range map[string]*client{"other agent": other, "employee": employee} {
		if got := string(c.nextRaw()); got != want {
			t.Errorf("%s got %s\nwant %s", name, got, want)
		}
	}
	employee.send(`{"type":"typing","conversation_id":"` + conv + `"}`)
	want = `{"type":"typing","data":{"conversation_id":"` + conv + `","sender_id":"e1","sender_name":"e1","sender_type":"employee"}}`
	for name, c := range map[string]*client{"sender": sender, "sender's second tab": senderTab2, "other agent": other} {
		if got := string(c.nextRaw()); got != want {
			t.Errorf("%s got %s\nwant %s", name, got, want)
		}
	}
	// The sender's own tabs and agents outside the conversation saw nothing
	// of a1's typing: their next frame is the pong to their own ping.
	for name, c := range map[string]*client{"sender": sender, "sender's second tab": senderTab2, "outsider": outsider} {
		c.send(`{"type":"ping"}`)
		if m := c.next(); m["type"] != "pong" {
			t.Errorf("%s received %v", name, m)
		}
	}
	// Someone outside the conversation may not type into it.
	outsider.send(`{"type":"typing","conversation_id":"` + conv + `"}`)
	if m := outsider.next(); m["type"] != "error" || m["code"] != desk.EForbidden {
		t.Errorf("outsider typing: got %v, want a forbidden error", m)
	}
	stranger := d.connect(desk.RoleEmployee, "e2")
	stranger.send(`{"type":"typing","conversation_id":"` + conv + `"}`)
	if m := stranger.next(); m["type"] != "error" || m["code"] != desk.ENotFound {
		t.Errorf("another employee typing: got %v, want not_found", m)
	}
}

func TestBadFramesGetAnErrorAndTheConnectionStays(t *testing.T) {
	d := newTestDesk(t, nil)
	agent := d.connect(desk.RoleAgent, "a1")
	employee := d.connect(desk.RoleEmployee, "e1")
	cases := []struct {
		name string
		c    *client
		in   string
		code string
	}{
		{"invalid JSON", agent, `{"type":`, wire.CodeInvalidJSON},
		{"not JSON at all", agent, `hello`, wire.CodeInvalidJSON},
		{"JSON array", agent, `[{"type":"ping"}]`, wire.CodeInvalidJSON},
		{"JSON string", agent, `"ping"`, wire.CodeInvalidJSON},
		{"no type", agent, `{}`, wire.CodeInvalidFrame},
		{"type not a string", agent, `{"type":1}`, wire.CodeInvalidFrame},
		{"unknown type", agent, `{"type":"dance"}`, wire.CodeUnknownType},
		{"typing without conversation", agent, `{"type":"typing"}`, wire.CodeInvalidFrame},
		{"typing with empty conversation", agent, `{"type":"typing","conversation_id":""}`, wire.CodeInvalidFrame},
		{"typing with object conversation", agent, `{"type":"typing","conversation_id":{}}`, wire.CodeInvalidFrame},
		{"typing with numeric conversation", agent, `{"type":"typing","conversation_id":42}`, wire.CodeInvalidFrame},
		{"typing into an unknown conversation", agent, `{"type":"typing","conversation_id":"cv_0000000000000000"}`, desk.ENotFound},
		{"message without body", agent, `{"type":"message","conversation_id":"cv_0000000000000000"}`, desk.EInvalid},
		{"message to an unknown conversation", employee, `{"type":"message","conversation_id":"cv_0000000000000000","body":"hi"}`, desk.ENotFound},
		{"resume without after_seq", employee, `{"type":"resume","conversation_id":"cv_0000000000000000"}`, wire.CodeInvalidFrame},
		{"resume of an unknown conversation", employee, `{"type":"resume","conversation_id":"cv_0000000000000000","after_seq":0}`, desk.ENotFound},
		{"read without seq", employee, `{"type":"read","conversation_id":"cv_0000000000000000"}`, wire.CodeInvalidFrame},
		{"sender_name not a string", agent, `{"type":"typing","conversation_id":"cv_0000000000000000","sender_name":5}`, wire.CodeInvalidFrame},
		{"sender_name too long", agent, `{"type":"typing","conversation_id":"cv_0000000000000000","sender_name":"` + strings.Repeat("名", 101) + `"}`, wire.CodeInvalidFrame},
		{"employee unknown type", employee, `{"type":"claim"}`, wire.CodeUnknownType},
		// Input that would upset the database is refused at the edge.
		{"a NUL conversation id", employee, `{"type":"message","conversation_id":"\u0000","body":"hi"}`, desk.ENotFound},
		{"a conversation id that is not one", employee, `{"type":"resume","conversation_id":"cv_../../x","after_seq":0}`, desk.ENotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.send(tc.in)
			m := tc.c.next()
			if m["type"] != "error" || m["code"] != tc.code || m["message"] == "" {
				t.Fatalf("got %v, want an error frame with code %s and a message", m, tc.code)
			}
			tc.c.send(`{"type":"ping"}`)
			if m := tc.c.next(); m["type"] != "pong" {
				t.Fatalf("connection did not survive: got %v", m)
			}
		})
	}
}

func TestBinaryFrameClosesWith1003(t *testing.T) {
	d := newTestDesk(t, nil)
	c := d.connect(desk.RoleAgent, "a1")
	c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if code, _ := c.closed(); code != websocket.CloseUnsupportedData {
		t.Errorf("closed with %d, want 1003", code)
	}
	waitFor(t, "unregistered", func() bool { return d.hub.Count() == 0 })
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	d := newTestDesk(t, nil)
	c := d.connect(desk.RoleAgent, "a1")
	other := d.connect(desk.RoleAgent, "a2")
	big := `{"type":"typing","conversation_id":"` + strings.Repeat("x", 4<<20) + `"}`
	go c.ws.WriteMessage(websocket.TextMessage, []byte(big)) // may fail once we close
	if code, _ := c.closed(); code != websocket.CloseMessageTooBig {
		t.Errorf("closed with %d, want 1009", code)
	}
	waitFor(t, "unregistered", func() bool { return d.hub.Count() == 1 })
	other.send(`{"type":"ping"}`)
	if m := other.next(); m["type"] != "pong" {
		t.Errorf("other connection affected: %v", m)
	}
}

func TestFloodClosesWith1008(t *testing.T) {
	d := newTestDesk(t, nil, func(o *Options, _ *hub.Options) { o.MsgRate, o.MsgBurst = 1, 5 })
	c := d.connect(desk.RoleAgent, "a1")
	for range 20 {
		if c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)) != nil {
			break
		}
	}
	if code, _ := c.closed(); code != websocket.ClosePolicyViolation {
		t.Errorf("closed with %d, want 1008", code)
	}
}

func TestPanicInAHandlerIsContained(t *testing.T) {
	d := newTestDesk(t, nil)
	d.gw.handlers[desk.RoleAgent]["boom"] = func(context.Context, *session, *inbound) error { panic("boom") }
	c := d.connect(desk.RoleAgent, "a1")
	other := d.connect(desk.RoleAgent, "a2")
	c.send(`{"type":"boom"}`)
	if m := c.next(); m["type"] != "error" || m["code"] != wire.CodeInternal || m["message"] != "internal error" {
		t.Fatalf("got %v, want an internal_error frame", m)
	}
	for _, cl := range []*client{c, other} {
		cl.send(`{"type":"ping"}`)
		if m := cl.next(); m["type"] != "pong" {
			t.Fatalf("server stopped serving after a panic: %v", m)
		}
	}
	if !strings.Contains(d.logs.String(), "frame handler panicked") {
		t.Error("panic not logged")
	}
}

// TestHandlerStopsWhenItsConnectionCloses: a frame handler works under
// its connection's context, made when the first frame came, and stops
// when the server closes the connection.
func TestHandlerStopsWhenItsConnectionCloses(t *testing.T) {
	d := newTestDesk(t, nil)
	started, stopped := make(chan struct{}), make(chan error, 1)
	d.gw.handlers[desk.RoleAgent]["wait"] = func(ctx context.Context, _ *session, _ *inbound) error {
		close(started)
		<-ctx.Done()
		stopped <- ctx.Err()
		return nil
	}
	c := d.connect(desk.RoleAgent, "a1")
	c.send(`{"type":"wait"}`)
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler never ran")
	}
	d.hub.CloseAll(wire.CloseServiceRestart, "restarting")
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler's context ended with %v, want %v", err, context.Canceled)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context outlived its connection")
	}
	if code, _ := c.closed(); code != wire.CloseServiceRestart {
		t.Errorf("close code %d, want %d", code, wire.CloseServiceRestart)
	}
}
