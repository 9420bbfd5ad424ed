package postgres_test

import (
	"context"
	"slices"
	"sync/atomic"
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
// message, or a read position alone) or another writer is seen at once,
// and so is a rename, through the node or another.
//
// Both ways of using the cache are run: taking a batch the cache holds
// whole on trust, checked with its writes and run again under the lock
// when the check fails (the default), and reading the rows with the lock
// first, then the cache where the row is the version it holds.
func TestConversationCache(t *testing.T) {
	skipWithoutPostgres(t)
	t.Run("speculating", func(t *testing.T) { testConversationCache(t, true) })
	t.Run("locking first", func(t *testing.T) { testConversationCache(t, false) })
}

func testConversationCache(t *testing.T, speculate bool) {
	ctx := t.Context()
	a, trips, b, url := twoNodes(t)
	a.SetSpeculation(speculate)
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
		trips     int64 // in the run that was committed
		runs      int   // 2: the speculation failed and the batch ran again
		retry     bool  // the client id was found taken
	}
	load := func(db *postgres.DB, send string) seen {
		t.Helper()
		var s seen
		err := db.Update(ctx, func(tx desk.ConversationTx) error {
			s.runs++
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
	// cost is what a load should cost: round trips before its writes and
	// runs, speculating and locking first.
	type cost struct{ trips, runs int64 }
	read, cached, stale := cost{1, 1}, cost{1, 1}, cost{2, 1}
	if speculate {
		cached, stale = cost{0, 1}, cost{1, 2}
	}
	check := func(step string, s seen, seq, empRead int64, name string, want cost) {
		t.Helper()
		if s.c.Seq != seq || s.empRead != empRead || s.agentName != name || s.trips != want.trips || int64(s.runs) != want.runs {
			t.Errorf("%s: seq %d, employee read up to %d, agent named %q, %d round trips, %d runs; want %d, %d, %q, %d, %d",
				step, s.c.Seq, s.empRead, s.agentName, s.trips, s.runs, seq, empRead, name, want.trips, want.runs)
		}
	}

	check("first load", load(a, "k2"), 1, 1, "One", read)
	check("cached", load(a, "k3"), 2, 2, "One", cached)
	if s := load(a, "k2"); !s.retry {
		t.Errorf("a retry's client id was not found with the conversation cached")
	} else if speculate && s.runs != 2 {
		t.Errorf("a retry's client id taken for free: %d runs, want 2 (the unique index refuses, and the batch runs again)", s.runs)
	}

	// Only the row's version tells: a change that does not move the row
	// (which the store never makes) goes unseen, one that does is read.
	if _, err := raw.Exec(ctx, `UPDATE participants SET last_read_seq = 99 WHERE role = 'employee'`); err != nil {
		t.Fatal(err)
	}
	check("participants changed behind the row", load(a, ""), 3, 3, "One", cached)
	if _, err := raw.Exec(ctx, `UPDATE conversations SET id = id`); err != nil {
		t.Fatal(err)
	}
	check("row moved by another writer", load(a, ""), 3, 99, "One", stale)

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
	check("read position written through node b", load(a, ""), 3, 2, "One", stale)

	// A message through node b, then one through node a: seqs follow on.
	load(b, "k4")
	check("message through node b", load(a, "k5"), 4, 4, "One", stale)
	check("message through node a", load(a, ""), 5, 5, "One", cached)

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
	check("written under a savepoint", load(a, ""), 5, 5, "One", read)

	// Renames: through node a, which clears its cache, and through node b,
	// whose write moves the agent's row and not the conversation's.
	if err := a.SetAgentName(ctx, agent.ID, "Two"); err != nil {
		t.Fatal(err)
	}
	check("renamed through node a", load(a, ""), 5, 5, "Two", read)
	if err := b.SetAgentName(ctx, agent.ID, "Three"); err != nil {
		t.Fatal(err)
	}
	check("renamed through node b", load(a, ""), 5, 5, "Three", stale)
	check("renamed through node b, then", load(a, ""), 5, 5, "Three", cached)
	// The employee's profile, written through node b where it had none,
	// is seen too.
	err = b.Update(ctx, func(tx desk.ConversationTx) error {
		return tx.SaveEmployee(ctx, desk.Employee{ID: emp.ID, Name: "Emp", UpdatedAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
	check("employee written through node b", load(a, ""), 5, 5, "Three", stale)
	check("employee written through node b, then", load(a, ""), 5, 5, "Three", cached)

	var events int
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM events WHERE conversation_id = $1`, id).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 5 {
		t.Errorf("%d events stored, want 5", events)
	}
}

// twoNodes opens two stores on one fresh database (url), as two nodes of a
// desk: a counts its round trips.
func twoNodes(t *testing.T) (a *postgres.DB, trips *atomic.Int64, b *postgres.DB, url string) {
	t.Helper()
	url = pgtest.URL(t)
	a, trips, err := postgres.OpenCounting(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	b, err = postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return a, trips, b, url
}

// TestSpeculationRerunsTheBatch: when a batch taken from the cache guesses
// wrong inside a command's savepoint (a retry's client id taken for free,
// its insert refused by the unique index once the savepoint is set), the
// whole batch runs again under the lock, rather than the command failing
// alone as a conflict.
func TestSpeculationRerunsTheBatch(t *testing.T) {
	skipWithoutPostgres(t)
	ctx := t.Context()
	db, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	emp := desk.Principal{Role: desk.RoleEmployee, ID: "e-rerun"}
	at := time.Now().UTC().Truncate(time.Millisecond)
	id := "cv_rerun"
	err = db.Update(ctx, func(tx desk.ConversationTx) error {
		c := desk.Conversation{ID: id, EmployeeID: emp.ID, Subject: "s", Category: "other", Status: desk.StatusOpen,
			Seq: 0, CreatedAt: at, UpdatedAt: at, Priority: "normal", Type: "incident"}
		return tx.CreateConversation(ctx, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	// send runs one command as the writer does: the batch's lock ahead,
	// then the command in a savepoint, whose own failure is its answer.
	type outcome struct {
		retry bool
		err   error // the command's
		runs  int
	}
	// With awaited, the command also waits for a statement's answer after
	// its insert: the savepoint is set and the insert goes out inside it.
	// (A row written under a savepoint is not cached: the commands before
	// the retry do without.)
	send := func(clientMsgID string, awaited bool) outcome {
		t.Helper()
		var o outcome
		err := db.Update(ctx, func(tx desk.ConversationTx) error {
			o.runs++
			if err := tx.(interface {
				LockAhead(context.Context, []desk.LockHint) error
			}).LockAhead(ctx, []desk.LockHint{{ConversationID: id, Actor: emp, ClientMsgID: clientMsgID}}); err != nil {
				return err
			}
			var runErr error
			err := tx.Savepoint(ctx, func() error {
				runErr = func() error {
					c, err := tx.ConversationForUpdate(ctx, id)
					if err != nil {
						return err
					}
					if _, err := tx.EventByClientMsgID(ctx, id, emp, clientMsgID); err == nil {
						o.retry = true
						return nil
					}
					c.Seq++
					if err := tx.AppendEvent(ctx, desk.ConvEvent{ConversationID: id, Seq: c.Seq, Type: desk.EventMessage,
						Data: []byte(`{"body":"hi"}`), Actor: emp, ClientMsgID: clientMsgID, CreatedAt: at}); err != nil {
						return err
					}
					if awaited {
						if _, err := tx.NextNumber(ctx, "rerun"); err != nil {
							return err
						}
					}
					return tx.SaveConversation(ctx, c)
				}()
				return runErr
			})
			if err != nil && err != runErr {
				return err
			}
			o.err = err
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	send("k1", false)
	send("k2", false) // cached from here on
	before := db.Reruns()
	if o := send("k1", true); !o.retry || o.err != nil || o.runs != 2 {
		t.Errorf("retry with the conversation cached: found %v, command error %v, %d runs; want the original, no error, 2 runs", o.retry, o.err, o.runs)
	}
	if n := db.Reruns() - before; n != 1 {
		t.Errorf("%d reruns counted, want 1", n)
	}
	if o := send("k3", false); o.retry || o.err != nil || o.runs != 1 {
		t.Errorf("a new message after: retry %v, command error %v, %d runs; want a new message in one run", o.retry, o.err, o.runs)
	}
}

// TestSpeculationMixedBatch: in a batch of a cached and an uncached
// conversation, only the uncached is read (one round trip) and the cached
// is taken on trust; when the cached one turns out written since, the
// batch runs again.
func TestSpeculationMixedBatch(t *testing.T) {
	skipWithoutPostgres(t)
	ctx := t.Context()
	db, trips, raw := openWithSession(t)
	emp := desk.Principal{Role: desk.RoleEmployee, ID: "e-mixed"}
	at := time.Now().UTC().Truncate(time.Millisecond)
	ids := []string{"cv_mixed_a", "cv_mixed_b", "cv_mixed_c"}
	err := db.Update(ctx, func(tx desk.ConversationTx) error {
		for _, id := range ids {
			c := desk.Conversation{ID: id, EmployeeID: emp.ID, Subject: "s", Category: "other", Status: desk.StatusOpen,
				CreatedAt: at, UpdatedAt: at, Priority: "normal", Type: "incident"}
			if err := tx.CreateConversation(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// touch loads the conversations ids in one batch and writes each, as
	// the writer does; it returns the round trips before the writes, of
	// the run that committed, and the runs. probe, if set, runs after the
	// batch's lock ahead.
	var probe func()
	touch := func(ids ...string) (int64, int) {
		t.Helper()
		var n int64
		runs := 0
		err := db.Update(ctx, func(tx desk.ConversationTx) error {
			runs++
			before := trips.Load()
			var hints []desk.LockHint
			for _, id := range ids {
				hints = append(hints, desk.LockHint{ConversationID: id, Actor: emp})
			}
			if err := tx.(interface {
				LockAhead(context.Context, []desk.LockHint) error
			}).LockAhead(ctx, hints); err != nil {
				return err
			}
			if probe != nil {
				probe()
			}
			var cs []desk.Conversation
			for _, id := range ids {
				c, err := tx.ConversationForUpdate(ctx, id)
				if err != nil {
					return err
				}
				cs = append(cs, c)
			}
			n = trips.Load() - before
			for _, c := range cs {
				c.UpdatedAt = time.Now().UTC()
				if err := tx.SaveConversation(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, runs
	}
	touch(ids[0]) // a is cached from here on
	probe = func() {
		// b's read carried a's lock, queued ahead of it.
		if a, b := lockedElsewhere(t, raw, ids[0]), lockedElsewhere(t, raw, ids[1]); !a || !b {
			t.Errorf("after the lock ahead, a locked %v, b locked %v; want both", a, b)
		}
	}
	n, runs := touch(ids[0], ids[1])
	probe = nil
	if n != 1 || runs != 1 {
		t.Errorf("a cached, b not: %d round trips, %d runs; want 1, 1", n, runs)
	}
	if _, err := raw.Exec(ctx, `UPDATE conversations SET id = id WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	if n, runs := touch(ids[0], ids[2]); n != 1 || runs != 2 {
		t.Errorf("a cached but written since, c not cached: %d round trips, %d runs; want 1, 2", n, runs)
	}
}

// TestKnownEvents: a transaction tells the events after a seq of a
// conversation it locked without reading them, as Events would list them
// but without their data: the last few are read with the lock, and kept
// with what this node writes (the cache carries them); not when the events
// asked for are older than those kept.
func TestKnownEvents(t *testing.T) {
	skipWithoutPostgres(t)
	ctx := t.Context()
	a, trips, b, _ := twoNodes(t)
	emp := desk.Principal{Role: desk.RoleEmployee, ID: "e-known"}
	agent := desk.Principal{Role: desk.RoleAgent, ID: "a-known"}
	id := "cv_known"
	at := time.Now().UTC().Truncate(time.Millisecond)
	err := a.Update(ctx, func(tx desk.ConversationTx) error {
		c := desk.Conversation{ID: id, EmployeeID: emp.ID, Subject: "s", Category: "other", Status: desk.StatusOpen,
			Seq: 1, CreatedAt: at, UpdatedAt: at, Priority: "normal", Type: "incident"}
		if err := tx.CreateConversation(ctx, c); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, desk.ConvEvent{ConversationID: id, Seq: 1, Type: desk.EventMessage,
			Data: []byte(`{"body":"hi"}`), Actor: emp, CreatedAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
	type knower interface {
		KnownEvents(conversationID string, afterSeq int64, limit int, includePrivate bool) ([]desk.ConvEvent, bool)
	}
	// write locks the conversation as the writer does, asks what is known
	// after each of afters (with private events, and without), checks it
	// against Events, then appends n events, every third one private.
	type answer struct {
		ok    bool
		seqs  []int64
		trips int64 // round trips the questions took
	}
	write := func(db *postgres.DB, n int, afters ...int64) (with, without []answer) {
		t.Helper()
		err := db.Update(ctx, func(tx desk.ConversationTx) error {
			with, without = nil, nil
			if err := tx.(interface {
				LockAhead(context.Context, []desk.LockHint) error
			}).LockAhead(ctx, []desk.LockHint{{ConversationID: id, Actor: agent}}); err != nil {
				return err
			}
			c, err := tx.ConversationForUpdate(ctx, id)
			if err != nil {
				return err
			}
			for _, after := range afters {
				for _, private := range []bool{true, false} {
					before := trips.Load()
					evs, ok := tx.(knower).KnownEvents(id, after, 32, private)
					ans := answer{ok: ok, trips: trips.Load() - before}
					for _, ev := range evs {
						ans.seqs = append(ans.seqs, ev.Seq)
					}
					if ok {
						stored, err := tx.Events(ctx, id, after, 32, private)
						if err != nil {
							return err
						}
						if len(stored) != len(evs) {
							t.Errorf("after %d: known %v, stored %d events", after, ans.seqs, len(stored))
						}
						for i := range min(len(stored), len(evs)) {
							s, k := stored[i], evs[i]
							if s.Seq != k.Seq || s.Type != k.Type || s.Actor != k.Actor || s.Private != k.Private {
								t.Errorf("after %d: known %+v, stored %+v", after, k, s)
							}
						}
					}
					if private {
						with = append(with, ans)
					} else {
						without = append(without, ans)
					}
				}
			}
			for range n {
				c.Seq++
				ev := desk.ConvEvent{ConversationID: id, Seq: c.Seq, Type: desk.EventMessage, Data: []byte(`{"body":"x"}`),
					Actor: agent, Private: c.Seq%3 == 0, CreatedAt: at}
				if err := tx.AppendEvent(ctx, ev); err != nil {
					return err
				}
			}
			return tx.SaveConversation(ctx, c)
		})
		if err != nil {
			t.Fatal(err)
		}
		return with, without
	}
	want := func(step string, got answer, ok bool, seqs ...int64) {
		t.Helper()
		if got.ok != ok || !slices.Equal(got.seqs, seqs) || got.trips != 0 {
			t.Errorf("%s: known %v %v in %d round trips; want %v %v in none", step, got.ok, got.seqs, got.trips, ok, seqs)
		}
	}

	// Read afresh: the last events are read with the lock.
	w, _ := write(a, 2, 0, 1)
	want("read afresh, after 0", w[0], true, 1)
	want("read afresh, after the last", w[1], true)
	// Written through this node: known, the private ones left out on asking.
	w, wo := write(a, 8, 1, 2, 3)
	want("after 1", w[0], true, 2, 3)
	want("after 1, without private", wo[0], true, 2)
	want("after 2", w[1], true, 3)
	want("after 3", w[2], true)
	// Eight more since: the last eight are kept, no more.
	w, wo = write(a, 0, 2, 3, 4)
	want("older than those kept", w[0], false)
	want("after 3, eight later", w[1], true, 4, 5, 6, 7, 8, 9, 10, 11)
	want("after 4, without private", wo[2], true, 5, 7, 8, 10, 11)
	// Another node wrote since: read again with the lock, the last eight
	// with it.
	write(b, 1)
	w, wo = write(a, 0, 3, 4, 11)
	want("written through node b, older than those read", w[0], false)
	want("written through node b", w[1], true, 5, 6, 7, 8, 9, 10, 11, 12)
	want("written through node b, without private", wo[1], true, 5, 7, 8, 10, 11)
	want("written through node b, after 11", w[2], true, 12)
}
