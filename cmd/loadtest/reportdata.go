package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/sla"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

// "loadtest reportdata" writes a year of a desk's life straight into its
// database, as the desk itself would have stored it (conversations, their
// lifecycle and message events, first answers, service-level clocks,
// ratings), so the reports can be timed on that much data: 50,000
// requests and 1,000,000 messages by default. "loadtest reports" then
// asks a running desk for its reports and prints how long they took.

type reportDataConfig struct {
	db, databaseURL     string
	conversations, msgs int
	days, agents, seed  int
	start               time.Time
}

func parseReportDataConfig(args []string, stderr io.Writer) (reportDataConfig, error) {
	fs := flag.NewFlagSet("loadtest reportdata", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := reportDataConfig{}
	fs.StringVar(&c.db, "db", "", "the SQLite file to fill (the desk's --db)")
	fs.StringVar(&c.databaseURL, "database-url", "", "or the PostgreSQL database to fill (the desk's --database-url)")
	fs.IntVar(&c.conversations, "conversations", 50_000, "requests")
	fs.IntVar(&c.msgs, "messages", 1_000_000, "messages in them, both ways")
	fs.IntVar(&c.days, "days", 365, "over this many days, ending today")
	fs.IntVar(&c.agents, "agents", 30, "agents answering")
	fs.IntVar(&c.seed, "seed", 1, "random seed: the same seed writes the same desk")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if (c.db == "") == (c.databaseURL == "") {
		return c, fmt.Errorf("give one of --db and --database-url")
	}
	if c.conversations < 1 || c.msgs < 2*c.conversations {
		return c, fmt.Errorf("--messages must be at least twice --conversations")
	}
	c.start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -c.days)
	return c, nil
}

type reportStore interface {
	desk.ConversationStore
	desk.AgentStore
	SaveSLAPolicy(ctx context.Context, p sla.Policy) error
}

func runReportData(ctx context.Context, c reportDataConfig, stdout io.Writer) error {
	var db reportStore
	if c.db != "" {
		s, err := sqlite.Open(ctx, c.db)
		if err != nil {
			return err
		}
		defer s.Close()
		db = s
	} else {
		p, err := postgres.Open(ctx, c.databaseURL)
		if err != nil {
			return err
		}
		defer p.Close()
		db = p
	}
	for i := range c.agents {
		a := desk.Agent{ID: fmt.Sprintf("agt_rep%02d", i), Username: fmt.Sprintf("rep%02d", i), Name: fmt.Sprintf("坐席%02d", i), PasswordHash: "x"}
		if err := db.CreateAgent(ctx, a); err != nil && desk.ErrorCode(err) != desk.EConflict {
			return err
		}
	}
	policy := sla.Policy{ID: "sla_rep_normal", Name: "普通", Priority: "normal", FirstResponse: time.Hour, NextResponse: 2 * time.Hour, Resolution: 8 * time.Hour, WarnShare: 0.75, Escalations: []sla.Escalation{}}
	if err := db.SaveSLAPolicy(ctx, policy); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(c.seed), 42))
	began := time.Now()
	span := time.Duration(c.days) * 24 * time.Hour
	perConv := c.msgs / c.conversations
	written := 0
	const batch = 200
	for first := 0; first < c.conversations; first += batch {
		err := db.Update(ctx, func(tx desk.ConversationTx) error {
			for i := first; i < min(first+batch, c.conversations); i++ {
				n, err := writeConversation(ctx, tx, rng, c, i, c.start.Add(span/time.Duration(c.conversations)*time.Duration(i)), perConv, policy)
				if err != nil {
					return err
				}
				written += n
			}
			return nil
		})
		if err != nil {
			return err
		}
		if (first/batch)%50 == 0 {
			fmt.Fprintf(stdout, "%d conversations, %d messages, %v\n", min(first+batch, c.conversations), written, time.Since(began).Round(time.Second))
		}
	}
	fmt.Fprintf(stdout, "wrote %d conversations and %d messages over %d days (from %s) in %v\n",
		c.conversations, written, c.days, c.start.Format(time.DateOnly), time.Since(began).Round(time.Second))
	return nil
}

var reportCategories = []string{"account", "network", "hardware", "software", "other"}

// writeConversation stores one request's life: asked, claimed, a
// conversation both ways, usually resolved (now and then reopened and
// resolved again, or left open), often rated; it returns the messages.
func writeConversation(ctx context.Context, tx desk.ConversationTx, rng *rand.Rand, cfg reportDataConfig, i int, at time.Time, msgs int, policy sla.Policy) (int, error) {
	id := fmt.Sprintf("cv_rep%010d", i)
	emp := desk.Principal{Role: desk.RoleEmployee, ID: fmt.Sprintf("emp_rep%05d", i%5000)}
	agent := desk.Principal{Role: desk.RoleAgent, ID: fmt.Sprintf("agt_rep%02d", rng.IntN(cfg.agents))}
	c := desk.Conversation{ID: id, EmployeeID: emp.ID, Subject: "求助", Category: reportCategories[rng.IntN(len(reportCategories))],
		Status: desk.StatusQueued, CreatedAt: at, UpdatedAt: at, QueuedAt: &at, Priority: "normal", Type: "incident", Tags: []string{},
		Ref: fmt.Sprintf("IT-%d-%06d", at.Year(), i+1)}
	if err := tx.CreateConversation(ctx, c); err != nil {
		return 0, err
	}
	seq := int64(0)
	appendEv := func(typ desk.EventType, actor desk.Principal, when time.Time, data any) error {
		seq++
		raw, _ := json.Marshal(data)
		return tx.AppendEvent(ctx, desk.ConvEvent{ConversationID: id, Seq: seq, Type: typ, Data: raw, Actor: actor, CreatedAt: when})
	}
	message := func(actor desk.Principal, when time.Time) error {
		return appendEv(desk.EventMessage, actor, when, desk.Message{ID: fmt.Sprintf("%s:%d", id, seq+1), Body: "好的，请再试一次",
			SenderType: actor.Role, SenderID: actor.ID, CreatedAt: when})
	}
	if err := appendEv(desk.EventCreated, emp, at, map[string]string{"employee_id": emp.ID, "subject": c.Subject, "category": c.Category, "status": "queued"}); err != nil {
		return 0, err
	}
	if err := message(emp, at); err != nil {
		return 0, err
	}
	// Claimed within minutes to hours (a tail of slow ones), then an
	// exchange a few minutes apart.
	wait := time.Duration(rng.ExpFloat64()*25*float64(time.Minute)) + time.Minute
	now := at.Add(wait)
	if err := appendEv(desk.EventClaimed, agent, now, map[string]string{"agent_id": agent.ID}); err != nil {
		return 0, err
	}
	firstAnswer := now.Add(time.Minute)
	for m := 1; m < msgs; m++ {
		now = now.Add(time.Duration(1+rng.IntN(9)) * time.Minute)
		who := agent
		if m%2 == 0 {
			who = emp
		}
		if m == 1 {
			now = firstAnswer
		}
		if err := message(who, now); err != nil {
			return 0, err
		}
		if m == 1 {
			if err := tx.RecordFirstResponse(ctx, id, now, agent.ID); err != nil {
				return 0, err
			}
		}
	}
	c.Status, c.AssigneeID, c.QueuedAt = desk.StatusOpen, agent.ID, nil
	open := rng.IntN(100) < 2 // still open at the end
	resolvedAt := now.Add(time.Duration(5+rng.IntN(120)) * time.Minute)
	if !open {
		if err := appendEv(desk.EventResolved, agent, resolvedAt, map[string]string{"by": agent.ID}); err != nil {
			return 0, err
		}
		if rng.IntN(100) < 5 { // reopened, and resolved again the next day
			if err := appendEv(desk.EventReopened, emp, resolvedAt.Add(time.Hour), map[string]string{"by": emp.ID, "status": "open", "assignee_id": agent.ID}); err != nil {
				return 0, err
			}
			resolvedAt = resolvedAt.Add(24 * time.Hour)
			if err := appendEv(desk.EventResolved, agent, resolvedAt, map[string]string{"by": agent.ID}); err != nil {
				return 0, err
			}
		}
		c.Status, c.ResolvedAt = desk.StatusResolved, &resolvedAt
		if rng.IntN(100) < 35 {
			score := 5 - min(4, int(rng.ExpFloat64()))
			r := desk.Rating{ConversationID: id, ResolvedAt: resolvedAt, EmployeeID: emp.ID, AgentID: agent.ID, Score: score,
				CreatedAt: resolvedAt.Add(10 * time.Minute), UpdatedAt: resolvedAt.Add(10 * time.Minute)}
			if score <= 2 {
				r.Comment = "等了太久"
			}
			if err := tx.SaveRating(ctx, r); err != nil {
				return 0, err
			}
		}
	}
	c.Seq, c.UpdatedAt = seq, now
	if err := tx.SaveConversation(ctx, c); err != nil {
		return 0, err
	}
	if err := tx.SaveParticipant(ctx, id, desk.Participant{Role: desk.RoleAgent, ID: agent.ID, Active: true, JoinedAt: at.Add(wait)}); err != nil {
		return 0, err
	}
	// The clocks as the desk would have left them.
	clocks := sla.Clocks{}
	clocks.Apply(sla.Created, at, policy, true, alwaysOpen{})
	clocks.Apply(sla.AgentReplied, firstAnswer, policy, true, alwaysOpen{})
	if !open {
		clocks.Apply(sla.Resolved, resolvedAt, policy, true, alwaysOpen{})
	}
	for _, kind := range []string{sla.FirstResponse, sla.Resolution} {
		k := clocks[kind]
		raw, _ := json.Marshal(k)
		row := desk.SLAClock{Kind: kind, Data: raw, State: k.State, Breached: k.Breached}
		if k.State == sla.Running {
			row.DueAt = &k.DueAt
		}
		if err := tx.SaveSLAClock(ctx, id, row); err != nil {
			return 0, err
		}
	}
	return msgs, nil
}

// alwaysOpen counts calendar time, as calendar.Always does.
type alwaysOpen struct{}

func (alwaysOpen) Add(t time.Time, d time.Duration) (time.Time, error) { return t.Add(d), nil }
func (alwaysOpen) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return 0
	}
	return b.Sub(a)
}

// "loadtest reports": time the reports of a running desk.

type reportsConfig struct {
	url, key, from, to string
	n                  int
	filters            []string
}

func parseReportsConfig(args []string, stderr io.Writer) (reportsConfig, error) {
	fs := flag.NewFlagSet("loadtest reports", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := reportsConfig{}
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the desk")
	fs.StringVar(&c.key, "key", "", "the operator API key (the desk's --api-key)")
	fs.StringVar(&c.from, "from", "", "period start (date), default a year ago")
	fs.StringVar(&c.to, "to", "", "period end (date), default today")
	fs.IntVar(&c.n, "n", 20, "requests per report")
	err := fs.Parse(args)
	if c.from == "" {
		c.from = time.Now().AddDate(-1, 0, 0).Format(time.DateOnly)
	}
	if c.to == "" {
		c.to = time.Now().Format(time.DateOnly)
	}
	c.filters = []string{"", "&category=network", "&agent=agt_rep07", "&priority=normal"}
	return c, err
}

func runReports(ctx context.Context, c reportsConfig, stdout io.Writer) error {
	for _, f := range c.filters {
		var took []time.Duration
		created := 0
		for range c.n {
			req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/reports?from=%s&to=%s%s", strings.TrimRight(c.url, "/"), c.from, c.to, f), nil)
			req.Header.Set("X-API-Key", c.key)
			start := time.Now()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			var body struct{ Created int }
			err = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || err != nil {
				return fmt.Errorf("reports%s: %s %v", f, res.Status, err)
			}
			took = append(took, time.Since(start))
			created = body.Created
		}
		slices.Sort(took)
		name := f
		if name == "" {
			name = "(all)"
		}
		fmt.Fprintf(stdout, "report %-20s created %6d  n=%d  min %v  p50 %v  max %v\n", name, created, len(took),
			took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	}
	return nil
}
