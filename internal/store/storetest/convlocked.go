package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// testLockedWrites walks the desk writer's path: commands in savepoints,
// each locking its conversation, reading it, then writing. A store may
// answer later what it can foresee (PostgreSQL pipelines such writes), so
// this checks that reads see the writes before them, that a taken seq or
// client id is still a conflict of the call that makes it, and that a
// refused command's writes, queued or not, are undone.
func testLockedWrites(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x := f.id("emp", 1), f.id("agt", 1)
	c := f.conv(1, emp, desk.StatusOpen, f.at(0))
	c.AssigneeID = x
	f.create(&c, f.message(c.ID, 2, employee(emp), "first", c.ClientMsgID))
	f.join(c.ID,
		desk.Participant{Role: desk.RoleEmployee, ID: emp, Active: true, LastReadSeq: 2, JoinedAt: f.at(0)},
		desk.Participant{Role: desk.RoleAgent, ID: x, Active: true, LastReadSeq: 1, JoinedAt: f.at(1)})
	errRefused := desk.Errorf(desk.EForbidden, "refused after reading")
	lastRead := func(tx desk.ConversationTx, who desk.Principal) (int64, bool) {
		ps, err := tx.Participants(ctx, c.ID)
		if err != nil {
			t.Fatalf("Participants: %v", err)
		}
		for _, p := range ps {
			if p.Principal() == who {
				return p.LastReadSeq, p.Active
			}
		}
		return -1, false
	}
	bodies := func(tx desk.ConversationTx) []string {
		evs, err := tx.Events(ctx, c.ID, 2, 100, true)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		return mapSlice(evs, seqBody)
	}
	lock := func(tx desk.ConversationTx, wantSeq int64) {
		got, err := tx.ConversationForUpdate(ctx, c.ID)
		if err != nil || got.Seq != wantSeq {
			t.Fatalf("ConversationForUpdate = seq %d, %v; want seq %d", got.Seq, err, wantSeq)
		}
	}

	f.update(func(tx desk.ConversationTx) error {
		// A message, as Send writes it.
		err := tx.Savepoint(ctx, func() error {
			lock(tx, 2)
			if _, err := tx.Participants(ctx, c.ID); err != nil {
				return err
			}
			if _, err := tx.EventByClientMsgID(ctx, c.ID, employee(emp), "k1"); desk.ErrorCode(err) != desk.ENotFound {
				t.Errorf("EventByClientMsgID(k1) = %v, want not_found", err)
			}
			if clocks, err := tx.SLAClocks(ctx, c.ID); err != nil || len(clocks) != 0 {
				t.Errorf("SLAClocks = %v, %v; want none", clocks, err)
			}
			if err := tx.AppendEvent(ctx, f.message(c.ID, 3, employee(emp), "second", "k1")); err != nil {
				return err
			}
			if err := tx.SaveParticipant(ctx, c.ID, desk.Participant{Role: desk.RoleEmployee, ID: emp, Active: true, LastReadSeq: 3, JoinedAt: f.at(0)}); err != nil {
				return err
			}
			if err := tx.SaveSLAClock(ctx, c.ID, desk.SLAClock{Kind: "first_response", Data: []byte(`{"k":1}`), State: "running"}); err != nil {
				return err
			}
			moved := c
			moved.Seq, moved.PublicSeq = 3, 3
			if err := tx.SaveConversation(ctx, moved); err != nil {
				return err
			}
			// Reads after the writes see them.
			if got := bodies(tx); !slices.Equal(got, []string{"3 second"}) {
				t.Errorf("Events after the append = %v, want [3 second]", got)
			}
			if seq, _ := lastRead(tx, employee(emp)); seq != 3 {
				t.Errorf("employee's last read after SaveParticipant = %d, want 3", seq)
			}
			if clocks, err := tx.SLAClocks(ctx, c.ID); err != nil || len(clocks) != 1 || clocks[0].Kind != "first_response" {
				t.Errorf("SLAClocks after SaveSLAClock = %v, %v; want first_response", clocks, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("send: %v", err)
		}

		// The same client id again, and a taken seq: each append is a
		// conflict, from the call itself, and refuses its command alone.
		for _, clash := range []struct {
			name string
			ev   desk.ConvEvent
		}{
			{"client id taken in this transaction", f.message(c.ID, 4, employee(emp), "retry", "k1")},
			{"seq taken in this transaction", f.message(c.ID, 3, employee(emp), "same seq", "k2")},
			{"seq taken before", f.message(c.ID, 2, agent(x), "older seq", "")},
			{"client id taken before", f.message(c.ID, 4, employee(emp), "retry of the first", c.ClientMsgID)},
		} {
			var appendErr error
			err := tx.Savepoint(ctx, func() error {
				lock(tx, 3)
				if clash.ev.ClientMsgID != "" {
					tx.EventByClientMsgID(ctx, c.ID, clash.ev.Actor, clash.ev.ClientMsgID)
				}
				appendErr = tx.AppendEvent(ctx, clash.ev)
				return appendErr
			})
			if desk.ErrorCode(appendErr) != desk.EConflict || desk.ErrorCode(err) != desk.EConflict {
				t.Errorf("%s: AppendEvent = %v, Savepoint = %v; want both conflict", clash.name, appendErr, err)
			}
		}

		// A command refused after its writes: none of them stays.
		err = tx.Savepoint(ctx, func() error {
			lock(tx, 3)
			if err := tx.AppendEvent(ctx, f.message(c.ID, 4, agent(x), "undone", "")); err != nil {
				return err
			}
			if err := tx.SaveParticipant(ctx, c.ID, desk.Participant{Role: desk.RoleAgent, ID: x, Active: false, LastReadSeq: 4, JoinedAt: f.at(1)}); err != nil {
				return err
			}
			gone := c
			gone.Seq, gone.Status = 4, desk.StatusResolved
			if err := tx.SaveConversation(ctx, gone); err != nil {
				return err
			}
			return errRefused
		})
		if !errors.Is(err, errRefused) {
			t.Errorf("refused command's Savepoint = %v, want %v", err, errRefused)
		}
		// The same, refused after reading its own writes back.
		err = tx.Savepoint(ctx, func() error {
			lock(tx, 3)
			if err := tx.AppendEvent(ctx, f.message(c.ID, 4, agent(x), "read back, then undone", "")); err != nil {
				return err
			}
			if err := tx.SaveParticipant(ctx, c.ID, desk.Participant{Role: desk.RoleAgent, ID: x, Active: false, LastReadSeq: 4, JoinedAt: f.at(1)}); err != nil {
				return err
			}
			if got := bodies(tx); !slices.Equal(got, []string{"3 second", "4 read back, then undone"}) {
				t.Errorf("Events inside the command = %v", got)
			}
			return errRefused
		})
		if !errors.Is(err, errRefused) {
			t.Errorf("refused command's Savepoint = %v, want %v", err, errRefused)
		}
		if got := bodies(tx); !slices.Equal(got, []string{"3 second"}) {
			t.Errorf("Events after the refused command = %v, want [3 second]", got)
		}
		if seq, active := lastRead(tx, agent(x)); seq != 1 || !active {
			t.Errorf("agent after the refused command: last read %d, active %v; want 1, true", seq, active)
		}

		// A lock taken in a savepoint that was rolled back is gone: the
		// next append must still find its conflict.
		tx.Savepoint(ctx, func() error {
			lock(tx, 3)
			return errRefused
		})
		if err := tx.AppendEvent(ctx, f.message(c.ID, 3, agent(x), "after the rollback", "")); desk.ErrorCode(err) != desk.EConflict {
			t.Errorf("AppendEvent of a taken seq after a rolled-back lock = %v, want conflict", err)
		}
		return nil
	})
	// The conflict above, outside a savepoint, left PostgreSQL's
	// transaction usable (found without an error), and it committed.
	got, err := f.s.Conversation(ctx, c.ID)
	if err != nil || got.Seq != 3 || got.Status != desk.StatusOpen {
		t.Errorf("Conversation after commit = %s, %v; want open at seq 3", fmtConv(got), err)
	}
	evs, err := f.s.Events(ctx, c.ID, 2, 100, true)
	checkList(t, "events after commit", mapSlice(evs, seqBody), []string{"3 second"}, err, fmtID, same)
	if ev, err := f.s.EventByClientMsgID(ctx, c.ID, employee(emp), "k1"); err != nil || ev.Seq != 3 {
		t.Errorf("EventByClientMsgID(k1) after commit = seq %d, %v; want 3", ev.Seq, err)
	}
}
