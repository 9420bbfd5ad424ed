package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// The list and queue parts of RunConversationStore.

func testListFilters(t *testing.T, f *fixture) {
	ctx := t.Context()
	e1, e2, x, y := f.id("emp", 1), f.id("emp", 2), f.id("agt", 1), f.id("agt", 2)
	active := func(id string, at int) desk.Participant {
		return desk.Participant{Role: desk.RoleAgent, ID: id, Active: true, JoinedAt: f.at(at)}
	}

	c1 := f.conv(1, e1, desk.StatusQueued, f.at(3))
	c2 := f.conv(2, e1, desk.StatusQueued, f.at(6))
	c2.QueuedAt = ptr(f.at(1)) // queued first, updated last
	c3 := f.conv(3, e1, desk.StatusOpen, f.at(5))
	c3.AssigneeID = x
	c4 := f.conv(4, e1, desk.StatusResolved, f.at(4))
	c5 := f.conv(5, e1, desk.StatusOpen, f.at(2))
	c5.AssigneeID = y
	c6 := f.conv(6, e2, desk.StatusOpen, f.at(7))
	c6.AssigneeID = x
	for _, c := range []desk.Conversation{c1, c2, c3, c4, c5, c6} {
		f.create(&c)
	}
	f.join(c3.ID, active(x, 1))
	left := active(x, 1)
	left.Active = false
	f.join(c4.ID, left) // x left c4: it no longer counts as x's
	f.join(c5.ID, active(y, 1), active(x, 2))
	f.join(c6.ID, active(x, 1))

	queued, open, resolved := desk.StatusQueued, desk.StatusOpen, desk.StatusResolved
	tests := []struct {
		name string
		q    desk.ConversationQuery
		want []desk.Conversation
	}{
		{"employee", desk.ConversationQuery{EmployeeID: e1}, []desk.Conversation{c2, c3, c4, c1, c5}},
		{"queued: queue order", desk.ConversationQuery{EmployeeID: e1, Statuses: []desk.Status{queued}}, []desk.Conversation{c2, c1}},
		{"open or resolved", desk.ConversationQuery{EmployeeID: e1, Statuses: []desk.Status{open, resolved}}, []desk.Conversation{c3, c4, c5}},
		{"queued or open: update order", desk.ConversationQuery{EmployeeID: e1, Statuses: []desk.Status{queued, open}}, []desk.Conversation{c2, c3, c1, c5}},
		{"active participant", desk.ConversationQuery{ParticipantAgentID: x}, []desk.Conversation{c6, c3, c5}},
		{"other participant", desk.ConversationQuery{ParticipantAgentID: y}, []desk.Conversation{c5}},
		{"all filters", desk.ConversationQuery{ParticipantAgentID: x, EmployeeID: e2, Statuses: []desk.Status{open}}, []desk.Conversation{c6}},
		{"former participant", desk.ConversationQuery{FormerAgentID: x}, []desk.Conversation{c4}},
		{"former, by status", desk.ConversationQuery{FormerAgentID: x, Statuses: []desk.Status{open}}, nil},
		{"filters exclude", desk.ConversationQuery{ParticipantAgentID: y, Statuses: []desk.Status{resolved}}, nil},
		{"limit", desk.ConversationQuery{EmployeeID: e1, Statuses: []desk.Status{resolved, open}, Limit: 2}, []desk.Conversation{c3, c4}},
		{"unknown employee", desk.ConversationQuery{EmployeeID: f.id("emp", 3)}, nil},
	}
	for _, tt := range tests {
		got, err := f.s.ListConversations(ctx, tt.q)
		checkList(t, tt.name, ids(got), mapSlice(tt.want, convID), err, fmtID, same)
		if err == nil && len(got) == len(tt.want) {
			checkList(t, tt.name+" (whole rows)", mapSlice(got, func(s desk.ConversationSummary) desk.Conversation {
				return s.Conversation
			}), tt.want, nil, fmtConv, normConv)
		}
	}
}

func testListUnread(t *testing.T, f *fixture) {
	ctx := t.Context()
	e, nameless, x, y, z := f.id("emp", 1), f.id("emp", 2), f.id("agt", 1), f.id("agt", 2), f.id("agt", 3)
	f.saveEmployee(desk.Employee{ID: e, Name: "王小明", UpdatedAt: f.at(0)})

	c := f.conv(1, e, desk.StatusOpen, f.at(5))
	c.AssigneeID = x
	evs := f.create(&c,
		f.message(c.ID, 2, employee(e), "hi", "m-1"),
		f.event(c.ID, 3, desk.EventClaimed, agent(x)),
		f.message(c.ID, 4, agent(x), "hello", "a-1"),
		f.note(c.ID, 5, agent(x), "note"),
		f.message(c.ID, 6, employee(e), "still broken", "m-2"),
		f.note(c.ID, 7, agent(y), "note"),
		f.event(c.ID, 8, desk.EventRead, employee(e)),
		f.message(c.ID, 9, agent(y), "try again", ""),
		f.note(c.ID, 10, agent(x), "a later note"),
	)
	f.join(c.ID,
		desk.Participant{Role: desk.RoleEmployee, ID: e, Active: true, LastReadSeq: 4, JoinedAt: f.at(0)},
		desk.Participant{Role: desk.RoleAgent, ID: x, Active: true, LastReadSeq: 3, JoinedAt: f.at(1)})
	silent := f.conv(2, e, desk.StatusQueued, f.at(1)) // no message at all
	f.create(&silent)
	orphan := f.conv(3, nameless, desk.StatusQueued, f.at(2)) // no employee row
	orphanEvs := f.create(&orphan, f.message(orphan.ID, 2, employee(nameless), "anyone?", orphan.ClientMsgID))

	last := decodeMessage(t, evs[8].Data)
	tests := []struct {
		viewer           desk.Principal
		c, silent, orphn int64
	}{
		{agent(x), 2, 0, 1},    // read up to 3; 4 is x's own; notes and the read event don't count
		{employee(e), 1, 0, 1}, // read up to 4; 6 is e's own
		{agent(y), 3, 0, 1},    // not a participant: everything but y's own
		{agent(z), 4, 0, 1},
		{employee(nameless), 4, 0, 0},
	}
	for _, tt := range tests {
		got, err := f.s.ListConversations(ctx, desk.ConversationQuery{
			EmployeeID: e, Statuses: []desk.Status{desk.StatusQueued, desk.StatusOpen}, Viewer: tt.viewer,
		})
		want := []desk.ConversationSummary{
			{Conversation: c, EmployeeName: "王小明", Unread: tt.c, LastMessage: &last},
			{Conversation: silent, EmployeeName: "王小明", Unread: tt.silent},
		}
		checkList(t, fmt.Sprintf("ListConversations viewed by %s", tt.viewer), got, want, err, fmtSummary, normSummary)

		got, err = f.s.ListConversations(ctx, desk.ConversationQuery{EmployeeID: nameless, Viewer: tt.viewer})
		lastOrphan := decodeMessage(t, orphanEvs[1].Data)
		want = []desk.ConversationSummary{{Conversation: orphan, Unread: tt.orphn, LastMessage: &lastOrphan}}
		checkList(t, fmt.Sprintf("ListConversations without an employee row viewed by %s", tt.viewer), got, want, err, fmtSummary, normSummary)
	}
}

func testListPaging(t *testing.T, f *fixture) {
	ctx := t.Context()
	// Times a few hundred microseconds apart are equal at millisecond
	// precision, so they tie and ID decides; a cursor taken from a returned
	// row must match the stored value exactly.
	sub := func(at int, micros int) time.Time { return f.at(at).Add(time.Duration(micros) * time.Microsecond) }

	recent := f.id("emp", 1)
	updated := []time.Time{sub(5, 0), sub(5, 100), sub(5, 200), sub(3, 0), sub(3, 400), sub(1, 0), sub(0, 0)}
	for i, at := range updated {
		f.create(ptr(f.conv(i+1, recent, desk.StatusOpen, at)))
	}
	queuer := f.id("emp", 2)
	queuedAt := []time.Time{sub(2, 0), sub(1, 0), sub(1, 100), sub(0, 0), sub(2, 200)}
	for i, at := range queuedAt {
		c := f.conv(i+11, queuer, desk.StatusQueued, f.at(20-i)) // update order is the reverse of ids
		c.QueuedAt = ptr(at)
		f.create(&c)
	}
	n := func(nums ...int) []string { return mapSlice(nums, func(i int) string { return f.id("cnv", i) }) }

	tests := []struct {
		name   string
		q      desk.ConversationQuery
		cursor func(desk.ConversationSummary) time.Time
		want   []string
	}{
		{"by update", desk.ConversationQuery{EmployeeID: recent},
			func(s desk.ConversationSummary) time.Time { return s.UpdatedAt }, n(3, 2, 1, 5, 4, 6, 7)},
		{"queued", desk.ConversationQuery{EmployeeID: queuer, Statuses: []desk.Status{desk.StatusQueued}},
			func(s desk.ConversationSummary) time.Time { return *s.QueuedAt }, n(14, 12, 13, 11, 15)},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 3, 10} {
			q := tt.q
			q.Limit = limit
			var got []string
			for range 20 {
				page, err := f.s.ListConversations(ctx, q)
				if err != nil {
					t.Fatalf("%s: ListConversations(%+v): %v", tt.name, q, err)
				}
				if len(page) > limit {
					t.Errorf("%s: page of %d rows, limit %d", tt.name, len(page), limit)
				}
				got = append(got, ids(page)...)
				if len(page) < limit {
					break
				}
				last := page[len(page)-1]
				q.AfterTime, q.AfterID = tt.cursor(last), last.ID
			}
			checkList(t, fmt.Sprintf("%s, pages of %d", tt.name, limit), got, tt.want, nil, fmtID, same)
		}
	}
}

func testQueue(t *testing.T, f *fixture) {
	ctx := t.Context()
	emp := f.id("emp", 1)
	var want []desk.Conversation
	for i, at := range []int{2, 0, 1} {
		c := f.conv(i+1, emp, desk.StatusQueued, f.at(10))
		c.QueuedAt = ptr(f.at(at))
		f.create(&c)
		want = append(want, c)
	}
	want = []desk.Conversation{want[1], want[2], want[0]}
	f.create(ptr(f.conv(4, emp, desk.StatusOpen, f.at(0))))
	f.create(ptr(f.conv(5, emp, desk.StatusResolved, f.at(0))))

	got, err := f.s.Queue(ctx)
	checkList(t, "Queue (this test's rows)", mine(got, mapSlice(want, convID)...), want, err, fmtConv, normConv)
	for i, c := range got {
		// Rows of other tests sharing the store obey the order too.
		if c.Status != desk.StatusQueued || c.QueuedAt == nil {
			t.Errorf("Queue()[%d] = %s, want queued with a queued time", i, fmtConv(c))
		} else if i > 0 && got[i-1].QueuedAt != nil && c.QueuedAt.Before(*got[i-1].QueuedAt) {
			t.Errorf("Queue()[%d] = %s is before the previous row", i, fmtConv(c))
		}
	}
	// QueueRank agrees with Queue's order for every queued row.
	for i, c := range got {
		before, length, err := f.s.QueueRank(ctx, *c.QueuedAt, c.ID)
		if err != nil || before != i || length != len(got) {
			t.Errorf("QueueRank(%s) = %d of %d (%v), want %d of %d", c.ID, before, length, err, i, len(got))
		}
	}
}
