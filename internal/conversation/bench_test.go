package conversation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

// nopBus takes every event and does nothing with it: the benchmark
// measures the writers, not delivery.
type nopBus struct{}

func (nopBus) Publish(context.Context, desk.Event) error { return nil }

// BenchmarkSend is `loadtest messages` without the network: employees
// send into 1,000 claimed conversations, 1,000 sends in flight at once, so
// the writers batch as they do under load. ns/op is the time per message
// at saturation; it shows what a change to the write path is worth
// without the noise of sockets and the load tool.
func BenchmarkSend(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "desk.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		benchSend(b, db, conversation.Config{})
	})
	b.Run("postgres", func(b *testing.B) {
		benchSend(b, pgtest.Open(b), conversation.Config{Writers: 4})
	})
}

func benchSend(b *testing.B, db store, cfg conversation.Config) {
	const convs = 1000
	cfg.Store, cfg.Agents, cfg.Bus = db, db, nopBus{}
	svc := conversation.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	if err := db.CreateAgent(ctx, desk.Agent{ID: "a1", Username: "a1", Name: "Agent a1", PasswordHash: "x"}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, convs)
	emps := make([]desk.Principal, convs)
	for i := range ids {
		emps[i] = desk.Principal{Role: desk.RoleEmployee, ID: fmt.Sprint("bench-emp-", i)}
		// Named, as loadtest messages' mock logins name them.
		if err := svc.RememberEmployee(ctx, emps[i].ID, fmt.Sprint("LT ", i)); err != nil {
			b.Fatal(err)
		}
		c, _, err := svc.Create(ctx, emps[i], conversation.NewConversation{Subject: "VPN", Body: "连不上", ClientMsgID: "c"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Claim(ctx, a1, c.ID); err != nil {
			b.Fatal(err)
		}
		ids[i] = c.ID
	}
	var next atomic.Int64
	b.SetParallelism(convs / 2) // × GOMAXPROCS goroutines: about one per conversation
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			i := int(n % convs)
			if _, _, err := svc.Send(ctx, emps[i], ids[i], "打印机又卡纸了，能远程看一下吗？", fmt.Sprint("m", n)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
