package sla_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/calendar"
	"github.com/servicedesk/servicedesk/internal/sla"
)

var cst = time.FixedZone("CST", 8*3600)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
	if err != nil {
		panic(err)
	}
	return t
}

func desk(t *testing.T) *calendar.Calendar {
	t.Helper()
	c, err := calendar.New(calendar.Config{
		TimeZone: "Asia/Shanghai", Week: "mon-fri 09:00-12:00,13:00-18:00",
		Holidays: []calendar.Date{{Year: 2026, Month: 12, Day: 25}},
		Workdays: []calendar.Date{{Year: 2026, Month: 12, Day: 26}}, // a Saturday made a workday (调休)
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDueTimes: when a target started at a moment runs out, counted in
// business hours (lunch, evenings, weekends, a holiday, a make-up
// Saturday, a start in the small hours UTC that is morning in Shanghai) or
// in calendar time.
func TestDueTimes(t *testing.T) {
	bh := desk(t)
	for _, tc := range []struct {
		name   string
		tm     sla.Time
		start  time.Time
		target time.Duration
		want   time.Time
	}{
		{"within the morning", bh, at("2026-12-07 09:30"), time.Hour, at("2026-12-07 10:30")},
		{"across lunch", bh, at("2026-12-07 11:30"), time.Hour, at("2026-12-07 13:30")},
		{"across the night", bh, at("2026-12-07 17:30"), time.Hour, at("2026-12-08 09:30")},
		{"asked on a Saturday evening", bh, at("2026-12-05 20:00"), 30 * time.Minute, at("2026-12-07 09:30")},
		{"Friday afternoon over the weekend", bh, at("2026-12-11 17:00"), 4 * time.Hour, at("2026-12-14 12:00")},
		{"over the Christmas holiday onto a make-up Saturday", bh, at("2026-12-24 17:00"), 2 * time.Hour, at("2026-12-26 10:00")},
		{"before opening", bh, at("2026-12-07 07:00"), 8 * time.Hour, at("2026-12-07 18:00")},
		{"a UTC midnight is 08:00 in Shanghai", bh, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), time.Hour, at("2026-12-07 10:00")},
		{"calendar time ignores hours", calendar.Always(), at("2026-12-05 20:00"), 30 * time.Minute, at("2026-12-05 20:30")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sla.Policy{ID: "p", Priority: "normal", FirstResponse: tc.target}
			cs := sla.Clocks{}
			cs.Apply(sla.Created, tc.start, p, true, tc.tm)
			if got := cs[sla.FirstResponse].DueAt; !got.Equal(tc.want) {
				t.Errorf("due %s, want %s", got.In(cst).Format(time.DateTime), tc.want.Format(time.DateTime))
			}
		})
	}
}

// TestClockLife: each happening's effect, with business hours and a
// pause while pending.
func TestClockLife(t *testing.T) {
	bh := desk(t)
	p := sla.Policy{ID: "p", Priority: "high", FirstResponse: time.Hour, NextResponse: 2 * time.Hour, Resolution: 8 * time.Hour, BusinessHours: true}
	cs := sla.Clocks{}
	step := func(h sla.Happening, when string, want ...string) {
		t.Helper()
		if got := cs.Apply(h, at(when), p, true, bh); !slices.Equal(got, want) {
			t.Fatalf("at %s: changed %v, want %v", when, got, want)
		}
	}
	state := func(kind, want string, breached bool) {
		t.Helper()
		if c := cs[kind]; c == nil || c.State != want || c.Breached != breached {
			t.Fatalf("%s: %+v, want %s (breached %v)", kind, c, want, breached)
		}
	}
	step(sla.Created, "2026-12-07 09:00", sla.FirstResponse, sla.Resolution)
	step(sla.EmployeeWrote, "2026-12-07 09:10") // still owed the first answer
	if got := cs.Breach(at("2026-12-07 09:59")); len(got) != 0 {
		t.Fatalf("breached early: %v", got)
	}
	if got := cs.Breach(at("2026-12-07 10:00")); !slices.Equal(got, []string{sla.FirstResponse}) {
		t.Fatalf("breach at the due time: %v", got)
	}
	if got := cs.Breach(at("2026-12-07 10:05")); len(got) != 0 {
		t.Fatalf("breached twice: %v", got)
	}
	step(sla.AgentReplied, "2026-12-07 10:20", sla.FirstResponse)
	state(sla.FirstResponse, sla.Met, true)
	step(sla.EmployeeWrote, "2026-12-07 11:00", sla.NextResponse)
	step(sla.WentPending, "2026-12-07 11:30", sla.NextResponse, sla.Resolution) // pending: both stand still
	state(sla.NextResponse, sla.Paused, false)
	if !cs.NextDue().IsZero() {
		t.Fatalf("a paused desk still has a due time: %s", cs.NextDue())
	}
	step(sla.Reopened, "2026-12-08 09:00", sla.NextResponse, sla.Resolution)
	// Next response used 30 min before the pause: 1.5 h left from 09:00.
	if got := cs[sla.NextResponse].DueAt; !got.Equal(at("2026-12-08 10:30")) {
		t.Fatalf("next response due %s after the pause", got.In(cst))
	}
	// Resolution used 09:00-11:30 (2.5 h): 5.5 h left from 09:00, lunch
	// skipped.
	if got := cs[sla.Resolution].DueAt; !got.Equal(at("2026-12-08 15:30")) {
		t.Fatalf("resolution due %s after the pause", got.In(cst))
	}
	step(sla.AgentReplied, "2026-12-08 10:00", sla.NextResponse)
	state(sla.NextResponse, sla.Met, false)
	step(sla.Resolved, "2026-12-08 11:00", sla.Resolution)
	state(sla.Resolution, sla.Met, false)
	if u := cs[sla.Resolution].Used; u != 4*time.Hour+30*time.Minute {
		t.Fatalf("resolution used %s", u)
	}
	step(sla.Reopened, "2026-12-08 16:00", sla.Resolution) // resolved too soon: counts on
	state(sla.Resolution, sla.Running, false)
	if got := cs[sla.Resolution].DueAt; !got.Equal(at("2026-12-09 10:30")) {
		t.Fatalf("resolution due %s after reopening", got.In(cst))
	}
	step(sla.Withdrawn, "2026-12-08 17:00", sla.Resolution)
	state(sla.Resolution, sla.Stopped, false)

	// The wire form keeps everything, durations in seconds.
	raw, _ := json.Marshal(cs[sla.Resolution])
	var back sla.Clock
	if err := json.Unmarshal(raw, &back); err != nil || back.Target != 8*time.Hour || back.Used != cs[sla.Resolution].Used || back.State != sla.Stopped {
		t.Fatalf("round trip %s → %+v %v", raw, back, err)
	}
}

// TestMetLateIsBreached: a clock met after its due time without any
// sweep seeing it running late is still counted breached.
func TestMetLateIsBreached(t *testing.T) {
	p := sla.Policy{ID: "p", Priority: "normal", FirstResponse: time.Hour}
	cs := sla.Clocks{}
	cs.Apply(sla.Created, at("2026-12-07 09:00"), p, true, calendar.Always())
	cs.Apply(sla.AgentReplied, at("2026-12-07 10:01"), p, true, calendar.Always())
	if c := cs[sla.FirstResponse]; c.State != sla.Met || !c.Breached {
		t.Fatalf("%+v", c)
	}
}

// TestMatch: the most specific policy of the conversation's priority.
func TestMatch(t *testing.T) {
	ps := []sla.Policy{
		{ID: "any", Priority: "high"},
		{ID: "net", Priority: "high", Category: "network"},
		{ID: "team", Priority: "high", TeamID: "tm_1"},
		{ID: "both", Priority: "high", Category: "network", TeamID: "tm_1"},
		{ID: "low", Priority: "low"},
	}
	for _, tc := range []struct{ priority, category, team, want string }{
		{"high", "account", "", "any"},
		{"high", "network", "", "net"},
		{"high", "account", "tm_1", "team"},
		{"high", "network", "tm_1", "both"},
		{"low", "network", "tm_1", "low"},
		{"urgent", "network", "tm_1", ""},
	} {
		p, ok := sla.Match(ps, tc.priority, tc.category, tc.team)
		if (tc.want == "") == ok || p.ID != tc.want {
			t.Errorf("%v: %q %v, want %q", tc, p.ID, ok, tc.want)
		}
	}
}
