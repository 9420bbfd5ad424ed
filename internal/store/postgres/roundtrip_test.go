package postgres_test

import (
	"testing"
	"time"

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
