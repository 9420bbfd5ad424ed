package conversation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

// faultBus records what is published, unless it is set to fail at once or
// to hang until the publisher gives up: the faults a Redis bus shows when
// Redis is down or paused.
type faultBus struct {
	mu   sync.Mutex
	mode string // "", "fail" or "hang"
	got  []desk.Event
}

func (b *faultBus) set(mode string) { b.mu.Lock(); b.mode = mode; b.mu.Unlock() }

func (b *faultBus) Publish(ctx context.Context, ev desk.Event) error {
	b.mu.Lock()
	mode := b.mode
	b.mu.Unlock()
	switch mode {
	case "fail":
		return desk.Errorf(desk.EUnavailable, "event bus unavailable")
	case "hang":
		<-ctx.Done()
		return desk.Wrap(desk.EUnavailable, ctx.Err(), "event bus unavailable")
	}
	b.mu.Lock()
	b.got = append(b.got, ev)
	b.mu.Unlock()
	return nil
}

// seqs returns the seqs published for conversation id, in order.
func (b *faultBus) seqs(id string) []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int64
	for _, ev := range b.got {
		if ev.ConversationID == id {
			out = append(out, ev.Seq)
		}
	}
	return out
}

// faultStore lets a test poison commands (their events fail to store with
// an error that is not the desk's) or hang every transaction.
type faultStore struct {
	store
	mu   sync.Mutex
	hang bool
	// employeeReads counts the writers' Employee look-ups.
	employeeReads atomic.Int64
	// lockedAhead counts the conversations batches asked the store to
	// lock ahead (PostgreSQL).
	lockedAhead atomic.Int64
}

func (s *faultStore) Update(ctx context.Context, fn func(tx desk.ConversationTx) error) error {
	s.mu.Lock()
	hang := s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return desk.Wrap(desk.EUnavailable, ctx.Err(), "database unavailable")
	}
	return s.store.Update(ctx, func(tx desk.ConversationTx) error { return fn(poisonTx{tx, s}) })
}

type poisonTx struct {
	desk.ConversationTx
	s *faultStore
}

func (t poisonTx) Employee(ctx context.Context, id string) (desk.Employee, error) {
	t.s.employeeReads.Add(1)
	return t.ConversationTx.Employee(ctx, id)
}

// LockAhead passes the writer's batch on to a store that locks ahead.
func (t poisonTx) LockAhead(ctx context.Context, hints []desk.LockHint) error {
	l, ok := t.ConversationTx.(interface {
		LockAhead(context.Context, []desk.LockHint) error
	})
	if !ok {
		return nil
	}
	t.s.lockedAhead.Add(int64(len(hints)))
	return l.LockAhead(ctx, hints)
}

func (t poisonTx) AppendEvent(ctx context.Context, ev desk.ConvEvent) error {
	if strings.Contains(string(ev.Data), "POISON") {
		return errors.New("poisoned write")
	}
	return t.ConversationTx.AppendEvent(ctx, ev)
}

type writerHarness struct {
	svc *conversation.Service
	db  *faultStore
	bus *faultBus
}

// writers runs fn on SQLite and PostgreSQL with a Service over a fault
// store and bus, with the outbox on.
func writers(t *testing.T, cfg conversation.Config, fn func(t *testing.T, w *writerHarness)) {
	run := func(t *testing.T, db store) {
		w := &writerHarness{db: &faultStore{store: db}, bus: &faultBus{}}
		cfg.Store, cfg.Agents, cfg.Bus, cfg.Outbox = w.db, db, w.bus, true
		w.svc = conversation.New(cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.svc.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		if err := db.CreateAgent(ctx, desk.Agent{ID: "a1", Username: "a1", Name: "Agent a1", PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
		fn(t, w)
	}
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		run(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		cfg.Writers = 4
		run(t, pgtest.Open(t))
	})
}

func (w *writerHarness) open(t *testing.T, n int) desk.Conversation {
	t.Helper()
	c, _, err := w.svc.Create(context.Background(), emp, conversation.NewConversation{
		Subject: "VPN", Body: "连不上", ClientMsgID: fmt.Sprint("c", n)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Claim(context.Background(), a1, c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

// sendAll sends n messages at once and returns their errors.
func (w *writerHarness) sendAll(ctx context.Context, id string, n int, body func(i int) string) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, _, errs[i] = w.svc.Send(ctx, emp, id, body(i), fmt.Sprint("m", i)) })
	}
	wg.Wait()
	return errs
}

// TestWriterIsNotHeldUpByABus: a bus that hangs costs callers at most the
// publish wait, once, not a timeout per event one after the other (20
// sends used to take 20 × the timeout).
func TestWriterIsNotHeldUpByABus(t *testing.T) {
	writers(t, conversation.Config{PublishWait: 200 * time.Millisecond}, func(t *testing.T, w *writerHarness) {
		c := w.open(t, 1)
		w.bus.set("hang")
		start := time.Now()
		for i, err := range w.sendAll(context.Background(), c.ID, 20, func(int) string { return "还在吗" }) {
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("20 sends against a hung bus took %v", elapsed)
		}
	})
}

// TestOutboxPublishesWhatFailed: events committed while the bus failed
// are published by the sweeper once it works, with nothing left behind.
func TestOutboxPublishesWhatFailed(t *testing.T) {
	writers(t, conversation.Config{PublishWait: 100 * time.Millisecond}, func(t *testing.T, w *writerHarness) {
		c := w.open(t, 1)
		before := len(w.bus.seqs(c.ID))
		w.bus.set("fail")
		for i, err := range w.sendAll(context.Background(), c.ID, 5, func(int) string { return "在吗" }) {
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if got := w.bus.seqs(c.ID); len(got) != before {
			t.Fatalf("published %v while the bus failed", got)
		}
		w.bus.set("")
		deadline := time.Now().Add(15 * time.Second)
		for {
			stored, err := w.db.Events(context.Background(), c.ID, 0, 100, true)
			if err != nil {
				t.Fatal(err)
			}
			got := w.bus.seqs(c.ID)
			if missing := missingSeqs(stored, got); len(missing) == 0 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("seqs %v never published (published %v)", missing, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// And the outbox is empty again.
		for time.Now().Before(deadline) {
			left, err := w.db.ClaimOutbox(context.Background(), time.Now().Add(time.Hour), time.Now(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("outbox entries left behind")
	})
}

func missingSeqs(stored []desk.ConvEvent, published []int64) []int64 {
	seen := map[int64]bool{}
	for _, s := range published {
		seen[s] = true
	}
	var out []int64
	for _, ev := range stored {
		if !seen[ev.Seq] {
			out = append(out, ev.Seq)
		}
	}
	return out
}

// TestPoisonedCommandFailsAlone: a command whose write fails for a reason
// of its own (not the database being away) fails alone; the others in its
// batch commit.
func TestPoisonedCommandFailsAlone(t *testing.T) {
	writers(t, conversation.Config{}, func(t *testing.T, w *writerHarness) {
		c := w.open(t, 1)
		for round := range 5 {
			errs := w.sendAll(context.Background(), c.ID, 30, func(i int) string {
				if i == 7 {
					return "POISON"
				}
				return fmt.Sprint("第", round, "轮")
			})
			for i, err := range errs {
				switch {
				case i == 7 && desk.ErrorCode(err) != desk.EInternal:
					t.Fatalf("poisoned send: %v, want %s", err, desk.EInternal)
				case i != 7 && err != nil:
					t.Fatalf("round %d: send %d failed beside a poisoned one: %v", round, i, err)
				}
			}
		}
		// What committed beside the poisoned sends is whole: every seq
		// once, in order, and nothing of theirs.
		evs, err := w.db.Events(context.Background(), c.ID, 0, 1000, true)
		if err != nil {
			t.Fatal(err)
		}
		messages := 0
		for i, ev := range evs {
			if ev.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d", i, ev.Seq)
			}
			if strings.Contains(string(ev.Data), "POISON") {
				t.Fatalf("a poisoned message was stored: %s", ev.Data)
			}
			if ev.Type == desk.EventMessage {
				messages++
			}
		}
		// The first, and 29 a round: later rounds retry the same client ids.
		if want := 1 + 29; messages != want {
			t.Errorf("%d messages stored, want %d", messages, want)
		}
	})
}

// TestBatchesLockAhead: on PostgreSQL the writer tells the store which
// conversations a batch's commands will load, so it can lock and read
// them in one round trip (the store's own tests count the round trips),
// and the messages of many conversations in one batch land whole.
func TestBatchesLockAhead(t *testing.T) {
	writers(t, conversation.Config{MaxOpen: 10}, func(t *testing.T, w *writerHarness) {
		convs := make([]desk.Conversation, 8)
		for i := range convs {
			convs[i] = w.open(t, i)
		}
		before := w.db.lockedAhead.Load()
		var wg sync.WaitGroup
		errs := make([][]error, len(convs))
		for i, c := range convs {
			wg.Go(func() { errs[i] = w.sendAll(context.Background(), c.ID, 20, func(int) string { return "在吗" }) })
		}
		wg.Wait()
		for i := range errs {
			for j, err := range errs[i] {
				if err != nil {
					t.Fatalf("conversation %d, send %d: %v", i, j, err)
				}
			}
		}
		for _, c := range convs {
			evs, err := w.db.Events(context.Background(), c.ID, 0, 1000, true)
			if err != nil {
				t.Fatal(err)
			}
			for i, ev := range evs {
				if ev.Seq != int64(i+1) {
					t.Fatalf("%s: event %d has seq %d", c.ID, i, ev.Seq)
				}
			}
			// created, the first message, claimed, 20 messages
			if n := len(evs); n < 23 {
				t.Errorf("%s: %d events, want at least 23", c.ID, n)
			}
		}
		locked := w.db.lockedAhead.Load() - before
		if strings.HasSuffix(t.Name(), "postgres") && locked < int64(len(convs)*20) {
			t.Errorf("%d conversations locked ahead for %d sends, want one per send", locked, len(convs)*20)
		}
	})
}

// TestRealBadBytesFailAlone: PostgreSQL refuses a NUL byte (SQLSTATE
// 22021); the sends committed beside it do not fail with it.
func TestRealBadBytesFailAlone(t *testing.T) {
	w := &writerHarness{}
	db := pgtest.Open(t)
	w.db, w.bus = &faultStore{store: db}, &faultBus{}
	w.svc = conversation.New(conversation.Config{Store: w.db, Agents: db, Bus: w.bus})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := db.CreateAgent(ctx, desk.Agent{ID: "a1", Username: "a1", Name: "Agent a1", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	c := w.open(t, 1)
	var wg sync.WaitGroup
	var bad error
	var badID error
	wg.Go(func() { bad = w.svc.RememberEmployee(ctx, "x", "bad\x00name") })
	wg.Go(func() { _, _, badID = w.svc.Send(ctx, emp, "cv\x00bad", "hi", "k") })
	errs := w.sendAll(ctx, c.ID, 30, func(int) string { return "正常的消息" })
	wg.Wait()
	if bad == nil {
		t.Fatal("a NUL byte was stored")
	}
	if badID == nil {
		t.Fatal("a message was sent to a conversation id with a NUL byte")
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("send %d failed beside a bad one: %v", i, err)
		}
	}
}

// TestCallerHangingUpFailsNobodyElse: callers whose context ends while
// their command waits or runs do not cancel the batch they share.
func TestCallerHangingUpFailsNobodyElse(t *testing.T) {
	writers(t, conversation.Config{}, func(t *testing.T, w *writerHarness) {
		c := w.open(t, 1)
		for round := range 5 {
			var wg sync.WaitGroup
			for i := range 20 {
				ctx, cancel := context.WithCancel(context.Background())
				wg.Go(func() {
					w.svc.Send(ctx, emp, c.ID, "我先走了", fmt.Sprint("gone-", round, "-", i))
				})
				go cancel()
			}
			errs := w.sendAll(context.Background(), c.ID, 20, func(int) string { return "我还在" })
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d: send %d failed: %v", round, i, err)
				}
			}
		}
	})
}

// TestHungStoreIsBounded: a database that hangs answers callers within
// the commit timeout (a few attempts), and a caller's own deadline ends its
// wait sooner.
func TestHungStoreIsBounded(t *testing.T) {
	writers(t, conversation.Config{CommitTimeout: 500 * time.Millisecond}, func(t *testing.T, w *writerHarness) {
		c := w.open(t, 1)
		w.db.mu.Lock()
		w.db.hang = true
		w.db.mu.Unlock()
		start := time.Now()
		_, _, err := w.svc.Send(context.Background(), emp, c.ID, "有人吗", "h1")
		if desk.ErrorCode(err) != desk.EUnavailable {
			t.Fatalf("send to a hung store: %v, want %s", err, desk.EUnavailable)
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("answered after %v", elapsed)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _, err = w.svc.Send(ctx, emp, c.ID, "有人吗", "h2")
		if desk.ErrorCode(err) != desk.EUnavailable {
			t.Fatalf("send with a deadline: %v, want %s", err, desk.EUnavailable)
		}
		w.db.mu.Lock()
		w.db.hang = false
		w.db.mu.Unlock()
	})
}

// TestSenderNameComesWithParticipants: a message names its sender from the
// participants the writer has already read, named or not, instead of
// reading the employee again (a round trip per message on PostgreSQL).
func TestSenderNameComesWithParticipants(t *testing.T) {
	writers(t, conversation.Config{}, func(t *testing.T, w *writerHarness) {
		c := w.open(t, 1)
		ctx := context.Background()
		send := func(clientMsgID string) desk.Message {
			t.Helper()
			ev, _, err := w.svc.Send(ctx, emp, c.ID, "还是连不上", clientMsgID)
			if err != nil {
				t.Fatal(err)
			}
			var m desk.Message
			if err := json.Unmarshal(ev.Data, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		w.db.employeeReads.Store(0)
		if m := send("n1"); m.SenderName != "" {
			t.Errorf("unnamed employee's message: sender_name %q", m.SenderName)
		}
		if err := w.svc.RememberEmployee(ctx, emp.ID, "张三"); err != nil {
			t.Fatal(err)
		}
		if m := send("n2"); m.SenderName != "张三" {
			t.Errorf("named employee's message: sender_name %q, want 张三", m.SenderName)
		}
		if n := w.db.employeeReads.Load(); n != 0 {
			t.Errorf("%d employee reads for two messages, want 0", n)
		}
	})
}
