// Package sla is the desk's service-level targets and the clocks that
// measure a conversation against them: how long until the first answer,
// until the next answer after each employee message, and until the
// request is resolved. Targets count in business hours (the desk's
// calendar, holidays and time zone) or in calendar time, and every clock
// stands still while the conversation waits on the employee (pending).
//
// The package holds the rules only: which policy applies to a
// conversation, and how each thing that happens to it starts, pauses,
// meets or breaches its clocks. The conversation writer applies them in
// the transaction that records what happened, so each clock change is an
// event with its seq like any other.
package sla

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Clock kinds.
const (
	FirstResponse = "first_response"
	NextResponse  = "next_response"
	Resolution    = "resolution"
)

// Kinds lists the clocks in the order they are shown.
var Kinds = []string{FirstResponse, NextResponse, Resolution}

// Clock states.
const (
	Running = "running"
	Paused  = "paused"  // pending on the employee
	Met     = "met"     // answered or resolved (possibly late: see Breached)
	Stopped = "stopped" // nothing more to measure (withdrawn, or resolved unanswered)
)

// Policy is a set of targets for the conversations it matches: one
// priority, and optionally one category or team. A zero target is none.
type Policy struct {
	ID            string        `json:"id"`
	Name          string        `json:"name"`
	Priority      string        `json:"priority"`
	Category      string        `json:"category,omitempty"`
	TeamID        string        `json:"team_id,omitempty"`
	FirstResponse time.Duration `json:"-"`
	NextResponse  time.Duration `json:"-"`
	Resolution    time.Duration `json:"-"`
	// BusinessHours counts targets in the desk's working time; otherwise
	// in calendar time.
	BusinessHours bool `json:"business_hours"`
	// WarnShare is the share of a target after which the console shows
	// amber (0.75: a quarter left).
	WarnShare float64 `json:"warn_share"`
	// Escalations are what happens, once per conversation, at a time
	// before or after a clock's due time.
	Escalations []Escalation `json:"escalations"`
}

// Escalation actions.
const (
	NotifyAssignee = "notify_assignee"
	NotifyLead     = "notify_lead" // the team's lead
	RaisePriority  = "raise_priority"
	Requeue        = "requeue" // back to the team's queue, assignee released
)

// Actions lists the escalation actions.
var Actions = []string{NotifyAssignee, NotifyLead, RaisePriority, Requeue}

// Escalation is one action at Offset from a clock's due time (negative:
// before the breach).
type Escalation struct {
	Clock  string        `json:"clock"`
	Offset time.Duration `json:"-"`
	Action string        `json:"action"`
}

// Key names the escalation on a clock, so it fires once however often
// the policy is saved.
func (e Escalation) Key() string {
	return e.Action + "@" + strconv.FormatInt(int64(e.Offset/time.Minute), 10)
}

type escalationJSON struct {
	escalationAlias
	OffsetMins int64 `json:"offset_minutes"`
}

type escalationAlias Escalation

// MarshalJSON writes the offset in minutes.
func (e Escalation) MarshalJSON() ([]byte, error) {
	return json.Marshal(escalationJSON{escalationAlias(e), int64(e.Offset / time.Minute)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Escalation) UnmarshalJSON(b []byte) error {
	var v escalationJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = Escalation(v.escalationAlias)
	e.Offset = time.Duration(v.OffsetMins) * time.Minute
	return nil
}

// Target returns the policy's target for a clock kind.
func (p Policy) Target(kind string) time.Duration {
	switch kind {
	case FirstResponse:
		return p.FirstResponse
	case NextResponse:
		return p.NextResponse
	case Resolution:
		return p.Resolution
	}
	return 0
}

// Match returns the policy for a conversation of this priority, category
// and team: the most specific one (category and team, then category, then
// team, then the priority alone), or false when none applies.
func Match(policies []Policy, priority, category, teamID string) (Policy, bool) {
	best, bestRank := Policy{}, -1
	for _, p := range policies {
		if p.Priority != priority || (p.Category != "" && p.Category != category) || (p.TeamID != "" && p.TeamID != teamID) {
			continue
		}
		rank := 0
		if p.Category != "" {
			rank += 2
		}
		if p.TeamID != "" {
			rank++
		}
		if rank > bestRank {
			best, bestRank = p, rank
		}
	}
	return best, bestRank >= 0
}

// Time is how a policy counts: *calendar.Calendar, business hours or
// calendar.Always().
type Time interface {
	Add(t time.Time, d time.Duration) (time.Time, error)
	Between(a, b time.Time) time.Duration
}

// Clock is one target measured on one conversation.
type Clock struct {
	Kind     string `json:"kind"`
	PolicyID string `json:"policy_id"`
	State    string `json:"state"`
	// Target is the time allowed; Used the counted time before ResumedAt.
	Target    time.Duration `json:"-"`
	Used      time.Duration `json:"-"`
	ResumedAt time.Time     `json:"resumed_at"` // when it last started running
	// DueAt is when a running clock breaches; zero otherwise.
	DueAt    time.Time  `json:"due_at,omitzero"`
	Breached bool       `json:"breached"`
	MetAt    *time.Time `json:"met_at,omitempty"`
	// Fired lists the escalations done (Escalation.Key).
	Fired []string `json:"fired,omitempty"`
	// BusinessHours says how Target counts (the policy's, when started).
	BusinessHours bool `json:"business_hours"`
}

// Happening is what happened to a conversation, as its clocks see it.
type Happening int

// The happenings.
const (
	Created       Happening = iota // the employee asked
	AgentReplied                   // an agent wrote to the employee
	EmployeeWrote                  // the employee wrote (not the first message)
	WentPending                    // an agent is waiting on the employee
	Reopened                       // back to work: from pending or resolved
	Resolved
	Withdrawn
)

// Clocks is a conversation's clocks, by kind.
type Clocks map[string]*Clock

// Apply moves the clocks for what happened at now, under policy p (ok
// false: no policy applies, so no clock starts), counting time with tm.
// It returns the kinds that changed, in Kinds order.
func (cs Clocks) Apply(h Happening, now time.Time, p Policy, ok bool, tm Time) []string {
	var changed []string
	mark := func(kind string) {
		if !slices.Contains(changed, kind) {
			changed = append(changed, kind)
		}
	}
	start := func(kind string) {
		if !ok || p.Target(kind) <= 0 {
			return
		}
		c := &Clock{Kind: kind, PolicyID: p.ID, State: Running, Target: p.Target(kind), ResumedAt: now, BusinessHours: p.BusinessHours}
		c.DueAt = due(c, tm)
		cs[kind] = c
		mark(kind)
	}
	meet := func(kind string) {
		if c := cs[kind]; c != nil && (c.State == Running || c.State == Paused) {
			cs.stop(c, now, tm)
			c.State, c.MetAt = Met, ptr(now)
			mark(kind)
		}
	}
	stop := func(kind string) {
		if c := cs[kind]; c != nil && (c.State == Running || c.State == Paused) {
			cs.stop(c, now, tm)
			c.State = Stopped
			mark(kind)
		}
	}
	switch h {
	case Created:
		start(FirstResponse)
		start(Resolution)
	case AgentReplied:
		meet(FirstResponse)
		meet(NextResponse)
	case EmployeeWrote:
		// A new question while no answer is owed starts the next-response
		// clock; before the first answer, the first-response clock covers it.
		if fr := cs[FirstResponse]; fr != nil && (fr.State == Running || fr.State == Paused) {
			break
		}
		if nr := cs[NextResponse]; nr != nil && (nr.State == Running || nr.State == Paused) {
			break
		}
		start(NextResponse)
	case WentPending:
		for _, kind := range Kinds {
			if c := cs[kind]; c != nil && c.State == Running {
				cs.stop(c, now, tm)
				c.State = Paused
				mark(kind)
			}
		}
	case Reopened:
		for _, kind := range Kinds {
			c := cs[kind]
			if c == nil {
				continue
			}
			if c.State == Paused || (kind == Resolution && c.State == Met) {
				// A reopened request is not resolved after all: its time
				// counts on from what it had used.
				c.State, c.ResumedAt, c.MetAt = Running, now, nil
				c.DueAt = due(c, tm)
				mark(kind)
			}
		}
	case Resolved:
		meet(Resolution)
		stop(FirstResponse)
		stop(NextResponse)
	case Withdrawn:
		for _, kind := range Kinds {
			stop(kind)
		}
	}
	return changed
}

// Retarget gives the clocks still measuring the targets of policy p (ok
// false: none applies any more, and they stop), after the conversation's
// priority, category or team changed. A breach already recorded stays.
func (cs Clocks) Retarget(now time.Time, p Policy, ok bool, tm Time) []string {
	var changed []string
	for _, kind := range Kinds {
		c := cs[kind]
		if c == nil || (c.State != Running && c.State != Paused) || (ok && c.PolicyID == p.ID && c.Target == p.Target(kind)) {
			continue
		}
		if !ok || p.Target(kind) <= 0 {
			cs.stop(c, now, tm)
			c.State = Stopped
		} else {
			if c.State == Running {
				// Count what was used under the old target, then go on.
				c.Used += tm.Between(c.ResumedAt, now)
				c.ResumedAt = now
			}
			c.PolicyID, c.Target, c.BusinessHours = p.ID, p.Target(kind), p.BusinessHours
			if c.State == Running {
				c.DueAt = due(c, tm)
			}
		}
		changed = append(changed, kind)
	}
	return changed
}

// Breach marks every running clock whose due time has passed by now, and
// returns the kinds it marked.
func (cs Clocks) Breach(now time.Time) []string {
	var out []string
	for _, kind := range Kinds {
		if c := cs[kind]; c != nil && c.State == Running && !c.Breached && !c.DueAt.IsZero() && !now.Before(c.DueAt) {
			c.Breached = true
			out = append(out, kind)
		}
	}
	return out
}

// Fired is an escalation that fell due on a clock.
type Fired struct {
	Kind       string
	Escalation Escalation
}

// Escalate marks, and returns in time order, the escalations of policy p
// whose moment has come by now on the running clocks it started.
func (cs Clocks) Escalate(now time.Time, p Policy) []Fired {
	var out []Fired
	type due struct {
		f  Fired
		at time.Time
	}
	var all []due
	for _, kind := range Kinds {
		c := cs[kind]
		if c == nil || c.State != Running || c.DueAt.IsZero() || c.PolicyID != p.ID {
			continue
		}
		for _, e := range p.Escalations {
			if e.Clock != kind || slices.Contains(c.Fired, e.Key()) {
				continue
			}
			if at := c.DueAt.Add(e.Offset); !now.Before(at) {
				all = append(all, due{Fired{kind, e}, at})
				c.Fired = append(c.Fired, e.Key())
			}
		}
	}
	slices.SortStableFunc(all, func(a, b due) int { return a.at.Compare(b.at) })
	for _, d := range all {
		out = append(out, d.f)
	}
	return out
}

// NextAt is when the sweep must next look at clock c: its breach, or the
// next escalation of policy p not yet done; zero when nothing is coming.
func NextAt(c *Clock, p Policy) time.Time {
	if c.State != Running || c.DueAt.IsZero() {
		return time.Time{}
	}
	var next time.Time
	if !c.Breached {
		next = c.DueAt
	}
	if c.PolicyID == p.ID {
		for _, e := range p.Escalations {
			if e.Clock == c.Kind && !slices.Contains(c.Fired, e.Key()) {
				if at := c.DueAt.Add(e.Offset); next.IsZero() || at.Before(next) {
					next = at
				}
			}
		}
	}
	return next
}

// stop counts a running clock's time up to now into Used.
func (cs Clocks) stop(c *Clock, now time.Time, tm Time) {
	if c.State == Running {
		c.Used += tm.Between(c.ResumedAt, now)
		// Met late: breached even if no sweep saw it running past its due.
		if c.Used > c.Target {
			c.Breached = true
		}
	}
	c.DueAt = time.Time{}
}

// NextDue is the earliest due time of the running clocks not yet
// breached, or zero.
func (cs Clocks) NextDue() time.Time {
	var next time.Time
	for _, c := range cs {
		if c.State == Running && !c.Breached && !c.DueAt.IsZero() && (next.IsZero() || c.DueAt.Before(next)) {
			next = c.DueAt
		}
	}
	return next
}

// due is when a running clock runs out: the rest of its target counted
// from ResumedAt. A calendar that never opens gives no due time.
func due(c *Clock, tm Time) time.Time {
	left := c.Target - c.Used
	if left <= 0 {
		return c.ResumedAt
	}
	at, err := tm.Add(c.ResumedAt, left)
	if err != nil {
		return time.Time{}
	}
	return at
}

func ptr[T any](v T) *T { return &v }

// On the wire, durations are whole seconds (clocks) and minutes
// (policies): what a client shows and an admin types.

type clockJSON struct {
	clockAlias
	TargetSecs int64 `json:"target_secs"`
	UsedSecs   int64 `json:"used_secs"`
}

type clockAlias Clock

// MarshalJSON writes Target and Used in seconds.
func (c Clock) MarshalJSON() ([]byte, error) {
	return json.Marshal(clockJSON{clockAlias(c), int64(c.Target / time.Second), int64(c.Used / time.Second)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Clock) UnmarshalJSON(b []byte) error {
	var v clockJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Clock(v.clockAlias)
	c.Target, c.Used = time.Duration(v.TargetSecs)*time.Second, time.Duration(v.UsedSecs)*time.Second
	return nil
}

type policyJSON struct {
	policyAlias
	FirstResponseMins int64 `json:"first_response_minutes"`
	NextResponseMins  int64 `json:"next_response_minutes"`
	ResolutionMins    int64 `json:"resolution_minutes"`
}

type policyAlias Policy

// MarshalJSON writes the targets in minutes.
func (p Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(policyJSON{policyAlias(p), int64(p.FirstResponse / time.Minute), int64(p.NextResponse / time.Minute), int64(p.Resolution / time.Minute)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Policy) UnmarshalJSON(b []byte) error {
	var v policyJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Policy(v.policyAlias)
	p.FirstResponse, p.NextResponse, p.Resolution = time.Duration(v.FirstResponseMins)*time.Minute, time.Duration(v.NextResponseMins)*time.Minute, time.Duration(v.ResolutionMins)*time.Minute
	return nil
}
