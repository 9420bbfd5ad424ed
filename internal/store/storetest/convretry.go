package storetest

import (
	"errors"
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// lookerBesideLock is the optional way a transaction looks up a message's
// client id in the same round trip as it locks the conversation (the
// writer's Send asks for it before ConversationForUpdate; PostgreSQL has
// it). A store without it answers EventByClientMsgID when asked; either
// way the answers below must be the same.
type lookerBesideLock interface {
	LookUpWithLock(conversationID string, actor desk.Principal, clientMsgID string)
}

// testRetryUnderLock walks Send's retry path: the client id asked for
// before the lock, looked up once the conversation is locked. A retry gets
// its original event even after its sender left; a free client id is not
// found, and an append with it still conflicts on a taken seq; what a
// rolled-back command appended or learnt is forgotten.
func testRetryUnderLock(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x := f.id("emp", 1), f.id("agt", 1)
	c := f.conv(1, emp, desk.StatusOpen, f.at(0))
	c.AssigneeID = x
	stored := f.create(&c, f.message(c.ID, 2, employee(emp), "first", c.ClientMsgID), f.message(c.ID, 3, agent(x), "from the agent", "kx"))
	other := f.conv(2, emp, desk.StatusOpen, f.at(0))
	f.create(&other)
	// The agent has left since: their retry must still find the original.
	f.join(c.ID,
		desk.Participant{Role: desk.RoleEmployee, ID: emp, Active: true, LastReadSeq: 2, JoinedAt: f.at(0)},
		desk.Participant{Role: desk.RoleAgent, ID: x, Active: false, LastReadSeq: 3, JoinedAt: f.at(1)})
	besideLock := false
	errRefused := desk.Errorf(desk.EForbidden, "refused after reading")
	// lockFor is the start of Send: the client id asked for in askedIn
	// (if the store takes the request), then c locked and its
	// participants read.
	lockFor := func(tx desk.ConversationTx, askedIn string, who desk.Principal, clientMsgID string, wantSeq int64) {
		t.Helper()
		if l, ok := tx.(lookerBesideLock); ok {
			besideLock = true
			l.LookUpWithLock(askedIn, who, clientMsgID)
		}
		got, err := tx.ConversationForUpdate(ctx, c.ID)
		if err != nil || got.Seq != wantSeq {
			t.Fatalf("ConversationForUpdate = seq %d, %v; want seq %d", got.Seq, err, wantSeq)
		}
		if _, err := tx.Participants(ctx, c.ID); err != nil {
			t.Fatalf("Participants: %v", err)
		}
	}
	notFound := func(tx desk.ConversationTx, who desk.Principal, clientMsgID string) {
		t.Helper()
		if ev, err := tx.EventByClientMsgID(ctx, c.ID, who, clientMsgID); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("EventByClientMsgID(%s, %s) = %s, %v; want not_found", who, clientMsgID, fmtEvent(ev), err)
		}
	}

	f.update(func(tx desk.ConversationTx) error {
		for _, retry := range []struct {
			name string
			want desk.ConvEvent
		}{
			{"the agent's, who has left", stored[2]},
			{"the employee's first message", stored[1]},
		} {
			err := tx.Savepoint(ctx, func() error {
				lockFor(tx, c.ID, retry.want.Actor, retry.want.ClientMsgID, 3)
				ev, err := tx.EventByClientMsgID(ctx, c.ID, retry.want.Actor, retry.want.ClientMsgID)
				check(t, "retry of "+retry.name, ev, retry.want, err, fmtEvent, normEvent)
				// Sent anyway, it is the conflict of the append itself.
				again := f.message(c.ID, 4, retry.want.Actor, "again", retry.want.ClientMsgID)
				if err := tx.AppendEvent(ctx, again); desk.ErrorCode(err) != desk.EConflict {
					t.Errorf("append of the retry of %s = %v, want conflict", retry.name, err)
				}
				return errRefused
			})
			if !errors.Is(err, errRefused) {
				t.Errorf("retry of %s: Savepoint = %v, want %v", retry.name, err, errRefused)
			}
		}

		// A new client id: not found, and the append still conflicts on a
		// seq that is taken.
		err := tx.Savepoint(ctx, func() error {
			lockFor(tx, c.ID, employee(emp), "k9", 3)
			notFound(tx, employee(emp), "k9")
			return tx.AppendEvent(ctx, f.message(c.ID, 3, employee(emp), "taken seq", "k9"))
		})
		if desk.ErrorCode(err) != desk.EConflict {
			t.Errorf("append at a taken seq with a free client id = %v, want conflict", err)
		}

		// Appended, refused, rolled back: the client id is free again, and
		// asked for again it is looked up again.
		err = tx.Savepoint(ctx, func() error {
			lockFor(tx, c.ID, employee(emp), "k9", 3)
			notFound(tx, employee(emp), "k9")
			if err := tx.AppendEvent(ctx, f.message(c.ID, 4, employee(emp), "undone", "k9")); err != nil {
				return err
			}
			if ev, err := tx.EventByClientMsgID(ctx, c.ID, employee(emp), "k9"); err != nil || ev.Seq != 4 {
				t.Errorf("EventByClientMsgID(k9) after its append = seq %d, %v; want 4", ev.Seq, err)
			}
			return errRefused
		})
		if !errors.Is(err, errRefused) {
			t.Errorf("refused command's Savepoint = %v, want %v", err, errRefused)
		}
		err = tx.Savepoint(ctx, func() error {
			lockFor(tx, c.ID, employee(emp), "k9", 3)
			notFound(tx, employee(emp), "k9")
			return tx.AppendEvent(ctx, f.message(c.ID, 4, employee(emp), "stored", "k9"))
		})
		if err != nil {
			t.Fatalf("append with k9: %v", err)
		}

		// Asked for in another conversation: this lock does not use it,
		// and the answer is still right.
		err = tx.Savepoint(ctx, func() error {
			lockFor(tx, other.ID, employee(emp), "k9", 3)
			if ev, err := tx.EventByClientMsgID(ctx, c.ID, employee(emp), "k9"); err != nil || ev.Seq != 4 {
				t.Errorf("EventByClientMsgID(k9) asked for elsewhere = seq %d, %v; want 4", ev.Seq, err)
			}
			notFound(tx, employee(emp), "k10")
			return nil
		})
		if err != nil {
			t.Fatalf("lock with a request for another conversation: %v", err)
		}
		return nil
	})
	if ev, err := f.s.EventByClientMsgID(ctx, c.ID, employee(emp), "k9"); err != nil || seqBody(ev) != "4 stored" {
		t.Errorf("EventByClientMsgID(k9) after commit = %s, %v; want 4 stored", seqBody(ev), err)
	}
	t.Logf("client id looked up beside the lock: %t", besideLock)
}
