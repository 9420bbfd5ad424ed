package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// collector is a session's connection in the fuzz target: it keeps what the
// server would have sent.
type collector struct{ frames [][]byte }

func (c *collector) Send(frame []byte) bool { c.frames = append(c.frames, frame); return true }

// FuzzDispatch feeds arbitrary frames to parsing and dispatch, without the
// panic guard, for both roles. Whatever arrives, the server answers with
// at most one well-formed frame, publishes only the seed's typing shape, and
// never panics. Its seed corpus runs with every go test.
func FuzzDispatch(f *testing.F) {
	for _, seed := range []string{
		`{"type":"ping"}`,
		`{"type":"typing","conversation_id":"c1","sender_name":"张三"}`,
		`{"type":"typing","conversation_id":7}`,
		`{"type":"typing","conversation_id":{"a":1}}`,
		`{"type":"typing","conversation_id":"","sender_name":null}`,
		`{"type":"typing","conversation_id":"c","sender_name":5}`,
		`{"type":"dance"}`, `{}`, `[]`, `null`, `"ping"`, `{"type":`, ``, "\xff\xfe", `{"type":"\u0000"}`,
		`{"type":"ping","type":"typing"}`, `{"type":"typing","conversation_id":-0.5e10}`,
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, frame string, agent bool) {
		var published []desk.Event
		g := &Gateway{
			bus:      bus.NewMemory(func(ev desk.Event) { published = append(published, ev) }),
			log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			handlers: defaultHandlers(),
		}
		role := desk.RoleEmployee
		if agent {
			role = desk.RoleAgent
		}
		out := &collector{}
		s := &session{g: g, out: out, connID: "c1", user: desk.Principal{Role: role, ID: "u1"}}
		if reply := s.dispatch(context.Background(), []byte(frame)); reply != nil {
			out.Send(reply)
		}
		if len(out.frames) > 1 {
			t.Fatalf("%d replies to one frame", len(out.frames))
		}
		for _, raw := range out.frames {
			var m struct{ Type, Code, Message string }
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("reply is not JSON: %s", raw)
			}
			switch m.Type {
			case "pong":
			case "error":
				if m.Code == "" || m.Message == "" {
					t.Fatalf("error frame without code or message: %s", raw)
				}
				if m.Code == codeInternal {
					t.Fatalf("internal error for input %q", frame)
				}
			default:
				t.Fatalf("unexpected reply %s", raw)
			}
		}
		for _, ev := range published {
			var m struct {
				Type string
				Data struct {
					ConversationID json.RawMessage `json:"conversation_id"`
					SenderID       string          `json:"sender_id"`
					SenderType     string          `json:"sender_type"`
				}
			}
			if err := json.Unmarshal(ev.Frame, &m); err != nil || m.Type != "typing" || m.Data.SenderID != "u1" ||
				m.Data.SenderType != "agent" || !validConversationID(m.Data.ConversationID) {
				t.Fatalf("published a malformed event %s for input %q", ev.Frame, frame)
			}
			if !agent || ev.To.Kind != desk.ToAllAgents {
				t.Fatalf("published %s to %v for role %s", ev.Frame, ev.To, role)
			}
		}
	})
}
