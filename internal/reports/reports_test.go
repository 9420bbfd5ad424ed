package reports_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/reports"
	"github.com/servicedesk/servicedesk/internal/sla"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

type store interface {
	desk.ConversationStore
	desk.AgentStore
	reports.Store
	sla.Store
	conversation.SLAStore
	audit.Store
	Teams(ctx context.Context) ([]desk.Team, error)
	SaveTeam(ctx context.Context, t desk.Team) error
}

func stores(t *testing.T, fn func(t *testing.T, db store)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	t.Run("postgres", func(t *testing.T) { fn(t, pgtest.Open(t)) })
}

var (
	cst = time.FixedZone("CST", 8*3600)
	emp = desk.Principal{Role: desk.RoleEmployee, ID: "e1"}
	a1  = desk.Principal{Role: desk.RoleAgent, ID: "a1"}
	a2  = desk.Principal{Role: desk.RoleAgent, ID: "a2"}
	a3  = desk.Principal{Role: desk.RoleAgent, ID: "a3"}
)

// TestFiguresByHand: a small desk's two days, lived through the
// conversation service, and every figure of the report worked out by hand.
func TestFiguresByHand(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		for _, a := range []desk.Agent{{ID: "a1", Username: "a1", Name: "王工"}, {ID: "a2", Username: "a2", Name: "李工"}, {ID: "a3", Username: "a3", Name: "主管", Role: desk.AgentRoleAdmin}} {
			a.PasswordHash = "x"
			if err := db.CreateAgent(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.SaveTeam(ctx, desk.Team{ID: "tm", Name: "桌面组", Routing: desk.RoutingManual, Capacity: 5, LeadID: "a2"}); err != nil {
			t.Fatal(err)
		}
		policies := sla.NewService(db, db, audit.New(db, nil), nil)
		if _, err := policies.Save(ctx, a3, sla.Policy{Name: "普通", Priority: "normal", FirstResponse: time.Hour, Resolution: 4 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		var clock atomic.Int64
		at := func(s string) {
			tm, err := time.ParseInLocation("2006-01-02 15:04", s, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			clock.Store(tm.UnixNano())
		}
		svc := conversation.New(conversation.Config{Store: db, Agents: db, Bus: bus.NewMemory(func(desk.Event) {}),
			Policies: policies, SLAStore: db, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		create := func(when, subject, category string) string {
			at(when)
			c, _, err := svc.Create(ctx, emp, conversation.NewConversation{Subject: subject, Category: category, Body: "求助"})
			must(err)
			return c.ID
		}
		send := func(when string, who desk.Principal, id, body string) {
			at(when)
			_, _, err := svc.Send(ctx, who, id, body, "")
			must(err)
		}
		resolve := func(when string, who desk.Principal, id string) {
			at(when)
			_, err := svc.Resolve(ctx, who, id)
			must(err)
		}

		d := create("2026-12-06 01:00", "旧的", "hardware") // before the period, still open
		_ = d
		a := create("2026-12-07 01:00", "邮箱", "account")
		at("2026-12-07 01:20")
		_, err := svc.Claim(ctx, a1, a)
		must(err)
		send("2026-12-07 01:30", a1, a, "请重置密码")
		resolve("2026-12-07 03:00", a1, a)
		at("2026-12-07 03:10")
		_, err = svc.Rate(ctx, emp, a, 4, "不错")
		must(err)

		b := create("2026-12-07 02:00", "VPN", "network")
		at("2026-12-07 02:30")
		_, err = svc.Claim(ctx, a2, b)
		must(err)
		send("2026-12-07 04:00", a2, b, "请重装客户端")
		resolve("2026-12-07 05:00", a2, b)
		send("2026-12-07 06:00", emp, b, "又不行了") // reopened
		send("2026-12-07 06:30", a2, b, "我远程看看")
		at("2026-12-07 07:00")
		_, err = svc.Pend(ctx, a2, b) // pending and back: not a reopening
		must(err)
		send("2026-12-07 08:00", emp, b, "好的")
		resolve("2026-12-08 02:00", a2, b)
		at("2026-12-08 02:05")
		_, err = svc.Rate(ctx, emp, b, 2, "太慢")
		must(err)

		c := create("2026-12-08 03:00", "打印机", "hardware") // unanswered
		_ = c

		rs := reports.NewService(db, db, db, func() (*time.Location, reports.WorkingTime) { return cst, nil })
		from := time.Date(2026, 12, 7, 0, 0, 0, 0, cst)
		f := reports.Filter{From: from, To: from.AddDate(0, 0, 2)}
		if _, err := rs.Report(ctx, a1, false, f); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("a plain agent read a report: %v", err)
		}
		if _, err := rs.Report(ctx, a2, false, f); err != nil {
			t.Errorf("a team lead cannot read reports: %v", err)
		}
		r, err := rs.Report(ctx, a3, false, f)
		must(err)
		check := func(what string, got, want any) {
			t.Helper()
			if got != want {
				t.Errorf("%s = %v, want %v", what, got, want)
			}
		}
		check("created", r.Created, 3)
		check("resolved", r.Resolved, 3)
		check("reopened", r.Reopened, 1)
		check("withdrawn", r.Withdrawn, 0)
		if len(r.Days) != 2 {
			t.Fatalf("days %+v", r.Days)
		}
		check("day 1", r.Days[0], reports.Day{Date: "2026-12-07", Created: 2, Resolved: 2, Reopened: 1, Backlog: 2})
		check("day 2", r.Days[1], reports.Day{Date: "2026-12-08", Created: 1, Resolved: 1, Backlog: 2})
		check("first response", r.FirstResponse, reports.Times{Count: 2, Median: 1800, P90: 7200})
		check("unanswered", r.Unanswered, 1)
		check("resolution", r.Resolution, reports.Times{Count: 2, Median: 7200, P90: 86400})
		check("sla first response", r.SLA[0], reports.Attainment{Kind: "first_response", Met: 1, Breached: 1, Rate: 0.5})
		check("sla resolution", r.SLA[2], reports.Attainment{Kind: "resolution", Met: 1, Breached: 1, Rate: 0.5})
		s := r.Satisfaction
		check("ratings", s.Count, 2)
		check("average", s.Average, 3.0)
		check("scores", s.Scores, [5]int{0, 1, 0, 1, 0})
		check("response rate", s.ResponseRate, 0.67)
		if len(s.Comments) != 2 || s.Comments[0].Comment != "太慢" {
			t.Errorf("comments %+v", s.Comments)
		}
		if len(r.Agents) != 2 {
			t.Fatalf("agents %+v", r.Agents)
		}
		check("李工", r.Agents[0], reports.AgentRow{AgentID: "a2", Name: "李工", Handled: 2, FirstResponses: 1, MedianResponse: 7200, Ratings: 1, CSAT: 2})
		check("王工", r.Agents[1], reports.AgentRow{AgentID: "a1", Name: "王工", Handled: 1, FirstResponses: 1, MedianResponse: 1800, Ratings: 1, CSAT: 4})

		// Filters: one agent's, one category's.
		r, err = rs.Report(ctx, a3, false, reports.Filter{From: f.From, To: f.To, AgentID: "a1"})
		must(err)
		check("a1's created", r.Created, 1)
		check("a1's backlog", r.Days[1].Backlog, 0)
		r, err = rs.Report(ctx, a3, false, reports.Filter{From: f.From, To: f.To, Category: "hardware"})
		must(err)
		check("hardware created", r.Created, 1)
		check("hardware backlog", r.Days[1].Backlog, 2)
		if _, err := rs.Report(ctx, a3, false, reports.Filter{From: f.To, To: f.From}); desk.ErrorCode(err) != desk.EInvalid {
			t.Errorf("a backwards period: %v", err)
		}

		// The one pre-aggregated fact, each conversation's first answer,
		// recomputed from its events.
		convs, err := db.ReportConversations(ctx, reports.Filter{From: from.AddDate(0, 0, -7), To: f.To})
		must(err)
		for _, c := range convs {
			evs, err := db.Events(ctx, c.ID, 0, 500, true)
			must(err)
			var first *time.Time
			responder := ""
			for _, ev := range evs {
				if ev.Type == desk.EventMessage && ev.Actor.Role == desk.RoleAgent {
					first, responder = &ev.CreatedAt, ev.Actor.ID
					break
				}
			}
			if (first == nil) != (c.FirstResponseAt == nil) || (first != nil && (!first.Equal(*c.FirstResponseAt) || responder != c.FirstResponder)) {
				t.Errorf("%s: first response %v by %q kept, %v by %q in the events", c.ID, c.FirstResponseAt, c.FirstResponder, first, responder)
			}
		}
	})
}
