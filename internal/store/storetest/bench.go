package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// The benchmarks every store runs, so SQLite's and PostgreSQL's figures
// compare like for like. Each store's test file calls them with a fresh,
// empty store.

// BenchAppendMessages measures the write path the service's group commit
// takes: batches of 100 messages per Update, each reading its conversation
// for update, appending a message.created event and saving the
// conversation. One op is one message; appends/s is the rate. "checked"
// adds what a careful command does: a savepoint per command and a look-up
// of the client id for retries.
func BenchAppendMessages(b *testing.B, open func(b *testing.B) desk.ConversationStore) {
	for _, checked := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "checked"}[checked], func(b *testing.B) {
			benchmarkAppend(b, open(b), checked)
		})
	}
}

func benchmarkAppend(b *testing.B, db desk.ConversationStore, checked bool) {
	const batch, convs = 100, 50
	ctx := b.Context()
	ids := make([]string, convs)
	for i := range ids {
		ids[i] = fmt.Sprintf("cnv_%03d", i)
	}
	SeedConversations(b, db, ids, 0)
	body, _ := json.Marshal(desk.Message{Body: "打印机又卡纸了，能远程看一下吗？", SenderType: desk.RoleEmployee, SenderID: "emp_1"})
	emp := desk.Principal{Role: desk.RoleEmployee, ID: "emp_1"}

	appendOne := func(tx desk.ConversationTx, n int) error {
		c, err := tx.ConversationForUpdate(ctx, ids[n%convs])
		if err != nil {
			return err
		}
		clientID := fmt.Sprintf("m-%d", n)
		if checked {
			if _, err := tx.EventByClientMsgID(ctx, c.ID, emp, clientID); desk.ErrorCode(err) != desk.ENotFound {
				return fmt.Errorf("client id look-up: %v", err)
			}
		}
		c.Seq++
		c.UpdatedAt = time.Now()
		err = tx.AppendEvent(ctx, desk.ConvEvent{
			ConversationID: c.ID, Seq: c.Seq, Type: desk.EventMessage, Data: body,
			Actor: emp, ClientMsgID: clientID, CreatedAt: c.UpdatedAt,
		})
		if err != nil {
			return err
		}
		return tx.SaveConversation(ctx, c)
	}

	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n += batch {
		err := db.Update(ctx, func(tx desk.ConversationTx) error {
			for i := n; i < min(n+batch, b.N); i++ {
				var err error
				if checked {
					err = tx.Savepoint(ctx, func() error { return appendOne(tx, i) })
				} else {
					err = appendOne(tx, i)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}

// BenchListConversations lists pages of 50 among 5,000 conversations with
// 20 events each: the lists an agent's console loads. analyze, if not nil,
// runs after seeding (PostgreSQL's planner needs fresh statistics).
func BenchListConversations(b *testing.B, db desk.ConversationStore, analyze func() error) {
	ids := make([]string, 5000)
	for i := range ids {
		ids[i] = fmt.Sprintf("cnv_%04d", i)
	}
	SeedConversations(b, db, ids, 19)
	if analyze != nil {
		if err := analyze(); err != nil {
			b.Fatal(err)
		}
	}
	viewer := desk.Principal{Role: desk.RoleAgent, ID: "agt_01"}
	tests := []struct {
		name string
		q    desk.ConversationQuery
	}{
		{"all", desk.ConversationQuery{Viewer: viewer, Limit: 50}},
		{"queued", desk.ConversationQuery{Statuses: []desk.Status{desk.StatusQueued}, Viewer: viewer, Limit: 50}},
		{"open", desk.ConversationQuery{Statuses: []desk.Status{desk.StatusOpen}, Viewer: viewer, Limit: 50}},
		{"agent's", desk.ConversationQuery{ParticipantAgentID: "agt_01", Viewer: viewer, Limit: 50}},
		{"employee's", desk.ConversationQuery{EmployeeID: "emp_0007", Viewer: viewer, Limit: 50}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				list, err := db.ListConversations(b.Context(), tt.q)
				if err != nil || len(list) == 0 {
					b.Fatalf("ListConversations = %d rows, %v", len(list), err)
				}
			}
		})
	}
}

// SeedConversations creates conversations with messages more events
// each: a third queued, a third open with one of 50 agents as participant,
// a third resolved, spread over 100 employees.
func SeedConversations(b testing.TB, db desk.ConversationStore, ids []string, messages int) {
	ctx := b.Context()
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	data, _ := json.Marshal(desk.Message{Body: "hello", SenderType: desk.RoleEmployee})
	err := db.Update(ctx, func(tx desk.ConversationTx) error {
		for i, id := range ids {
			at := t0.Add(time.Duration(i) * time.Second)
			emp := fmt.Sprintf("emp_%04d", i%100)
			agent := fmt.Sprintf("agt_%02d", i%50)
			c := desk.Conversation{
				ID: id, EmployeeID: emp, Subject: "s", Category: "other", Seq: int64(messages + 1),
				CreatedAt: at, UpdatedAt: at,
			}
			switch i % 3 {
			case 0:
				c.Status, c.QueuedAt = desk.StatusQueued, &at
			case 1:
				c.Status, c.AssigneeID = desk.StatusOpen, agent
			default:
				c.Status, c.ResolvedAt = desk.StatusResolved, &at
			}
			errs := []error{
				tx.CreateConversation(ctx, c),
				tx.SaveEmployee(ctx, desk.Employee{ID: emp, Name: "E", UpdatedAt: at}),
				tx.SaveParticipant(ctx, id, desk.Participant{Role: desk.RoleEmployee, ID: emp, Active: true, JoinedAt: at}),
				tx.AppendEvent(ctx, desk.ConvEvent{ConversationID: id, Seq: 1, Type: desk.EventCreated, Data: []byte("{}"), CreatedAt: at}),
			}
			if c.AssigneeID != "" {
				errs = append(errs, tx.SaveParticipant(ctx, id, desk.Participant{Role: desk.RoleAgent, ID: agent, Active: true, LastReadSeq: 5, JoinedAt: at}))
			}
			for s := 2; s <= messages+1; s++ {
				errs = append(errs, tx.AppendEvent(ctx, desk.ConvEvent{
					ConversationID: id, Seq: int64(s), Type: desk.EventMessage, Data: data,
					Actor: desk.Principal{Role: desk.RoleEmployee, ID: emp}, CreatedAt: at,
				}))
			}
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
