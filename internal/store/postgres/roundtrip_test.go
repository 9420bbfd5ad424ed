package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
)

// TestMessageRoundTrips counts what the writer's Send costs before its
// writes: the lock, what is read beside it and the retry's client id go
// in one round trip, and the writes wait for the next one.
func TestMessageRoundTrips(t *testing.T) {
	skipWithoutPostgres(t)
	ctx := t.Context()
	db, trips, err := postgres.OpenCounting(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	emp := desk.Principal{Role: desk.RoleEmployee, ID: "e-trips"}
	at := time.Now().UTC().Truncate(time.Millisecond)
	c := desk.Conversation{ID: "cv_trips", EmployeeID: emp.ID, Subject: "s", Category: "other", Status: desk.StatusOpen,
		Seq: 1, CreatedAt: at, UpdatedAt: at, Priority: "normal", Type: "incident"}
	message := func(seq int64, clientMsgID string) desk.ConvEvent {
		return desk.ConvEvent{ConversationID: c.ID, Seq: seq, Type: desk.EventMessage, Data: []byte(`{"body":"hi"}`),
			Actor: emp, ClientMsgID: clientMsgID, CreatedAt: at}
	}
	err = db.Update(ctx, func(tx desk.ConversationTx) error {
		if err := tx.CreateConversation(ctx, c); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, message(1, "k1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, clientMsgID := range []string{"k1", "k2"} {
		err = db.Update(ctx, func(tx desk.ConversationTx) error {
			return tx.Savepoint(ctx, func() error {
				tx.(interface {
					LookUpWithLock(string, desk.Principal, string)
				}).LookUpWithLock(c.ID, emp, clientMsgID)
				before := trips.Load()
				got, err := tx.ConversationForUpdate(ctx, c.ID)
				if err != nil {
					return err
				}
				if _, err := tx.Participants(ctx, c.ID); err != nil {
					return err
				}
				if _, err := tx.SLAClocks(ctx, c.ID); err != nil {
					return err
				}
				ev, err := tx.EventByClientMsgID(ctx, c.ID, emp, clientMsgID)
				if clientMsgID == "k1" {
					if err != nil || ev.Seq != 1 {
						t.Errorf("retry: EventByClientMsgID = seq %d, %v; want 1", ev.Seq, err)
					}
				} else if desk.ErrorCode(err) != desk.ENotFound {
					t.Errorf("new message: EventByClientMsgID = %v, want not_found", err)
				} else if err := tx.AppendEvent(ctx, message(got.Seq+1, clientMsgID)); err != nil {
					return err
				}
				got.Seq++
				if err := tx.SaveConversation(ctx, got); err != nil {
					return err
				}
				if n := trips.Load() - before; n != 1 {
					t.Errorf("%s: %d round trips from the lock to the last write, want 1", clientMsgID, n)
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatchLockedAhead: the writer's batch locks and reads its
// conversations in one round trip (LockAhead), each command's load then
// answers from it without a round trip, a conversation written to before
// its load is read again, and the locks hold through a command rolled back.
func TestBatchLockedAhead(t *testing.T) {
	skipWithoutPostgres(t)
	ctx := t.Context()
	db, trips, other := openWithSession(t)
	locked := func(id string) bool { return lockedElsewhere(t, other, id) }

	emp := desk.Principal{Role: desk.RoleEmployee, ID: "e-ahead"}
	at := time.Now().UTC().Truncate(time.Millisecond)
	conv := func(id string) desk.Conversation {
		return desk.Conversation{ID: id, EmployeeID: emp.ID, Subject: "s", Category: "other", Status: desk.StatusOpen,
			Seq: 1, CreatedAt: at, UpdatedAt: at, Priority: "normal", Type: "incident"}
	}
	message := func(id string, seq int64, clientMsgID string) desk.ConvEvent {
		return desk.ConvEvent{ConversationID: id, Seq: seq, Type: desk.EventMessage, Data: []byte(`{"body":"hi"}`),
			Actor: emp, ClientMsgID: clientMsgID, CreatedAt: at}
	}
	a, b, c := conv("cv_ahead_a"), conv("cv_ahead_b"), conv("cv_ahead_c")
	err := db.Update(ctx, func(tx desk.ConversationTx) error {
		for _, x := range []desk.Conversation{a, b, c} {
			if err := tx.CreateConversation(ctx, x); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, message(x.ID, 1, "k1")); err != nil {
				return err
			}
			if err := tx.SaveParticipant(ctx, x.ID, desk.Participant{Role: emp.Role, ID: emp.ID, Active: true, LastReadSeq: 1, JoinedAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	type lockerAhead interface {
		LockAhead(ctx context.Context, hints []desk.LockHint) error
	}
	err = db.Update(ctx, func(tx desk.ConversationTx) error {
		before := trips.Load()
		hints := []desk.LockHint{
			{ConversationID: a.ID, Actor: emp, ClientMsgID: "k1"}, {ConversationID: a.ID, Actor: emp, ClientMsgID: "k2"},
			{ConversationID: b.ID, Actor: emp}, {ConversationID: c.ID, Actor: emp}, {ConversationID: "cv_missing"},
			{ConversationID: "bad\x00id"}, // left out: PostgreSQL would refuse it, and with it the batch
		}
		if err := tx.(lockerAhead).LockAhead(ctx, hints); err != nil {
			return err
		}
		if n := trips.Load() - before; n != 1 {
			t.Errorf("LockAhead: %d round trips, want 1", n)
		}
		for _, id := range []string{a.ID, b.ID, c.ID} {
			if !locked(id) {
				t.Errorf("%s not locked by LockAhead", id)
			}
		}

		// Two messages in a, a retry (k1) and a new one (k2): no round trip.
		before = trips.Load()
		for _, k := range []string{"k1", "k2"} {
			err := tx.Savepoint(ctx, func() error {
				got, err := tx.ConversationForUpdate(ctx, a.ID)
				if err != nil {
					return err
				}
				parts, err := tx.Participants(ctx, a.ID)
				if err != nil || len(parts) != 1 || parts[0].ID != emp.ID {
					t.Errorf("Participants = %v, %v; want the employee", parts, err)
				}
				if _, err := tx.SLAClocks(ctx, a.ID); err != nil {
					return err
				}
				ev, err := tx.EventByClientMsgID(ctx, a.ID, emp, k)
				if k == "k1" {
					if err != nil || ev.Seq != 1 || ev.ClientMsgID != "k1" || ev.Actor != emp {
						t.Errorf("retry: EventByClientMsgID = %+v, %v; want seq 1", ev, err)
					}
					return nil
				}
				if desk.ErrorCode(err) != desk.ENotFound {
					t.Errorf("new: EventByClientMsgID = %v, want not_found", err)
				}
				got.Seq++
				if err := tx.AppendEvent(ctx, message(a.ID, got.Seq, k)); err != nil {
					return err
				}
				return tx.SaveConversation(ctx, got)
			})
			if err != nil {
				return err
			}
		}
		if n := trips.Load() - before; n != 0 {
			t.Errorf("messages in a conversation locked ahead: %d round trips, want 0", n)
		}
		// a again, from what this transaction wrote: as the database has it.
		if err := tx.SaveParticipant(ctx, a.ID, desk.Participant{Role: emp.Role, ID: emp.ID, Active: true, LastReadSeq: 2, JoinedAt: at.Add(time.Hour)}); err != nil {
			return err
		}
		before = trips.Load()
		got, err := tx.ConversationForUpdate(ctx, a.ID)
		if err != nil || got.Seq != 2 {
			t.Errorf("a again: seq %d, %v; want 2", got.Seq, err)
		}
		parts, err := tx.Participants(ctx, a.ID)
		if err != nil {
			return err
		}
		if n := trips.Load() - before; n != 0 {
			t.Errorf("a again: %d round trips, want 0", n)
		}
		stored, err := tx.Conversation(ctx, a.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, stored) {
			t.Errorf("a again:\n got %+v\nwant %+v (stored)", got, stored)
		}
		if storedParts, err := tx.Participants(ctx, a.ID); err != nil || !reflect.DeepEqual(parts, storedParts) {
			t.Errorf("a's participants again:\n got %+v\nwant %+v, %v (stored)", parts, storedParts, err)
		}

		// b: a command that wrote and was rolled back keeps b locked.
		errRefused := desk.Errorf(desk.EForbidden, "refused")
		err = tx.Savepoint(ctx, func() error {
			got, err := tx.ConversationForUpdate(ctx, b.ID)
			if err != nil {
				return err
			}
			if _, err := tx.NextNumber(ctx, "ahead"); err != nil { // sent at once: the savepoint is set
				return err
			}
			got.Seq++
			if err := tx.AppendEvent(ctx, message(b.ID, got.Seq, "k2")); err != nil {
				return err
			}
			if err := tx.SaveConversation(ctx, got); err != nil {
				return err
			}
			return errRefused
		})
		if err != errRefused {
			t.Errorf("refused command: %v", err)
		}
		if _, err := tx.NextNumber(ctx, "ahead"); err != nil { // the rollback goes out
			return err
		}
		if !locked(b.ID) {
			t.Errorf("%s unlocked by a rolled-back command", b.ID)
		}
		if got, err := tx.ConversationForUpdate(ctx, b.ID); err != nil || got.Seq != 1 {
			t.Errorf("b after the rollback: seq %d, %v; want 1", got.Seq, err)
		}

		// c: written to before its load, so its load reads again.
		if err := tx.SaveParticipant(ctx, c.ID, desk.Participant{Role: desk.RoleAgent, ID: "agt-ahead", Active: true, JoinedAt: at}); err != nil {
			return err
		}
		before = trips.Load()
		if _, err := tx.ConversationForUpdate(ctx, c.ID); err != nil {
			return err
		}
		if n := trips.Load() - before; n != 1 {
			t.Errorf("c written to before its load: %d round trips, want 1", n)
		}
		if parts, err := tx.Participants(ctx, c.ID); err != nil || len(parts) != 2 {
			t.Errorf("c's participants = %v, %v; want the agent added", parts, err)
		}
		if _, err := tx.ConversationForUpdate(ctx, "cv_missing"); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("missing conversation: %v, want not_found", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if locked(a.ID) {
		t.Errorf("%s still locked after the commit", a.ID)
	}
	var seqs []int64
	rows, _ := other.Query(ctx, `SELECT seq FROM events WHERE conversation_id = $1 ORDER BY seq`, a.ID)
	seqs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(seqs) != 2 {
		t.Errorf("a's events = %v, %v; want seqs 1 and 2", seqs, err)
	}
}

// openWithSession opens a fresh database counting round trips (see
// OpenCounting) and a raw session of its own on it, for what the store
// would not do.
func openWithSession(t *testing.T) (*postgres.DB, *atomic.Int64, *pgx.Conn) {
	t.Helper()
	url := pgtest.URL(t)
	db, trips, err := postgres.OpenCounting(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	raw, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close(context.Background()) })
	return db, trips, raw
}

// lockedElsewhere reports whether the session other finds conversation
// id's row locked.
func lockedElsewhere(t *testing.T, other *pgx.Conn, id string) bool {
	t.Helper()
	_, err := other.Exec(t.Context(), `SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE NOWAIT`, id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" {
		return true
	}
	if err != nil {
		t.Fatalf("lock from another session: %v", err)
	}
	return false
}
