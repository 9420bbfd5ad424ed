package conversation_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
)

// TestTwoNodesTakeTurns: two nodes on one PostgreSQL database, each with
// its own writers and the conversations they cache, take turns on one
// conversation (the employee through one, the agent through the other,
// then the other way round): every message is stored once with seqs in
// order, and each side's read position is where its last message and
// read put it, never moved back by the other node's cached view.
func TestTwoNodesTakeTurns(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	node := func() (*conversation.Service, *postgres.DB) {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		svc := conversation.New(conversation.Config{Store: db, Agents: db, Bus: &faultBus{}, Writers: 4})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })
		return svc, db
	}
	a, db := node()
	b, _ := node()
	if err := db.CreateAgent(ctx, desk.Agent{ID: a1.ID, Username: "a1", Name: "Agent a1", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	c, _, err := a.Create(ctx, emp, conversation.NewConversation{Subject: "VPN", Body: "连不上", ClientMsgID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Claim(ctx, a1, c.ID); err != nil {
		t.Fatal(err)
	}
	var last, lastReply int64
	for i := range 20 {
		empNode, agentNode := a, b
		if i%2 == 1 {
			empNode, agentNode = b, a
		}
		ev, _, err := empNode.Send(ctx, emp, c.ID, fmt.Sprint("问", i), fmt.Sprint("e", i))
		if err != nil {
			t.Fatalf("employee's message %d: %v", i, err)
		}
		// A retry through the other node finds the original.
		if again, isNew, err := agentNode.Send(ctx, emp, c.ID, fmt.Sprint("问", i), fmt.Sprint("e", i)); err != nil || isNew || again.Seq != ev.Seq {
			t.Fatalf("retry of message %d through the other node: seq %d, new %v, %v; want seq %d", i, again.Seq, isNew, err, ev.Seq)
		}
		reply, _, err := agentNode.Send(ctx, a1, c.ID, fmt.Sprint("答", i), fmt.Sprint("a", i))
		if err != nil {
			t.Fatalf("agent's reply %d: %v", i, err)
		}
		if ev.Seq <= last || reply.Seq <= ev.Seq {
			t.Fatalf("round %d: seqs %d then %d after %d", i, ev.Seq, reply.Seq, last)
		}
		last, lastReply = reply.Seq, reply.Seq
		if n, err := empNode.Read(ctx, emp, c.ID, reply.Seq); err != nil || n != reply.Seq {
			t.Fatalf("employee reads up to %d: %d, %v", reply.Seq, n, err)
		}
		if i%2 == 1 {
			last, err = a.Read(ctx, a1, c.ID, last)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	evs, err := db.Events(ctx, c.ID, 0, 1000, true)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]int{}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		if e.Type == desk.EventMessage {
			bodies[e.ClientMsgID]++
		}
	}
	for i := range 20 {
		if bodies[fmt.Sprint("e", i)] != 1 || bodies[fmt.Sprint("a", i)] != 1 {
			t.Errorf("round %d stored %d and %d times", i, bodies[fmt.Sprint("e", i)], bodies[fmt.Sprint("a", i)])
		}
	}
	parts, err := db.Participants(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		// Both read up to the last reply: the agent wrote it, the
		// employee read it.
		if p.LastReadSeq != lastReply {
			t.Errorf("%s %s has read up to %d, want %d", p.Role, p.ID, p.LastReadSeq, lastReply)
		}
	}
}
