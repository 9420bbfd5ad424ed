package gateway

import (
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/presence"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// presenceOf reads presence frames until it knows n agents' statuses (a
// burst of changes may come in one frame) and returns each one's last.
func (c *client) presenceOf(n int) map[string]string {
	c.t.Helper()
	got := make(map[string]string)
	for len(got) < n {
		m := c.next()
		data, _ := m["data"].(map[string]any)
		if m["type"] != "presence" || data == nil {
			c.t.Fatalf("got %v, want a presence frame", m)
		}
		for _, a := range data["agents"].([]any) {
			a := a.(map[string]any)
			got[a["agent_id"].(string)] = a["status"].(string)
		}
	}
	return got
}

// wantFrame fails unless the next frame is exactly want.
func (c *client) wantFrame(want []byte) {
	c.t.Helper()
	if got := c.nextRaw(); string(got) != string(want) {
		c.t.Fatalf("got %s, want %s", got, want)
	}
}

func TestPresenceFrame(t *testing.T) {
	d := newTestDesk(t, nil)
	a1 := d.connect(desk.RoleAgent, "a1")
	a2 := d.connect(desk.RoleAgent, "a2")
	bystander := d.connect(desk.RoleAgent, "a3") // does not follow presence
	for _, c := range []*client{a1, a2} {
		c.send(`{"type":"presence.follow"}`)
		c.send(`{"type":"ping"}`) // frames run in order: the pong means following
		c.wantFrame(pongFrame)
	}
	// What the hub reports for each agent's first connection.
	d.presence.Connected("a1")
	d.presence.Connected("a2")
	for _, c := range []*client{a1, a2} {
		if got := c.presenceOf(2); got["a1"] != "online" || got["a2"] != "online" {
			t.Fatalf("on connect, got %v", got)
		}
	}

	t.Run("only followers hear of it", func(t *testing.T) {
		bystander.send(`{"type":"ping"}`)
		bystander.wantFrame(pongFrame)
	})

	t.Run("away is announced to every follower", func(t *testing.T) {
		a1.send(`{"type":"presence","status":"away"}`)
		for _, c := range []*client{a1, a2} {
			c.wantFrame(presence.Frame("a1", presence.Away))
		}
	})

	t.Run("no change answers the sender alone", func(t *testing.T) {
		a1.send(`{"type":"presence","status":"away"}`)
		a1.wantFrame(presence.Frame("a1", presence.Away))
		// Had a2 been told too, that frame would be queued before this pong.
		a2.send(`{"type":"ping"}`)
		a2.wantFrame(pongFrame)
	})

	t.Run("back online is announced to every agent", func(t *testing.T) {
		a1.send(`{"type":"presence","status":"online"}`)
		for _, c := range []*client{a1, a2} {
			c.wantFrame(presence.Frame("a1", presence.Online))
		}
	})

	t.Run("bad status is an invalid frame", func(t *testing.T) {
		for _, frame := range []string{
			`{"type":"presence"}`,
			`{"type":"presence","status":"offline"}`,
			`{"type":"presence","status":"dnd"}`,
			`{"type":"presence","status":"AWAY"}`,
			`{"type":"presence","status":1}`,
		} {
			a1.send(frame)
			if m := a1.next(); m["type"] != "error" || m["code"] != wire.CodeInvalidFrame {
				t.Errorf("%s: got %v, want an invalid_frame error", frame, m)
			}
		}
		if st, _ := d.presence.Status(t.Context(), "a1"); st != presence.Online {
			t.Errorf("after refused frames a1 is %s", st)
		}
	})
}

func TestPresenceFrameIsForAgentsOnly(t *testing.T) {
	d := newTestDesk(t, nil)
	e := d.connect(desk.RoleEmployee, "zhangsan")
	e.send(`{"type":"presence","status":"away"}`)
	if m := e.next(); m["type"] != "error" || m["code"] != wire.CodeUnknownType {
		t.Fatalf("employee got %v, want an unknown_type error", m)
	}
	if got, _ := d.presence.Statuses(t.Context()); len(got) != 0 {
		t.Errorf("statuses after an employee's presence frame: %v", got)
	}
}
