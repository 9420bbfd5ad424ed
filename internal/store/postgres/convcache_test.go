package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
)

// TestConversationCache: a node's writer reads a conversation's
// participants, clocks and seqs from its cache only while the locked row
// is the version its last write left. A write through another node (a
// message, or a read position alone) or another writer is seen at once;
// a rename through the node at once, and through another within the
// cache's age limit.
func TestConversationCache(t *testing.T) {
	skipWithoutPostgres(t)
	ctx := t.Context()
	url := pgtest.URL(t)
	a, trips, err := postgres.OpenCounting(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	var mu sync.Mutex
	now := time.Now()
	a.SetCacheClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close(context.Background()) })

	emp := desk.Principal{Role: desk.RoleEmployee, ID: "e-cache"}
	agent := desk.Principal{Role: desk.RoleAgent, ID: "a-cache"}
	if err := a.CreateAgent(ctx, desk.Agent{ID: agent.ID, Username: "cache", Name: "One", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	id := "cv_cache"
	err = a.Update(ctx, func(tx desk.ConversationTx) error {
		c := desk.Conversation{ID: id, EmployeeID: emp.ID, Subject: "s", Category: "other", Status: desk.StatusOpen,
			AssigneeID: agent.ID, Seq: 1, CreatedAt: at, UpdatedAt: at, Priority: "normal", Type: "incident"}
		if err := tx.CreateConversation(ctx, c); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, desk.ConvEvent{ConversationID: id, Seq: 1, Type: desk.EventMessage,
			Data: []byte(`{"body":"hi"}`), Actor: emp, ClientMsgID: "k1", CreatedAt: at}); err != nil {
			return err
		}
		for _, p := range []desk.Principal{emp, agent} {
			if err := tx.SaveParticipant(ctx, id, desk.Participant{Role: p.Role, ID: p.ID, Active: true, LastReadSeq: 1, JoinedAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// load locks the conversation as the writer does (LockAhead, then the
	// load), counting the round trips, and returns what it read. With
	// send set, it then stores a message from the employee.
	type seen struct {
		c         desk.Conversation
		empRead   int64
		agentName string
		trips     int64
		retry     bool // the client id was found taken
	}
	load := func(db *postgres.DB, send string) seen {
		t.Helper()
		var s seen
		err := db.Update(ctx, func(tx desk.ConversationTx) error {
			before := trips.Load()
			if err := tx.(interface {
				LockAhead(context.Context, []desk.LockHint) error
			}).LockAhead(ctx, []desk.LockHint{{ConversationID: id, Actor: emp, ClientMsgID: send}}); err != nil {
				return err
			}
			c, err := tx.ConversationForUpdate(ctx, id)
			if err != nil {
				return err
			}
			parts, err := tx.Participants(ctx, id)
			if err != nil {
				return err
			}
			s.c, s.trips = c, trips.Load()-before
			for _, p := range parts {
				if p.Role == emp.Role {
					s.empRead = p.LastReadSeq
				} else {
					s.agentName = p.Name
				}
			}
			if send == "" {
				return nil
			}
			if _, err := tx.EventByClientMsgID(ctx, id, emp, send); err == nil {
				s.retry = true
				return nil
			}
			c.Seq++
			ev := desk.ConvEvent{ConversationID: id, Seq: c.Seq, Type: desk.EventMessage, Data: []byte(`{"body":"hi"}`),
				Actor: emp, ClientMsgID: send, CreatedAt: at}
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return err
			}
			if err := tx.SaveParticipant(ctx, id, desk.Participant{Role: emp.Role, ID: emp.ID, Active: true, LastReadSeq: c.Seq, JoinedAt: at}); err != nil {
				return err
			}
			return tx.SaveConversation(ctx, c)
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := func(step string, s seen, seq, empRead int64, name string, trips int64) {
		t.Helper()
		if s.c.Seq != seq || s.empRead != empRead || s.agentName != name || s.trips != trips {
			t.Errorf("%s: seq %d, employee read up to %d, agent named %q, %d round trips; want %d, %d, %q, %d",
				step, s.c.Seq, s.empRead, s.agentName, s.trips, seq, empRead, name, trips)
		}
	}

	check("first load", load(a, "k2"), 1, 1, "One", 1)
	check("cached", load(a, "k3"), 2, 2, "One", 1)
	if s := load(a, "k2"); !s.retry {
		t.Errorf("a retry's client id was not found with the conversation cached")
	}

	// Only the row's version tells: a change that does not move the row
	// (which the store never makes) goes unseen, one that does is read.
	if _, err := raw.Exec(ctx, `UPDATE participants SET last_read_seq = 99 WHERE role = 'employee'`); err != nil {
		t.Fatal(err)
	}
	check("participants changed behind the row", load(a, ""), 3, 3, "One", 1)
	if _, err := raw.Exec(ctx, `UPDATE conversations SET id = id`); err != nil {
		t.Fatal(err)
	}
	check("row moved by another writer", load(a, ""), 3, 99, "One", 2)

	// Another node moves a read position alone: the store writes the row
	// with it, and node a reads the conversation again.
	err = b.Update(ctx, func(tx desk.ConversationTx) error {
		if _, err := tx.ConversationForUpdate(ctx, id); err != nil {
			return err
		}
		return tx.SaveParticipant(ctx, id, desk.Participant{Role: emp.Role, ID: emp.ID, Active: true, LastReadSeq: 2, JoinedAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
	check("read position written through node b", load(a, ""), 3, 2, "One", 2)

	// A message through node b, then one through node a: seqs follow on.
	load(b, "k4")
	check("message through node b", load(a, "k5"), 4, 4, "One", 2)
	check("message through node a", load(a, ""), 5, 5, "One", 1)

	// A row written under a savepoint carries the savepoint's id, which
	// the cache would not recognise: it is not cached, and the next load
	// reads in one round trip rather than finding it stale in two.
	err = a.Update(ctx, func(tx desk.ConversationTx) error {
		return tx.Savepoint(ctx, func() error {
			c, err := tx.ConversationForUpdate(ctx, id)
			if err != nil {
				return err
			}
			c.Priority = "high"
			if err := tx.SaveConversation(ctx, c); err != nil {
				return err
			}
			_, err = tx.Events(ctx, id, 0, 1, true) // sends the write, under a savepoint
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	check("written under a savepoint", load(a, ""), 5, 5, "One", 1)

	// Renames: through node a at once, through node b once the cache's
	// names are older than its limit.
	if err := a.SetAgentName(ctx, agent.ID, "Two"); err != nil {
		t.Fatal(err)
	}
	check("renamed through node a", load(a, ""), 5, 5, "Two", 1)
	if err := b.SetAgentName(ctx, agent.ID, "Three"); err != nil {
		t.Fatal(err)
	}
	check("renamed through node b, soon after", load(a, ""), 5, 5, "Two", 1)
	mu.Lock()
	now = now.Add(6 * time.Second)
	mu.Unlock()
	check("renamed through node b, later", load(a, ""), 5, 5, "Three", 1)

	var events int
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM events WHERE conversation_id = $1`, id).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 5 {
		t.Errorf("%d events stored, want 5", events)
	}
}
