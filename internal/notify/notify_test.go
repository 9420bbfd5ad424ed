package notify

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/wecom"
	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

type store interface {
	Store
	desk.ConversationStore
	desk.AgentStore
	BindAgentWeCom(ctx context.Context, agentID, userID string) error
	WeComAgentIDs(ctx context.Context) ([]string, error)
}

// clock is the desk's and the sender's time, moved by the test.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// conns stands in for the hub's count of a person's live connections.
type conns struct{ n atomic.Int32 }

func (c *conns) UserConns(desk.Principal) int { return int(c.n.Load()) }

type harness struct {
	db    store
	desks *conversation.Service
	fake  *wecomfake.Server
	cards *wecom.Client
	clock *clock
	conns *conns
}

const delay = time.Minute

func stores(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, newHarness(t, db))
	})
	t.Run("postgres", func(t *testing.T) { fn(t, newHarness(t, pgtest.Open(t))) })
}

func newHarness(t *testing.T, db store) *harness {
	h := &harness{db: db, clock: &clock{}, conns: &conns{}}
	h.fake = wecomfake.Start(wecomfake.DemoOptions())
	t.Cleanup(h.fake.Close)
	var err error
	h.cards, err = wecom.New(wecom.Config{CorpID: wecomfake.DemoCorpID, AgentID: wecomfake.DemoAgentID,
		Secret: wecomfake.DemoSecret, APIBase: h.fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	h.desks = conversation.New(conversation.Config{Store: db, Agents: db, Bus: bus.NewMemory(func(desk.Event) {}),
		NotifyDelay: delay, Reach: db, Now: h.clock.now, MaxOpen: 100})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.desks.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for _, a := range []desk.Agent{{ID: "a1", Username: "a1", Name: "王工"}, {ID: "a2", Username: "a2", Name: "李四"}} {
		a.PasswordHash = "x"
		if err := db.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.BindAgentWeCom(ctx, "a2", "lisi"); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) sender(opts ...func(*Config)) *Sender {
	cfg := Config{Store: h.db, Cards: h.cards, Conns: h.conns, PublicURL: "https://desk.example.com", Now: h.clock.now}
	for _, o := range opts {
		o(&cfg)
	}
	return New(cfg)
}

var a1 = desk.Principal{Role: desk.RoleAgent, ID: "a1"}

// open starts employee's conversation and has a1 claim it.
func (h *harness) open(t *testing.T, employee string) desk.Conversation {
	t.Helper()
	emp := desk.Principal{Role: desk.RoleEmployee, ID: employee}
	c, _, err := h.desks.Create(context.Background(), emp, conversation.NewConversation{Subject: "VPN 连不上", Body: "在家连不上", ClientMsgID: fmt.Sprint("c-", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.desks.Claim(context.Background(), a1, c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) reply(t *testing.T, id, body string) desk.ConvEvent {
	t.Helper()
	ev, _, err := h.desks.Send(context.Background(), a1, id, body, "")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestAMissedReplyIsOneCard: a claim and two replies the employee has not
// seen make one card when it falls due, and none before.
func TestAMissedReplyIsOneCard(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		c := h.open(t, "zhangsan")
		h.reply(t, c.ID, "请重启电脑")
		h.reply(t, c.ID, "重启后再试一下 VPN")
		s := h.sender()
		if n := s.Sweep(context.Background()); n != 0 || h.fake.MessagesTo("zhangsan") != 0 {
			t.Fatalf("a card before it was due: %d", n)
		}
		h.clock.advance(delay + time.Second)
		if n := s.Sweep(context.Background()); n != 1 {
			t.Fatalf("sent %d cards, want 1", n)
		}
		msgs := h.fake.Messages()
		if len(msgs) != 1 || msgs[0].ToUser != "zhangsan" || msgs[0].MsgType != "textcard" || msgs[0].EnableDuplicateCheck != 1 ||
			!strings.Contains(msgs[0].URL, "https://desk.example.com/auth/wecom/h5?next=%2Fc%2F"+c.ID) {
			t.Fatalf("messages %+v", msgs)
		}
		if n := s.Sweep(context.Background()); n != 0 {
			t.Fatalf("sent again: %d", n)
		}
	})
}

// TestNoCardForWhatWasSeen: an employee who read the reply, or who has the
// page open, gets no card.
func TestNoCardForWhatWasSeen(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		c := h.open(t, "zhangsan")
		ev := h.reply(t, c.ID, "请重启电脑")
		if _, err := h.desks.Read(context.Background(), desk.Principal{Role: desk.RoleEmployee, ID: "zhangsan"}, c.ID, ev.Seq); err != nil {
			t.Fatal(err)
		}
		c2 := h.open(t, "wangwu")
		h.reply(t, c2.ID, "收到")
		h.conns.n.Store(1) // wangwu (and everyone) has a socket here
		h.clock.advance(delay + time.Second)
		if n := h.sender().Sweep(context.Background()); n != 0 {
			t.Fatalf("sent %d cards", n)
		}
		if len(h.fake.Messages()) != 0 {
			t.Fatalf("messages %+v", h.fake.Messages())
		}
	})
}

// TestAgentsHearOfInvitations: an invited agent bound to a WeCom member
// gets a card; one who is not bound is skipped.
func TestAgentsHearOfInvitations(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		c := h.open(t, "zhangsan")
		if _, err := h.desks.Invite(context.Background(), a1, c.ID, "a2"); err != nil {
			t.Fatal(err)
		}
		h.clock.advance(delay + time.Second)
		h.sender().Sweep(context.Background())
		if h.fake.MessagesTo("lisi") != 1 {
			t.Fatalf("lisi got %d cards", h.fake.MessagesTo("lisi"))
		}
		if m := h.fake.Messages(); !strings.Contains(m[len(m)-1].URL, "/auth/wecom/agent?next=") && !strings.Contains(m[0].URL, "/auth/wecom/agent?next=") {
			t.Fatalf("agent card links %+v", m)
		}
	})
}

// TestRecipientGoneStopsCards: 81013 marks the person, and nothing more is
// sent to them.
func TestRecipientGoneStopsCards(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		c := h.open(t, "zhouba") // left the company
		h.reply(t, c.ID, "在吗")
		h.clock.advance(delay + time.Second)
		s := h.sender()
		s.Sweep(context.Background())
		blocked, err := h.db.NotificationsBlocked(context.Background(), desk.Principal{Role: desk.RoleEmployee, ID: "zhouba"})
		if err != nil || !blocked {
			t.Fatalf("blocked = %v %v", blocked, err)
		}
		calls := h.fake.Calls("/cgi-bin/message/send")
		h.reply(t, c.ID, "还在吗")
		h.clock.advance(delay + time.Second)
		s.Sweep(context.Background())
		if h.fake.Calls("/cgi-bin/message/send") != calls {
			t.Fatal("sent again to someone WeCom no longer reaches")
		}
	})
}

// TestCardsPerMinuteAreCapped: however many conversations, one member
// gets at most PerMinute cards a minute; the rest wait.
func TestCardsPerMinuteAreCapped(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		for range 8 {
			c := h.open(t, "zhaoliu")
			h.reply(t, c.ID, "请看一下")
		}
		h.clock.advance(delay + time.Second)
		s := h.sender(func(c *Config) { c.PerMinute = 5 })
		if n := s.Sweep(context.Background()); n != 5 {
			t.Fatalf("first minute: %d cards, want 5", n)
		}
		if n := s.Sweep(context.Background()); n != 0 {
			t.Fatalf("more in the same minute: %d", n)
		}
	})
}

// TestEachCardOnceAcrossNodesAndACrash: two nodes sweeping at once send
// each card once; a node that dies after sending, before recording it,
// leaves the card to be claimed again, and WeCom's duplicate check keeps
// the member from seeing it twice.
func TestEachCardOnceAcrossNodesAndACrash(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		for _, who := range []string{"zhangsan", "wangwu", "zhaoliu", "lisi"} {
			c := h.open(t, who)
			h.reply(t, c.ID, "请看一下")
		}
		h.clock.advance(delay + time.Second)
		a, b := h.sender(), h.sender()
		var wg sync.WaitGroup
		var sent atomic.Int32
		for _, s := range []*Sender{a, b} {
			wg.Go(func() { sent.Add(int32(s.Sweep(context.Background()))) })
		}
		wg.Wait()
		if sent.Load() != 4 || len(h.fake.Messages()) != 4 {
			t.Fatalf("two nodes sent %d cards (%d delivered), want 4", sent.Load(), len(h.fake.Messages()))
		}

		// A crash: claimed and sent, never recorded.
		c := h.open(t, "zhangsan")
		h.reply(t, c.ID, "再看一下")
		h.clock.advance(delay + time.Second)
		crashed := h.sender(func(c *Config) { c.Lease = 50 * time.Millisecond })
		claimed, err := h.db.ClaimNotifications(context.Background(), h.clock.now(), time.Now().Add(50*time.Millisecond), 10)
		var due []desk.Notification // the employee's (agents were owed one for the queue, moot since the claim)
		for _, n := range claimed {
			if n.To.Role == desk.RoleEmployee {
				due = append(due, n)
			}
		}
		if err != nil || len(due) != 1 {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		conv, _ := h.db.Conversation(context.Background(), due[0].ConversationID)
		if _, err := h.cards.SendTextCard(context.Background(), crashed.card(due[0], conv, "zhangsan")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the lease runs out
		h.sender().Sweep(context.Background())
		if got := h.fake.MessagesTo("zhangsan"); got != 2 || h.fake.Deduplicated() != 1 {
			t.Fatalf("zhangsan got %d cards (%d deduplicated), want 2 (the first conversation's and this one, once)", got, h.fake.Deduplicated())
		}
	})
}

// onlineAgents stands in for the presence tracker: n agents online.
type onlineAgents struct{ n atomic.Int32 }

func (o *onlineAgents) Status(context.Context, string) (desk.PresenceStatus, error) {
	return desk.PresenceOffline, nil
}
func (o *onlineAgents) OnlineCount() int { return int(o.n.Load()) }

// TestAgentsHearOfAQueueNobodyWatches: a conversation queued while no agent
// is online is a card to every agent bound to WeCom (lisi; 王工 is not
// bound), unless by the time it is due it was claimed or an agent came
// online.
func TestAgentsHearOfAQueueNobodyWatches(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		create := func(employee string) desk.Conversation {
			c, _, err := h.desks.Create(ctx, desk.Principal{Role: desk.RoleEmployee, ID: employee},
				conversation.NewConversation{Subject: "打印机脱机", Body: "三楼打印机", ClientMsgID: "q-" + employee})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		online := &onlineAgents{}
		sender := h.sender(func(c *Config) { c.Presence = online })

		waiting := create("zhangsan")
		h.clock.advance(delay + time.Second)
		sender.Sweep(ctx)
		if n := h.fake.MessagesTo("lisi"); n != 1 {
			t.Fatalf("lisi got %d cards for a conversation queued with nobody online, want 1", n)
		}
		if m := h.fake.Messages(); !strings.Contains(m[len(m)-1].Description, "排队") || !strings.Contains(m[len(m)-1].URL, "c%2F"+waiting.ID) {
			t.Errorf("the queue card: %+v", m[len(m)-1])
		}

		claimed := create("lisi2")
		if _, err := h.desks.Claim(ctx, a1, claimed.ID); err != nil {
			t.Fatal(err)
		}
		create("wangwu")
		online.n.Store(1) // someone came online before the cards fell due
		h.clock.advance(delay + time.Second)
		sender.Sweep(ctx)
		if n := h.fake.MessagesTo("lisi"); n != 1 {
			t.Errorf("lisi got %d cards in all; a claimed conversation or one an online agent sees is no card", n)
		}
	})
}
