package conversation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type store interface {
	desk.ConversationStore
	desk.AgentStore
}

// harness is a running Service on a real store, with every published event
// recorded.
type harness struct {
	t    *testing.T
	svc  *conversation.Service
	db   store
	mu   sync.Mutex
	sent []desk.Event
	n    int
}

// stores runs fn against SQLite and, when configured, PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, newHarness(t, db))
	})
	t.Run("postgres", func(t *testing.T) {
		// Several writers, as the app runs PostgreSQL: every rule must hold
		// with commands on different conversations committing in parallel.
		fn(t, newHarness(t, pgtest.Open(t), 4))
	})
}

func newHarness(t *testing.T, db store, writers ...int) *harness {
	h := &harness{t: t, db: db}
	b := bus.NewMemory(func(ev desk.Event) { h.mu.Lock(); h.sent = append(h.sent, ev); h.mu.Unlock() })
	cfg := conversation.Config{Store: db, Agents: db, Bus: b}
	if len(writers) > 0 {
		cfg.Writers = writers[0]
	}
	h.svc = conversation.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := db.CreateAgent(ctx, desk.Agent{ID: id, Username: id, Name: "Agent " + id, PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

var (
	emp = desk.Principal{Role: desk.RoleEmployee, ID: "e1"}
	a1  = desk.Principal{Role: desk.RoleAgent, ID: "a1"}
	a2  = desk.Principal{Role: desk.RoleAgent, ID: "a2"}
	a3  = desk.Principal{Role: desk.RoleAgent, ID: "a3"}
)

func (h *harness) create() desk.Conversation {
	h.t.Helper()
	h.n++
	c, created, err := h.svc.Create(context.Background(), emp, conversation.NewConversation{
		Subject: "邮箱登不上", Category: "account", Body: "密码过期了", ClientMsgID: fmt.Sprint("first-", h.n)})
	if err != nil || !created {
		h.t.Fatalf("create: %v %v", created, err)
	}
	return c
}

// claimed is a new conversation, claimed by agent.
func (h *harness) claimed(agent desk.Principal) desk.Conversation {
	h.t.Helper()
	c := h.create()
	if _, err := h.svc.Claim(context.Background(), agent, c.ID); err != nil {
		h.t.Fatal(err)
	}
	return c
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := desk.ErrorCode(err); got != code {
		t.Fatalf("error %v (code %q), want code %q", err, got, code)
	}
}

func TestClaimRaceHasOneWinner(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		for range 5 {
			c := h.create()
			var wg sync.WaitGroup
			errs := make([]error, 3)
			for i, a := range []desk.Principal{a1, a2, a3} {
				wg.Add(1)
				go func() { defer wg.Done(); _, errs[i] = h.svc.Claim(context.Background(), a, c.ID) }()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				if err == nil {
					wins++
				} else {
					wantCode(t, err, desk.EConflict)
				}
			}
			if wins != 1 {
				t.Fatalf("%d winners", wins)
			}
		}
	})
}

func TestLifecycle(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.create()
		again, created, err := h.svc.Create(ctx, emp, conversation.NewConversation{Subject: "x", Body: "y", ClientMsgID: "first-1"})
		if err != nil || created || again.ID != c.ID {
			t.Fatalf("retried create: %v %v %v", again.ID, created, err)
		}
		if _, err := h.svc.Claim(ctx, emp, c.ID); desk.ErrorCode(err) != desk.EForbidden {
			t.Fatalf("employee claim: %v", err)
		}
		_, _, err = h.svc.Send(ctx, a1, c.ID, "hi", "")
		wantCode(t, err, desk.EForbidden) // claim first
		if _, err := h.svc.Claim(ctx, a1, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Invite(ctx, a2, c.ID, "a3")
		wantCode(t, err, desk.EForbidden) // only the assignee invites
		if _, err := h.svc.Invite(ctx, a1, c.ID, "a2"); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Invite(ctx, a1, c.ID, "a2")
		wantCode(t, err, desk.EConflict)
		_, err = h.svc.Invite(ctx, a1, c.ID, "nobody")
		wantCode(t, err, desk.ENotFound)
		if _, err := h.svc.Note(ctx, a2, c.ID, "checked AD: account locked"); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Note(ctx, emp, c.ID, "let me see")
		wantCode(t, err, desk.EForbidden)
		conv, err := h.svc.Transfer(ctx, a1, c.ID, "a3")
		if err != nil || conv.AssigneeID != "a3" {
			t.Fatalf("transfer: %v %v", conv.AssigneeID, err)
		}
		_, _, err = h.svc.Send(ctx, a1, c.ID, "still here?", "")
		wantCode(t, err, desk.EForbidden) // a1 left on transfer
		if _, err := h.svc.Resolve(ctx, a3, c.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = h.svc.Send(ctx, a2, c.ID, "one more thing", "")
		wantCode(t, err, desk.EConflict) // agents cannot write into a resolved conversation
		// The employee writes again: back to the assignee, who is still in.
		if _, _, err := h.svc.Send(ctx, emp, c.ID, "又不行了", "m2"); err != nil {
			t.Fatal(err)
		}
		v, err := h.svc.Get(ctx, emp, c.ID)
		if err != nil || v.Status != desk.StatusOpen || v.AssigneeID != "a3" {
			t.Fatalf("after reopen: %+v %v", v.Conversation, err)
		}
		// Everyone leaves: it goes back to the queue.
		for _, a := range []desk.Principal{a2, a3} {
			if _, err := h.svc.Leave(ctx, a, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		v, err = h.svc.Get(ctx, emp, c.ID)
		if err != nil || v.Status != desk.StatusQueued || v.AssigneeID != "" || v.QueuePosition != 1 {
			t.Fatalf("after everyone left: %+v pos %d %v", v.Conversation, v.QueuePosition, err)
		}
		// The employee's history never shows the note; the agents' does.
		empEvents, _ := h.svc.Events(ctx, emp, c.ID, 0, 0)
		agentEvents, _ := h.svc.Events(ctx, a2, c.ID, 0, 0)
		if len(agentEvents) != len(empEvents)+1 {
			t.Errorf("agent sees %d events, employee %d; want exactly the note between them", len(agentEvents), len(empEvents))
		}
		for i, ev := range agentEvents {
			if ev.Seq != int64(i+1) {
				t.Fatalf("agent history has a gap at %d", i)
			}
		}
		// The employee's reply says first that they read the transfer and
		// the resolution (a receipt, so the agents see it).
		want := []desk.EventType{desk.EventCreated, desk.EventMessage, desk.EventClaimed, desk.EventJoined, desk.EventNote,
			desk.EventTransferred, desk.EventResolved, desk.EventRead, desk.EventReopened, desk.EventMessage, desk.EventLeft, desk.EventLeft}
		for i, ev := range agentEvents {
			if i >= len(want) || ev.Type != want[i] {
				t.Fatalf("event %d is %s, want %v", i, ev.Type, want)
			}
		}
	})
}

func TestAccessRules(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.create()
		other := desk.Principal{Role: desk.RoleEmployee, ID: "e2"}
		_, err := h.svc.Get(ctx, other, c.ID)
		wantCode(t, err, desk.ENotFound)
		_, err = h.svc.Events(ctx, other, c.ID, 0, 10)
		wantCode(t, err, desk.ENotFound)
		_, _, err = h.svc.Send(ctx, other, c.ID, "hi", "")
		wantCode(t, err, desk.ENotFound)
		if _, err := h.svc.Get(ctx, a2, c.ID); err != nil {
			t.Fatalf("agents read queued conversations: %v", err)
		}
		if _, err := h.svc.Claim(ctx, a1, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Get(ctx, a2, c.ID)
		wantCode(t, err, desk.EForbidden) // no longer queued, a2 never took part
		_, _, err = h.svc.TypingAudience(ctx, a2, c.ID)
		wantCode(t, err, desk.EForbidden)
		aud, name, err := h.svc.TypingAudience(ctx, a1, c.ID)
		if err != nil || len(aud) != 1 || aud[0] != emp || name != "Agent a1" {
			t.Fatalf("typing audience %v %q %v, want the employee, and a1 by the name the desk knows", aud, name, err)
		}
		_, _, err = h.svc.Send(ctx, emp, c.ID, "", "")
		wantCode(t, err, desk.EInvalid)
		_, _, err = h.svc.Send(ctx, emp, c.ID, string(make([]byte, conversation.DefaultMaxBodyBytes+1)), "")
		wantCode(t, err, desk.EInvalid)
		_, _, err = h.svc.Send(ctx, emp, c.ID, "ok", "bad id with spaces")
		wantCode(t, err, desk.EInvalid)
		_, _, err = h.svc.Create(ctx, emp, conversation.NewConversation{Subject: "x", Category: "cooking", Body: "y"})
		wantCode(t, err, desk.EInvalid)
	})
}

// TestEventsArePublishedInOrderToTheRightPeople follows who receives what.
func TestEventsArePublishedInOrderToTheRightPeople(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.create()
		h.svc.Claim(ctx, a1, c.ID)
		h.svc.Note(ctx, a1, c.ID, "secret")
		h.svc.Send(ctx, emp, c.ID, "hello", "")
		h.mu.Lock()
		defer h.mu.Unlock()
		var last int64
		sawNoteToEmployee := false
		toAll := map[desk.EventType]bool{}
		for _, ev := range h.sent {
			if ev.ConversationID != c.ID {
				continue
			}
			if ev.Seq < last {
				t.Fatalf("seq %d published after %d", ev.Seq, last)
			}
			last = ev.Seq
			var f struct{ Type desk.EventType }
			json.Unmarshal(ev.Frame, &f)
			if f.Type == desk.EventNote && ev.To.Kind == desk.ToUser && ev.To.User == emp {
				sawNoteToEmployee = true
			}
			if ev.To.Kind == desk.ToAllAgents {
				toAll[f.Type] = true
			}
		}
		if sawNoteToEmployee {
			t.Error("a note was published to the employee")
		}
		if !toAll[desk.EventCreated] || !toAll[desk.EventClaimed] || toAll[desk.EventNote] {
			t.Errorf("events published to all agents: %v; want the queue changes only", toAll)
		}
	})
}

// An agent who handed a conversation over may still read it, so their
// open view is kept live: later events reach them too.
func TestHandedOverViewStaysLive(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.claimed(a1)
		if _, err := h.svc.Transfer(ctx, a1, c.ID, a2.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.svc.Send(ctx, emp, c.ID, "still there?", ""); err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		reached := false
		for _, ev := range h.sent {
			var f struct{ Type desk.EventType }
			json.Unmarshal(ev.Frame, &f)
			if ev.ConversationID == c.ID && f.Type == desk.EventMessage && ev.To.Kind == desk.ToUsers && slices.Contains(ev.To.Users, a1) {
				reached = true
			}
		}
		if !reached {
			t.Error("the employee's message after the transfer did not reach the agent who handed it over")
		}
	})
}

// An employee's message retried after the agent resolved the conversation
// gets the original back: it neither reopens the conversation nor is
// stored twice (the first attempt, which leaves retries to the unique
// index, reopens it before the index refuses the message, and must be
// undone).
func TestRetryAfterResolved(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.claimed(a1)
		first, created, err := h.svc.Send(ctx, emp, c.ID, "好了，谢谢", "e1-last")
		if err != nil || !created {
			t.Fatalf("send: %v %v", created, err)
		}
		if _, err := h.svc.Resolve(ctx, a1, c.ID); err != nil {
			t.Fatal(err)
		}
		before, err := h.db.Conversation(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		again, created, err := h.svc.Send(ctx, emp, c.ID, "好了，谢谢", "e1-last")
		if err != nil || created || again.Seq != first.Seq {
			t.Fatalf("retry: seq %d created %v %v; want seq %d, not created", again.Seq, created, err, first.Seq)
		}
		after, err := h.db.Conversation(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.Status != desk.StatusResolved || after.Seq != before.Seq {
			t.Fatalf("after the retry: status %s seq %d, want resolved at seq %d as before", after.Status, after.Seq, before.Seq)
		}
	})
}

// A message retried with its client id gets the stored original back, even
// once its sender has left the conversation, and is not stored twice.
func TestRetryAfterLeaving(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.claimed(a1)
		first, created, err := h.svc.Send(ctx, a1, c.ID, "重置好了", "r1")
		if err != nil || !created {
			t.Fatalf("send: %v %v", created, err)
		}
		again, created, err := h.svc.Send(ctx, a1, c.ID, "重置好了", "r1")
		if err != nil || created || again.Seq != first.Seq {
			t.Fatalf("retry: seq %d created %v %v; want seq %d, not created", again.Seq, created, err, first.Seq)
		}
		if _, err := h.svc.Transfer(ctx, a1, c.ID, "a2"); err != nil {
			t.Fatal(err)
		}
		again, created, err = h.svc.Send(ctx, a1, c.ID, "重置好了", "r1")
		if err != nil || created || again.Seq != first.Seq || string(again.Data) != string(first.Data) {
			t.Fatalf("retry after leaving: seq %d created %v %v; want seq %d, not created", again.Seq, created, err, first.Seq)
		}
		_, _, err = h.svc.Send(ctx, a1, c.ID, "还有一件事", "r2")
		wantCode(t, err, desk.EForbidden) // a new message from one who left
		evs, err := h.db.Events(ctx, c.ID, 0, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if ev.ClientMsgID == "r1" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d events with client id r1, want 1", n)
		}
	})
}

// TestReplyReadsFirst: a reply says first that its sender read what came
// since they last did, unless that is receipts (or their own) alone. On
// PostgreSQL the writer answers this from what its node last wrote, not
// by reading the events; the outcome must be the same.
func TestReplyReadsFirst(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.claimed(a1)
		created, msg, claimed, read, note := string(desk.EventCreated), string(desk.EventMessage), string(desk.EventClaimed),
			string(desk.EventRead), string(desk.EventNote)
		send := func(who desk.Principal, body string) {
			t.Helper()
			if _, _, err := h.svc.Send(ctx, who, c.ID, body, ""); err != nil {
				t.Fatal(err)
			}
		}
		send(a1, "您好")  // the agent read the request when claiming: no receipt
		send(emp, "谢谢") // after the agent's message: read first
		send(emp, "还有") // nothing new: no receipt
		if _, err := h.svc.Note(ctx, a1, c.ID, "private"); err != nil {
			t.Fatal(err)
		}
		send(emp, "在吗")                                              // a note the employee cannot see is not new to them
		send(a1, "在")                                                // after the employee's messages: read first
		if _, err := h.svc.Read(ctx, emp, c.ID, 1<<40); err != nil { // up to the end
			t.Fatal(err)
		}
		send(a1, "好了") // since: the employee's receipt alone
		evs, err := h.svc.Events(ctx, a1, c.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Actor.ID+" "+string(ev.Type))
		}
		want := []string{"e1 " + created, "e1 " + msg, "a1 " + claimed, "a1 " + msg, "e1 " + read, "e1 " + msg, "e1 " + msg,
			"a1 " + note, "e1 " + msg, "a1 " + read, "a1 " + msg, "e1 " + read, "a1 " + msg}
		if !slices.Equal(got, want) {
			t.Errorf("history\n got %v\nwant %v", got, want)
		}
	})
}
