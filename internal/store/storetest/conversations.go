package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// RunConversationStore checks desk.ConversationStore's contract. open is
// called once per subtest and owns the cleanup. It may return a fresh store
// or one shared with other tests and earlier runs: every subtest makes its
// own ids with a random part and looks only at its own rows (conversations
// it leaves queued are resolved at cleanup, so a shared Queue stays short).
// If the store is also a desk.AgentStore, agents' names in Participants are
// checked too.
//
// List order, as every implementation must produce it: when
// ConversationQuery.Statuses is exactly [queued], by QueuedAt ascending
// then ID ascending (the queue's order); otherwise by UpdatedAt descending
// then ID descending. IDs compare byte by byte. AfterTime/AfterID continue
// strictly after that (time, id) in the same order, and only when AfterTime
// is set.
func RunConversationStore(t *testing.T, open func(t *testing.T) desk.ConversationStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"create and read back", testCreateAndRead},
		{"unknown rows are not found", testNotFound},
		{"client ids are scoped", testClientIDScopes},
		{"duplicates conflict and roll back", testDuplicates},
		{"failed update rolls back", testRollback},
		{"savepoints", testSavepoints},
		{"events paging and privacy", testEventsPaging},
		{"save conversation", testSaveConversation},
		{"save participant upserts", testSaveParticipant},
		{"save employee upserts", testSaveEmployee},
		{"list filters and order", testListFilters},
		{"list unread and last message", testListUnread},
		{"list paging", testListPaging},
		{"queue", testQueue},
		{"concurrent appends", testConcurrentAppends},
		{"writes under a conversation's lock", testLockedWrites},
		{"a retry's client id looked up under the lock", testRetryUnderLock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newFixture(t, open)) })
	}
}

func testCreateAndRead(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp := desk.Employee{ID: f.id("emp", 1), Name: "王小明", UpdatedAt: f.at(0)}
	c := f.conv(1, emp.ID, desk.StatusQueued, f.at(0))
	c.Seq = 2
	evs := []desk.ConvEvent{f.created(c), f.message(c.ID, 2, employee(emp.ID), "VPN 连不上了", c.ClientMsgID)}
	me := desk.Participant{Role: desk.RoleEmployee, ID: emp.ID, Active: true, LastReadSeq: 2, JoinedAt: f.at(0)}

	f.update(func(tx desk.ConversationTx) error {
		if err := tx.CreateConversation(ctx, c); err != nil {
			return fmt.Errorf("CreateConversation: %w", err)
		}
		for _, ev := range evs {
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return fmt.Errorf("AppendEvent #%d: %w", ev.Seq, err)
			}
		}
		if err := tx.SaveParticipant(ctx, c.ID, me); err != nil {
			return fmt.Errorf("SaveParticipant: %w", err)
		}
		if err := tx.SaveEmployee(ctx, emp); err != nil {
			return fmt.Errorf("SaveEmployee: %w", err)
		}
		// The transaction reads its own writes; nobody else sees them yet.
		got, err := tx.Conversation(ctx, c.ID)
		check(t, "tx.Conversation", got, c, err, fmtConv, normConv)
		gotEvs, err := tx.Events(ctx, c.ID, 0, 10, true)
		checkList(t, "tx.Events", gotEvs, evs, err, fmtEvent, normEvent)
		q, err := tx.Queue(ctx)
		checkList(t, "tx.Queue (this test's rows)", mine(q, c.ID), []desk.Conversation{c}, err, fmtConv, normConv)
		list, err := tx.ListConversations(ctx, desk.ConversationQuery{EmployeeID: emp.ID})
		checkList(t, "tx.ListConversations", ids(list), []string{c.ID}, err, fmtID, same)
		if _, err := f.s.Conversation(ctx, c.ID); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("Conversation outside the open transaction = %v, want not_found", err)
		}
		return nil
	})

	got, err := f.s.Conversation(ctx, c.ID)
	check(t, "Conversation", got, c, err, fmtConv, normConv)
	got, err = f.s.ConversationByClientMsgID(ctx, emp.ID, c.ClientMsgID)
	check(t, "ConversationByClientMsgID", got, c, err, fmtConv, normConv)
	gotEvs, err := f.s.Events(ctx, c.ID, 0, 100, true)
	checkList(t, "Events", gotEvs, evs, err, fmtEvent, normEvent)
	ev, err := f.s.EventByClientMsgID(ctx, c.ID, employee(emp.ID), c.ClientMsgID)
	check(t, "EventByClientMsgID", ev, evs[1], err, fmtEvent, normEvent)
	ps, err := f.s.Participants(ctx, c.ID)
	me.Name = emp.Name
	checkList(t, "Participants", ps, []desk.Participant{me}, err, fmtParticipant, normParticipant)
	gotEmp, err := f.s.Employee(ctx, emp.ID)
	check(t, "Employee", gotEmp, emp, err, fmtEmployee, normEmployee)

	f.update(func(tx desk.ConversationTx) error {
		got, err := tx.ConversationForUpdate(ctx, c.ID)
		check(t, "ConversationForUpdate", got, c, err, fmtConv, normConv)
		return nil
	})
}

func testNotFound(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp := f.id("emp", 1)
	c := f.conv(1, emp, desk.StatusOpen, f.at(0))
	f.create(&c, f.message(c.ID, 2, employee(emp), "hi", c.ClientMsgID))
	f.saveEmployee(desk.Employee{ID: emp, Name: "E", UpdatedAt: f.at(0)})
	noClientID := f.conv(2, emp, desk.StatusOpen, f.at(0))
	noClientID.ClientMsgID = ""
	f.create(&noClientID)

	unknown := f.id("cnv", 99)
	lookups := []struct {
		name   string
		lookup func(r desk.ConversationReader) (any, error)
	}{
		{"conversation", func(r desk.ConversationReader) (any, error) { return r.Conversation(ctx, unknown) }},
		{"client msg id of nobody", func(r desk.ConversationReader) (any, error) {
			return r.ConversationByClientMsgID(ctx, emp, "no-such-client-id")
		}},
		{"client msg id of another employee", func(r desk.ConversationReader) (any, error) {
			return r.ConversationByClientMsgID(ctx, f.id("emp", 2), c.ClientMsgID)
		}},
		{"empty client msg id", func(r desk.ConversationReader) (any, error) {
			// noClientID has none; "" must not find it.
			return r.ConversationByClientMsgID(ctx, emp, "")
		}},
		{"employee", func(r desk.ConversationReader) (any, error) { return r.Employee(ctx, f.id("emp", 2)) }},
		{"event client id", func(r desk.ConversationReader) (any, error) {
			return r.EventByClientMsgID(ctx, c.ID, employee(emp), "no-such-client-id")
		}},
		{"event client id of another actor", func(r desk.ConversationReader) (any, error) {
			return r.EventByClientMsgID(ctx, c.ID, agent(emp), c.ClientMsgID)
		}},
		{"event client id in another conversation", func(r desk.ConversationReader) (any, error) {
			return r.EventByClientMsgID(ctx, unknown, employee(emp), c.ClientMsgID)
		}},
		{"empty event client id", func(r desk.ConversationReader) (any, error) {
			// The created event has no client id; "" must not find it.
			return r.EventByClientMsgID(ctx, c.ID, employee(emp), "")
		}},
	}
	readers := []struct {
		name string
		with func(f *fixture, fn func(r desk.ConversationReader))
	}{
		{"store", func(f *fixture, fn func(r desk.ConversationReader)) { fn(f.s) }},
		{"tx", func(f *fixture, fn func(r desk.ConversationReader)) {
			f.update(func(tx desk.ConversationTx) error { fn(tx); return nil })
		}},
	}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			r.with(f.in(t), func(rd desk.ConversationReader) {
				for _, tt := range lookups {
					v, err := tt.lookup(rd)
					if code := desk.ErrorCode(err); code != desk.ENotFound {
						t.Errorf("%s: error = %v (code %q), want code %q", tt.name, err, code, desk.ENotFound)
					}
					if !isZero(v) {
						t.Errorf("%s: value = %+v, want the zero value", tt.name, v)
					}
				}
			})
		})
	}

	t.Run("for update", func(t *testing.T) {
		f.in(t).update(func(tx desk.ConversationTx) error {
			_, err := tx.ConversationForUpdate(ctx, unknown)
			if desk.ErrorCode(err) != desk.ENotFound {
				t.Errorf("ConversationForUpdate(unknown) = %v, want not_found", err)
			}
			return nil
		})
	})
}

func testClientIDScopes(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x, y := f.id("emp", 1), f.id("agt", 1), f.id("agt", 2)
	c := f.conv(1, emp, desk.StatusOpen, f.at(0))
	fromEmp := f.message(c.ID, 2, employee(emp), "mine", "same")
	xs := f.message(c.ID, 3, agent(x), "x's", "same")
	f.create(&c, fromEmp, xs,
		// Events without a client id never clash.
		f.event(c.ID, 4, desk.EventRead, employee(emp)),
		f.event(c.ID, 5, desk.EventRead, employee(emp)))

	tests := []struct {
		actor desk.Principal
		want  *desk.ConvEvent
	}{
		{employee(emp), &fromEmp},
		{agent(x), &xs},
		{agent(y), nil},    // same role, other id
		{agent(emp), nil},  // same id, other role
		{employee(x), nil}, // same id, other role
	}
	for _, tt := range tests {
		ev, err := f.s.EventByClientMsgID(ctx, c.ID, tt.actor, "same")
		if tt.want == nil {
			if desk.ErrorCode(err) != desk.ENotFound {
				t.Errorf("EventByClientMsgID(%s) = %s, %v; want not_found", tt.actor, fmtEvent(ev), err)
			}
			continue
		}
		check(t, fmt.Sprintf("EventByClientMsgID(%s)", tt.actor), ev, *tt.want, err, fmtEvent, normEvent)
	}

	// Two employees may use the same client id for their first messages.
	other := f.conv(2, f.id("emp", 2), desk.StatusOpen, f.at(0))
	other.ClientMsgID = c.ClientMsgID
	f.create(&other)
	for _, want := range []desk.Conversation{c, other} {
		got, err := f.s.ConversationByClientMsgID(ctx, want.EmployeeID, want.ClientMsgID)
		check(t, "ConversationByClientMsgID", got, want, err, fmtConv, normConv)
	}
	// A conversation without a client id never clashes either.
	for n := 3; n <= 4; n++ {
		c := f.conv(n, emp, desk.StatusOpen, f.at(0))
		c.ClientMsgID = ""
		f.create(&c)
	}
}

func testDuplicates(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x := f.id("emp", 1), f.id("agt", 1)
	person := desk.Employee{ID: emp, Name: "E", UpdatedAt: f.at(0)}
	f.saveEmployee(person)

	tests := []struct {
		name string
		dup  func(tx desk.ConversationTx, c desk.Conversation) error
	}{
		{"conversation id", func(tx desk.ConversationTx, c desk.Conversation) error {
			d := f.conv(90, f.id("emp", 2), desk.StatusQueued, f.at(1))
			d.ID = c.ID
			return tx.CreateConversation(ctx, d)
		}},
		{"employee and client id", func(tx desk.ConversationTx, c desk.Conversation) error {
			d := f.conv(91, emp, desk.StatusQueued, f.at(1))
			d.ClientMsgID = c.ClientMsgID
			return tx.CreateConversation(ctx, d)
		}},
		{"event seq", func(tx desk.ConversationTx, c desk.Conversation) error {
			return tx.AppendEvent(ctx, f.message(c.ID, 2, agent(x), "same seq", ""))
		}},
		{"event actor and client id", func(tx desk.ConversationTx, c desk.Conversation) error {
			return tx.AppendEvent(ctx, f.message(c.ID, 4, employee(emp), "retry", c.ClientMsgID))
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.in(t)
			c := f.conv(i+1, emp, desk.StatusOpen, f.at(0))
			evs := f.create(&c, f.message(c.ID, 2, employee(emp), "first", c.ClientMsgID))

			var dupErr error
			err := f.s.Update(ctx, func(tx desk.ConversationTx) error {
				// Valid writes first: the failed Update must undo them too.
				if err := tx.AppendEvent(ctx, f.note(c.ID, 3, agent(x), "kept?")); err != nil {
					return err
				}
				changed := c
				changed.Status, changed.Seq, changed.UpdatedAt = desk.StatusResolved, 3, f.at(5)
				if err := tx.SaveConversation(ctx, changed); err != nil {
					return err
				}
				if err := tx.SaveEmployee(ctx, desk.Employee{ID: emp, Name: "renamed", UpdatedAt: f.at(5)}); err != nil {
					return err
				}
				dupErr = tt.dup(tx, c)
				return dupErr
			})
			if code := desk.ErrorCode(dupErr); code != desk.EConflict {
				t.Errorf("duplicate write = %v (code %q), want code %q", dupErr, code, desk.EConflict)
			}
			if code := desk.ErrorCode(err); code != desk.EConflict {
				t.Errorf("Update = %v (code %q), want code %q", err, code, desk.EConflict)
			}
			got, err := f.s.Conversation(ctx, c.ID)
			check(t, "Conversation after the failed Update", got, c, err, fmtConv, normConv)
			gotEvs, err := f.s.Events(ctx, c.ID, 0, 100, true)
			checkList(t, "Events after the failed Update", gotEvs, evs, err, fmtEvent, normEvent)
			gotEmp, err := f.s.Employee(ctx, emp)
			check(t, "Employee after the failed Update", gotEmp, person, err, fmtEmployee, normEmployee)
		})
	}
}

func testRollback(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x := f.id("emp", 1), f.id("agt", 1)
	a := f.conv(1, emp, desk.StatusQueued, f.at(0))
	evs := f.create(&a)
	f.join(a.ID, desk.Participant{Role: desk.RoleEmployee, ID: emp, Active: true, JoinedAt: f.at(0)})
	participants, err := f.s.Participants(ctx, a.ID)
	if err != nil {
		t.Fatalf("Participants: %v", err)
	}

	b := f.conv(2, f.id("emp", 2), desk.StatusQueued, f.at(1))
	errBoom := errors.New("boom")
	results := []struct {
		name string
		err  error
		is   func(error) bool
	}{
		{"plain error", errBoom, func(err error) bool { return errors.Is(err, errBoom) }},
		{"domain error", desk.Errorf(desk.EForbidden, "no"), func(err error) bool { return desk.ErrorCode(err) == desk.EForbidden }},
	}
	for _, r := range results {
		t.Run(r.name, func(t *testing.T) {
			f := f.in(t)
			err := f.s.Update(ctx, func(tx desk.ConversationTx) error {
				changed := a
				changed.Status, changed.AssigneeID, changed.Seq, changed.QueuedAt = desk.StatusOpen, x, 2, nil
				writes := []error{
					tx.AppendEvent(ctx, f.event(a.ID, 2, desk.EventClaimed, agent(x))),
					tx.SaveConversation(ctx, changed),
					tx.SaveParticipant(ctx, a.ID, desk.Participant{Role: desk.RoleEmployee, ID: emp, Active: false, LastReadSeq: 2, JoinedAt: f.at(0)}),
					tx.SaveParticipant(ctx, a.ID, desk.Participant{Role: desk.RoleAgent, ID: x, Active: true, JoinedAt: f.at(1)}),
					tx.CreateConversation(ctx, b),
					tx.AppendEvent(ctx, f.created(b)),
					tx.SaveEmployee(ctx, desk.Employee{ID: b.EmployeeID, Name: "B", UpdatedAt: f.at(1)}),
				}
				if err := errors.Join(writes...); err != nil {
					t.Errorf("writes before the failure: %v", err)
				}
				return r.err
			})
			if !r.is(err) {
				t.Errorf("Update = %v, want fn's error %v", err, r.err)
			}
			got, err := f.s.Conversation(ctx, a.ID)
			check(t, "Conversation", got, a, err, fmtConv, normConv)
			gotEvs, err := f.s.Events(ctx, a.ID, 0, 100, true)
			checkList(t, "Events", gotEvs, evs, err, fmtEvent, normEvent)
			ps, err := f.s.Participants(ctx, a.ID)
			checkList(t, "Participants", ps, participants, err, fmtParticipant, same)
			for _, lookup := range []func() (any, error){
				func() (any, error) { return f.s.Conversation(ctx, b.ID) },
				func() (any, error) { return f.s.ConversationByClientMsgID(ctx, b.EmployeeID, b.ClientMsgID) },
				func() (any, error) { return f.s.Employee(ctx, b.EmployeeID) },
			} {
				if v, err := lookup(); desk.ErrorCode(err) != desk.ENotFound {
					t.Errorf("rolled-back row = %+v, %v; want not_found", v, err)
				}
			}
			if gotEvs, err := f.s.Events(ctx, b.ID, 0, 100, true); err == nil && len(gotEvs) > 0 {
				t.Errorf("rolled-back conversation has events %v", mapSlice(gotEvs, fmtEvent))
			}
		})
	}
}

func testSavepoints(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x := f.id("emp", 1), f.id("agt", 1)
	c := f.conv(1, emp, desk.StatusOpen, f.at(0))
	c.AssigneeID = x
	f.create(&c, f.message(c.ID, 2, employee(emp), "message", c.ClientMsgID))
	errBoom := errors.New("boom")
	appendNote := func(tx desk.ConversationTx, seq int64, body string) error {
		return tx.AppendEvent(ctx, f.note(c.ID, seq, agent(x), body))
	}

	f.update(func(tx desk.ConversationTx) error {
		if err := appendNote(tx, 3, "before"); err != nil {
			return err
		}
		err := tx.Savepoint(ctx, func() error {
			if err := appendNote(tx, 4, "undone"); err != nil {
				return err
			}
			resolved := c
			resolved.Status, resolved.Seq = desk.StatusResolved, 4
			if err := tx.SaveConversation(ctx, resolved); err != nil {
				return err
			}
			return appendNote(tx, 4, "clash") // EConflict: the command is refused
		})
		if desk.ErrorCode(err) != desk.EConflict {
			t.Errorf("failing Savepoint = %v, want its conflict", err)
		}
		if got, err := tx.Conversation(ctx, c.ID); err != nil || got.Status != desk.StatusOpen || got.Seq != 2 {
			t.Errorf("after the failed savepoint tx.Conversation = %s, %v; want status open, seq 2", fmtConv(got), err)
		}
		if err := tx.Savepoint(ctx, func() error { return appendNote(tx, 4, "kept") }); err != nil {
			t.Errorf("Savepoint: %v", err)
		}
		err = tx.Savepoint(ctx, func() error {
			if err := appendNote(tx, 5, "outer"); err != nil {
				return err
			}
			inner := tx.Savepoint(ctx, func() error {
				if err := appendNote(tx, 6, "inner undone"); err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(inner, errBoom) {
				t.Errorf("nested Savepoint = %v, want %v", inner, errBoom)
			}
			return appendNote(tx, 6, "outer after inner")
		})
		if err != nil {
			t.Errorf("outer Savepoint: %v", err)
		}
		if err := appendNote(tx, 7, "after"); err != nil {
			return err
		}
		c.Seq = 7
		return tx.SaveConversation(ctx, c)
	})

	evs, err := f.s.Events(ctx, c.ID, 2, 100, true)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	want := []string{"3 before", "4 kept", "5 outer", "6 outer after inner", "7 after"}
	checkList(t, "notes", mapSlice(evs, seqBody), want, nil, fmtID, same)
	got, err := f.s.Conversation(ctx, c.ID)
	check(t, "Conversation", got, c, err, fmtConv, normConv)
}

func testEventsPaging(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x := f.id("emp", 1), f.id("agt", 1)
	c := f.conv(1, emp, desk.StatusOpen, f.at(0))
	all := f.create(&c,
		f.message(c.ID, 2, employee(emp), "help", "m-1"),
		f.note(c.ID, 3, agent(x), "private"),
		f.message(c.ID, 4, agent(x), "on it", "m-2"),
		f.event(c.ID, 5, desk.EventClaimed, agent(x)),
		f.note(c.ID, 6, agent(x), "private again"),
		f.message(c.ID, 7, employee(emp), "thanks", ""),
	)
	bySeq := func(seqs ...int64) []desk.ConvEvent {
		var out []desk.ConvEvent
		for _, s := range seqs {
			out = append(out, all[s-1])
		}
		return out
	}
	tests := []struct {
		after   int64
		limit   int
		private bool
		want    []desk.ConvEvent
	}{
		{0, 100, true, all},
		{0, 100, false, bySeq(1, 2, 4, 5, 7)},
		{0, 1, true, bySeq(1)},
		{2, 2, true, bySeq(3, 4)},
		{2, 2, false, bySeq(4, 5)}, // the limit counts visible events only
		{5, 10, false, bySeq(7)},
		{6, 10, true, bySeq(7)},
		{7, 10, true, nil},
	}
	for _, tt := range tests {
		got, err := f.s.Events(ctx, c.ID, tt.after, tt.limit, tt.private)
		what := fmt.Sprintf("Events(after %d, limit %d, private %t)", tt.after, tt.limit, tt.private)
		checkList(t, what, got, tt.want, err, fmtEvent, normEvent)
	}
}

func testSaveConversation(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x := f.id("emp", 1), f.id("agt", 1)
	c := f.conv(1, emp, desk.StatusQueued, f.at(0))
	f.create(&c)

	steps := []struct {
		name   string
		change func(c *desk.Conversation)
	}{
		{"claim", func(c *desk.Conversation) {
			c.Status, c.AssigneeID, c.QueuedAt = desk.StatusOpen, x, nil
		}},
		{"resolve", func(c *desk.Conversation) {
			c.Status, c.ResolvedAt = desk.StatusResolved, ptr(f.at(9).Add(999*time.Microsecond))
		}},
		{"reopen into the queue", func(c *desk.Conversation) {
			c.Status, c.AssigneeID, c.QueuedAt, c.ResolvedAt = desk.StatusQueued, "", ptr(f.at(12)), nil
		}},
	}
	for i, st := range steps {
		seq := int64(i + 2)
		var want desk.Conversation
		f.update(func(tx desk.ConversationTx) error {
			got, err := tx.ConversationForUpdate(ctx, c.ID)
			if err != nil {
				return err
			}
			st.change(&got)
			got.Seq, got.UpdatedAt = seq, f.at(int(seq))
			want = got
			if err := tx.AppendEvent(ctx, f.event(c.ID, seq, desk.EventClaimed, agent(x))); err != nil {
				return err
			}
			return tx.SaveConversation(ctx, got)
		})
		got, err := f.s.Conversation(ctx, c.ID)
		check(t, "after "+st.name, got, want, err, fmtConv, normConv)
	}

	f.update(func(tx desk.ConversationTx) error {
		ghost := f.conv(2, emp, desk.StatusOpen, f.at(0))
		if err := tx.SaveConversation(ctx, ghost); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("SaveConversation(unknown) = %v, want not_found", err)
		}
		return nil
	})
}

func testSaveParticipant(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp, x, y := f.id("emp", 1), f.id("agt", 1), f.id("agt", 2)
	f.saveEmployee(desk.Employee{ID: emp, Name: "王小明", UpdatedAt: f.at(0)})
	xName := ""
	if as, ok := f.s.(desk.AgentStore); ok {
		xName = "李四"
		a := desk.Agent{ID: x, Username: "u-" + x, Name: xName, PasswordHash: "h"}
		if err := as.CreateAgent(ctx, a); err != nil {
			t.Fatalf("CreateAgent: %v", err)
		}
	}
	c := f.conv(1, emp, desk.StatusOpen, f.at(0))
	f.create(&c)

	want := []desk.Participant{
		{Role: desk.RoleEmployee, ID: emp, Name: "王小明", Active: true, JoinedAt: f.at(0)},
		{Role: desk.RoleAgent, ID: x, Name: xName, Active: true, LastReadSeq: 1, JoinedAt: f.at(1)},
		// Unknown to the agents table: no name. Same id as the employee
		// but another role: another participant.
		{Role: desk.RoleAgent, ID: emp, Active: true, JoinedAt: f.at(2)},
		{Role: desk.RoleAgent, ID: y, Active: true, JoinedAt: f.at(3).Add(500 * time.Microsecond)},
	}
	f.join(c.ID, want[3], want[1], want[0], want[2]) // stored out of order
	got, err := f.s.Participants(ctx, c.ID)
	checkList(t, "Participants after insert", got, want, err, fmtParticipant, normParticipant)

	want[1].Active, want[1].LastReadSeq = false, 5
	want[0].LastReadSeq = 7
	f.join(c.ID, want[1], want[0])
	got, err = f.s.Participants(ctx, c.ID)
	checkList(t, "Participants after update", got, want, err, fmtParticipant, normParticipant)
}

func testSaveEmployee(t *testing.T, f *fixture) {
	ctx := t.Context()
	e := desk.Employee{ID: f.id("emp", 1), Name: "王小明", UpdatedAt: f.at(0)}
	f.saveEmployee(e)
	e.Name, e.UpdatedAt = "王小明 (IT)", f.at(3)
	f.saveEmployee(e)
	got, err := f.s.Employee(ctx, e.ID)
	check(t, "Employee", got, e, err, fmtEmployee, normEmployee)
}

func testConcurrentAppends(t *testing.T, f *fixture) {
	ctx := t.Context()
	const writers = 24
	emp := f.id("emp", 1)
	c := f.conv(1, emp, desk.StatusOpen, f.at(0))
	f.create(&c)

	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				// Commits are atomic and serialised: a reader sees 1..k.
				evs, err := f.s.Events(ctx, c.ID, 0, 1000, true)
				if err != nil {
					t.Errorf("Events during appends: %v", err)
					return
				}
				for i, ev := range evs {
					if ev.Seq != int64(i+1) {
						t.Errorf("Events during appends: seqs %v, want 1..%d", mapSlice(evs, seqOf), len(evs))
						return
					}
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}

	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = f.s.Update(ctx, func(tx desk.ConversationTx) error {
				cur, err := tx.ConversationForUpdate(ctx, c.ID)
				if err != nil {
					return err
				}
				cur.Seq++
				cur.UpdatedAt = f.at(1)
				ev := f.message(c.ID, cur.Seq, employee(emp), "m", fmt.Sprintf("w-%02d", i))
				if err := tx.AppendEvent(ctx, ev); err != nil {
					return err
				}
				return tx.SaveConversation(ctx, cur)
			})
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}

	got, err := f.s.Conversation(ctx, c.ID)
	if err != nil || got.Seq != writers+1 {
		t.Errorf("Conversation = %s, %v; want seq %d", fmtConv(got), err, writers+1)
	}
	evs, err := f.s.Events(ctx, c.ID, 0, 1000, true)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	wantSeqs := make([]int64, writers+1)
	for i := range wantSeqs {
		wantSeqs[i] = int64(i + 1)
	}
	checkList(t, "seqs", mapSlice(evs, seqOf), wantSeqs, nil, func(s int64) string { return fmt.Sprint(s) }, same)
	clientIDs := mapSlice(evs[1:], func(ev desk.ConvEvent) string { return ev.ClientMsgID })
	slices.Sort(clientIDs)
	if n := len(slices.Compact(clientIDs)); n != writers {
		t.Errorf("%d distinct writers' client ids stored, want %d", n, writers)
	}
}

// decodeMessage reads an event's data as the Message it holds.
func decodeMessage(t *testing.T, data json.RawMessage) desk.Message {
	t.Helper()
	var m desk.Message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode message %s: %v", data, err)
	}
	return m
}
