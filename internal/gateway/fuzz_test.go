package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// collector is a session's connection in the fuzz target: it keeps what the
// server would have sent.
type collector struct{ frames [][]byte }

func (c *collector) Send(frame []byte) bool { c.frames = append(c.frames, frame); return true }

func (c *collector) BeginResume(string, int64) uint64 { return 1 }

func (c *collector) FailResume(_ string, _ uint64, frame []byte, _ bool) { c.Send(frame) }

func (c *collector) FollowPresence() {}

func (c *collector) ID() string { return "c1" }

func (c *collector) EndResume(_ string, _ uint64, replay []hub.Replayed, done []byte) bool {
	for _, r := range replay {
		c.Send(r.Frame)
	}
	return c.Send(done)
}

// FuzzDispatch feeds arbitrary frames to parsing and dispatch, without the
// panic guard, for both roles, against a real desk. Whatever arrives, the
// server answers only with well-formed frames, publishes only the seed's
// typing shape and conversation events, never an internal error, and
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
	// One real desk for all inputs, with a conversation both fuzzed users
	// are in, so typing, messages, reads and resumes reach the store.
	var mu sync.Mutex // the queue updater publishes from its own goroutine
	var published []desk.Event
	b := bus.NewMemory(func(ev desk.Event) { mu.Lock(); published = append(published, ev); mu.Unlock() })
	db, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	svc := conversation.New(conversation.Config{Store: db, Agents: db, Bus: b})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); svc.Run(ctx) }()
	f.Cleanup(func() { cancel(); <-stopped; db.Close() })
	if err := db.CreateAgent(ctx, desk.Agent{ID: "u1", Username: "u1", Name: "U1", PasswordHash: "x"}); err != nil {
		f.Fatal(err)
	}
	c, _, err := svc.Create(ctx, desk.Principal{Role: desk.RoleEmployee, ID: "u1"}, conversation.NewConversation{Subject: "s", Body: "b"})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := svc.Claim(ctx, desk.Principal{Role: desk.RoleAgent, ID: "u1"}, c.ID); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{"type":"typing","conversation_id":"` + c.ID + `"}`,
		`{"type":"message","conversation_id":"` + c.ID + `","body":"hi","client_msg_id":"m1"}`,
		`{"type":"resume","conversation_id":"` + c.ID + `","after_seq":1}`,
		`{"type":"read","conversation_id":"` + c.ID + `","seq":3}`,
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, frame string, agent bool) {
		mu.Lock()
		published = published[:0]
		mu.Unlock()
		g := &Gateway{
			opts:          Options{Observer: noObserver{}},
			bus:           b,
			conversations: svc,
			log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
			handlers:      defaultHandlers(),
		}
		role := desk.RoleEmployee
		if agent {
			role = desk.RoleAgent
		}
		out := &collector{}
		s := &session{g: g, out: out, user: desk.Principal{Role: role, ID: "u1"}}
		if reply := s.dispatch(context.Background(), []byte(frame)); reply != nil {
			out.Send(reply)
		}
		for _, raw := range out.frames {
			var m struct{ Type, Code, Message string }
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("reply is not JSON: %s", raw)
			}
			switch m.Type {
			case "pong", "ack", "resumed":
			case string(desk.EventCreated), string(desk.EventMessage), string(desk.EventClaimed), string(desk.EventRead):
			case "error":
				if m.Code == "" || m.Message == "" {
					t.Fatalf("error frame without code or message: %s", raw)
				}
				if m.Code == wire.CodeInternal {
					t.Fatalf("internal error for input %q", frame)
				}
			default:
				t.Fatalf("unexpected reply %s", raw)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range published {
			var m struct {
				Type           string
				ConversationID string `json:"conversation_id"`
				Data           struct {
					ConversationID string `json:"conversation_id"`
					SenderID       string `json:"sender_id"`
					SenderType     string `json:"sender_type"`
				}
			}
			if err := json.Unmarshal(ev.Frame, &m); err != nil {
				t.Fatalf("published a malformed frame %s for input %q", ev.Frame, frame)
			}
			switch {
			case m.Type == "queue.position":
			case m.Type == "typing" && m.Data.ConversationID == c.ID && m.Data.SenderID == "u1" && m.Data.SenderType == string(role):
			case m.ConversationID == c.ID && ev.Seq > 0 && ev.ConversationID == c.ID:
			default:
				t.Fatalf("published %s to %v for input %q", ev.Frame, ev.To, frame)
			}
		}
	})
}
