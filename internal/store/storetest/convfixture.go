package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// fixture makes one subtest's rows: ids with a random tag, so a store
// shared with other tests and runs never clashes, and times in UTC+8 with
// nanoseconds, so a store must normalise them to UTC milliseconds.
type fixture struct {
	t    *testing.T
	s    desk.ConversationStore
	tag  string
	base time.Time
	made *createdIDs
}

// createdIDs are the conversations a subtest made, for its cleanup.
type createdIDs struct {
	mu  sync.Mutex
	ids []string
}

func newFixture(t *testing.T, open func(t *testing.T) desk.ConversationStore) *fixture {
	b := make([]byte, 5)
	rand.Read(b)
	f := &fixture{
		t:    t,
		s:    open(t),
		tag:  hex.EncodeToString(b),
		base: time.Date(2025, 3, 1, 9, 30, 0, 123_456_789, time.FixedZone("CST", 8*60*60)),
		made: &createdIDs{},
	}
	// Registered after open's cleanup, so it runs while the store is open.
	t.Cleanup(f.resolveQueued)
	return f
}

// in returns f reporting to the subtest t.
func (f *fixture) in(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

// resolveQueued takes the subtest's conversations out of the queue, so a
// shared store's Queue does not grow with every run.
func (f *fixture) resolveQueued() {
	f.made.mu.Lock()
	ids := f.made.ids
	f.made.mu.Unlock()
	ctx := context.Background() // t.Context is already cancelled
	err := f.s.Update(ctx, func(tx desk.ConversationTx) error {
		for _, id := range ids {
			c, err := tx.ConversationForUpdate(ctx, id)
			if err != nil || c.Status != desk.StatusQueued {
				continue
			}
			c.Status, c.QueuedAt, c.ResolvedAt = desk.StatusResolved, nil, ptr(c.UpdatedAt)
			if err := tx.SaveConversation(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Logf("cleanup: resolve queued conversations: %v", err)
	}
}

// id returns the subtest's n-th id of a kind. Every id has the same length
// and punctuation, so byte order and any collation sort them alike.
func (f *fixture) id(kind string, n int) string { return fmt.Sprintf("%s-%s-%02d", kind, f.tag, n) }

// at returns the base time plus n minutes.
func (f *fixture) at(n int) time.Time { return f.base.Add(time.Duration(n) * time.Minute) }

// conv returns conversation n of employee emp, last updated at updated;
// queued ones were queued then, resolved ones resolved then.
func (f *fixture) conv(n int, emp string, status desk.Status, updated time.Time) desk.Conversation {
	c := desk.Conversation{
		ID: f.id("cnv", n), EmployeeID: emp, Subject: fmt.Sprintf("打印机卡纸 #%d", n), Category: "hardware",
		Status: status, Seq: 1, CreatedAt: f.base, UpdatedAt: updated, ClientMsgID: f.id("cm", n),
	}
	switch status {
	case desk.StatusQueued:
		c.QueuedAt = ptr(updated)
	case desk.StatusResolved:
		c.ResolvedAt = ptr(updated)
	}
	return c
}

// create stores c with its conversation.created event and evs (seq 2 on),
// sets c.Seq to the last seq, and returns every event stored.
func (f *fixture) create(c *desk.Conversation, evs ...desk.ConvEvent) []desk.ConvEvent {
	f.t.Helper()
	all := append([]desk.ConvEvent{f.created(*c)}, evs...)
	c.Seq = int64(len(all))
	f.update(func(tx desk.ConversationTx) error {
		if err := tx.CreateConversation(f.t.Context(), *c); err != nil {
			return fmt.Errorf("CreateConversation: %w", err)
		}
		for _, ev := range all {
			if err := tx.AppendEvent(f.t.Context(), ev); err != nil {
				return fmt.Errorf("AppendEvent #%d: %w", ev.Seq, err)
			}
		}
		return nil
	})
	f.made.mu.Lock()
	f.made.ids = append(f.made.ids, c.ID)
	f.made.mu.Unlock()
	return all
}

// join saves participants of a conversation.
func (f *fixture) join(convID string, ps ...desk.Participant) {
	f.t.Helper()
	f.update(func(tx desk.ConversationTx) error {
		for _, p := range ps {
			if err := tx.SaveParticipant(f.t.Context(), convID, p); err != nil {
				return fmt.Errorf("SaveParticipant(%s): %w", p.Principal(), err)
			}
		}
		return nil
	})
}

func (f *fixture) saveEmployee(e desk.Employee) {
	f.t.Helper()
	f.update(func(tx desk.ConversationTx) error { return tx.SaveEmployee(f.t.Context(), e) })
}

// update runs fn in a transaction that must commit.
func (f *fixture) update(fn func(tx desk.ConversationTx) error) {
	f.t.Helper()
	if err := f.s.Update(f.t.Context(), fn); err != nil {
		f.t.Fatalf("Update: %v", err)
	}
}

// created is a conversation's first event, as the service writes it.
func (f *fixture) created(c desk.Conversation) desk.ConvEvent {
	data, _ := json.Marshal(map[string]string{"subject": c.Subject, "category": c.Category})
	return desk.ConvEvent{
		ConversationID: c.ID, Seq: 1, Type: desk.EventCreated, Data: data,
		Actor: employee(c.EmployeeID), CreatedAt: c.CreatedAt,
	}
}

// message is a message.created event; its data is a desk.Message.
func (f *fixture) message(convID string, seq int64, by desk.Principal, body, clientMsgID string) desk.ConvEvent {
	at := f.base.Add(time.Duration(seq)*time.Second + 250*time.Microsecond)
	data, _ := json.Marshal(desk.Message{
		ID: fmt.Sprintf("%s:%d", convID, seq), Body: body, SenderType: by.Role, SenderID: by.ID,
		ClientMsgID: clientMsgID, CreatedAt: at.UTC().Truncate(time.Millisecond),
	})
	return desk.ConvEvent{
		ConversationID: convID, Seq: seq, Type: desk.EventMessage, Data: data,
		Actor: by, ClientMsgID: clientMsgID, CreatedAt: at,
	}
}

// note is a private note.created event by an agent.
func (f *fixture) note(convID string, seq int64, by desk.Principal, body string) desk.ConvEvent {
	ev := f.message(convID, seq, by, body, "")
	ev.Type, ev.Private = desk.EventNote, true
	return ev
}

// event is any other public event.
func (f *fixture) event(convID string, seq int64, typ desk.EventType, by desk.Principal) desk.ConvEvent {
	data, _ := json.Marshal(map[string]any{"by": by.String(), "seq": seq})
	return desk.ConvEvent{
		ConversationID: convID, Seq: seq, Type: typ, Data: data,
		Actor: by, CreatedAt: f.base.Add(time.Duration(seq) * time.Second),
	}
}

func employee(id string) desk.Principal { return desk.Principal{Role: desk.RoleEmployee, ID: id} }
func agent(id string) desk.Principal    { return desk.Principal{Role: desk.RoleAgent, ID: id} }
func ptr[T any](v T) *T                 { return &v }

// check compares got with norm(want) through show, which must print every
// field that matters; a failed lookup (err) fails the check.
func check[T any](t *testing.T, what string, got, want T, err error, show func(T) string, norm func(T) T) {
	t.Helper()
	checkList(t, what, []T{got}, []T{want}, err, show, norm)
}

// checkList is check for lists, order included.
func checkList[T any](t *testing.T, what string, got, want []T, err error, show func(T) string, norm func(T) T) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	g := mapSlice(got, show)
	w := mapSlice(mapSlice(want, norm), show)
	if !slices.Equal(g, w) {
		t.Errorf("%s:\ngot  %d:\n\t%s\nwant %d:\n\t%s", what,
			len(g), strings.Join(g, "\n\t"), len(w), strings.Join(w, "\n\t"))
	}
}

func mapSlice[T, U any](s []T, fn func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = fn(v)
	}
	return out
}

func same[T any](v T) T                 { return v }
func fmtID(id string) string            { return id }
func convID(c desk.Conversation) string { return c.ID }
func seqOf(ev desk.ConvEvent) int64     { return ev.Seq }
func isZero(v any) bool                 { return v == nil || reflect.ValueOf(v).IsZero() }
func ids(l []desk.ConversationSummary) []string {
	return mapSlice(l, func(s desk.ConversationSummary) string { return s.ID })
}

// mine keeps the conversations with the given ids, in list order.
func mine(l []desk.Conversation, ids ...string) []desk.Conversation {
	var out []desk.Conversation
	for _, c := range l {
		if slices.Contains(ids, c.ID) {
			out = append(out, c)
		}
	}
	return out
}

// seqBody prints a message or note event as "seq body".
func seqBody(ev desk.ConvEvent) string {
	var m desk.Message
	json.Unmarshal(ev.Data, &m)
	return fmt.Sprintf("%d %s", ev.Seq, m.Body)
}

// ms is how a store gives times back: UTC, whole milliseconds.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func msPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(ms(*t))
}

func normConv(c desk.Conversation) desk.Conversation {
	c.CreatedAt, c.UpdatedAt = ms(c.CreatedAt), ms(c.UpdatedAt)
	c.QueuedAt, c.ResolvedAt = msPtr(c.QueuedAt), msPtr(c.ResolvedAt)
	return c
}

func normEvent(ev desk.ConvEvent) desk.ConvEvent {
	ev.CreatedAt = ms(ev.CreatedAt)
	return ev
}

func normParticipant(p desk.Participant) desk.Participant {
	p.JoinedAt = ms(p.JoinedAt)
	return p
}

func normEmployee(e desk.Employee) desk.Employee {
	e.UpdatedAt = ms(e.UpdatedAt)
	return e
}

func normSummary(s desk.ConversationSummary) desk.ConversationSummary {
	s.Conversation = normConv(s.Conversation)
	return s
}

// fmtTime prints a time to the nanosecond, marking any zone but UTC.
func fmtTime(t time.Time) string {
	s := t.Format(time.RFC3339Nano)
	if t.Location() != time.UTC {
		s += " [zone " + t.Location().String() + ", want UTC]"
	}
	return s
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "nil"
	}
	return fmtTime(*t)
}

func fmtConv(c desk.Conversation) string {
	return fmt.Sprintf("{%s employee=%s subject=%q category=%s status=%s assignee=%q seq=%d created=%s updated=%s queued=%s resolved=%s client_msg_id=%q}",
		c.ID, c.EmployeeID, c.Subject, c.Category, c.Status, c.AssigneeID, c.Seq,
		fmtTime(c.CreatedAt), fmtTime(c.UpdatedAt), fmtTimePtr(c.QueuedAt), fmtTimePtr(c.ResolvedAt), c.ClientMsgID)
}

// fmtEvent prints data as canonical JSON: a store may keep it as jsonb,
// reordering keys and spaces.
func fmtEvent(ev desk.ConvEvent) string {
	return fmt.Sprintf("{%s #%d %s actor=%s private=%t client_msg_id=%q at=%s data=%s}",
		ev.ConversationID, ev.Seq, ev.Type, ev.Actor, ev.Private, ev.ClientMsgID, fmtTime(ev.CreatedAt), canonJSON(ev.Data))
}

func canonJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Sprintf("invalid JSON %q", b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func fmtParticipant(p desk.Participant) string {
	return fmt.Sprintf("{%s name=%q active=%t last_read=%d joined=%s}",
		p.Principal(), p.Name, p.Active, p.LastReadSeq, fmtTime(p.JoinedAt))
}

func fmtEmployee(e desk.Employee) string {
	return fmt.Sprintf("{%s name=%q updated=%s}", e.ID, e.Name, fmtTime(e.UpdatedAt))
}

func fmtSummary(s desk.ConversationSummary) string {
	last := "nil"
	if m := s.LastMessage; m != nil {
		last = fmt.Sprintf("{%s %q by %s:%s client_msg_id=%q at=%s}",
			m.ID, m.Body, m.SenderType, m.SenderID, m.ClientMsgID, fmtTime(m.CreatedAt))
	}
	return fmt.Sprintf("%s employee_name=%q unread=%d last_message=%s", fmtConv(s.Conversation), s.EmployeeName, s.Unread, last)
}
