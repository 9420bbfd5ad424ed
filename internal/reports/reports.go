// Package reports is what an IT lead shows upward: for a period and
// filters, the desk's volume (created, resolved, reopened, the backlog day
// by day), how fast it answered and resolved (median and 90th percentile,
// in business hours), how often it met its service levels, how satisfied
// employees were, and each agent's share.
//
// Every figure is defined once, here, over what the store keeps of the
// conversations' events (Store); the page, its CSV files and the JSON
// endpoints all read the same Report, so they cannot disagree.
package reports

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Filter chooses the conversations and the period, [From, To).
type Filter struct {
	From, To time.Time
	TeamID   string // the team the conversation's category routes to
	AgentID  string // the conversation's assignee (the last one, once resolved)
	Category string
	Priority string
}

// Lifecycle event types the reports count.
const (
	Created   = "conversation.created"
	Resolved  = "conversation.resolved"
	Reopened  = "conversation.reopened" // from resolved only: the store leaves out pending → open
	Withdrawn = "conversation.withdrawn"
)

// Event is one lifecycle event of a matching conversation.
type Event struct {
	ConversationID string
	Type           string
	ActorID        string
	At             time.Time
}

// Conversation is what the reports read of one matching conversation.
type Conversation struct {
	ID              string
	CreatedAt       time.Time
	Status          desk.Status
	ResolvedAt      *time.Time // the last resolution, while resolved
	FirstResponseAt *time.Time // the first agent message
	FirstResponder  string
}

// Rating is one rating given in the period.
type Rating struct {
	ConversationID string
	AgentID        string
	Score          int
	Comment        string
	At             time.Time
}

// Clock is the outcome of one service-level clock of a conversation
// created in the period.
type Clock struct {
	ConversationID string
	Kind           string
	State          string // running, paused, met, stopped
	Breached       bool
}

// Store reads what the reports need of the matching conversations.
type Store interface {
	// ReportEvents returns the lifecycle events in the period.
	ReportEvents(ctx context.Context, f Filter) ([]Event, error)
	// ReportBacklog counts the conversations created before From that
	// were not resolved or withdrawn at From.
	ReportBacklog(ctx context.Context, f Filter) (int, error)
	// ReportConversations returns those created in the period and those
	// whose last resolution is in it.
	ReportConversations(ctx context.Context, f Filter) ([]Conversation, error)
	// ReportRatings returns the ratings given in the period.
	ReportRatings(ctx context.Context, f Filter) ([]Rating, error)
	// ReportClocks returns the clocks of the conversations created in the
	// period.
	ReportClocks(ctx context.Context, f Filter) ([]Clock, error)
}

// WorkingTime counts business hours (*calendar.Calendar); nil counts
// calendar time.
type WorkingTime interface {
	Between(a, b time.Time) time.Duration
}

// Day is one day of the period in the desk's time zone.
type Day struct {
	Date      string `json:"date"` // 2026-12-07
	Created   int    `json:"created"`
	Resolved  int    `json:"resolved"`
	Reopened  int    `json:"reopened"`
	Withdrawn int    `json:"withdrawn"`
	Backlog   int    `json:"backlog"` // unresolved at the day's end
}

// Times sums up durations: how many, the median and the 90th percentile
// (nearest rank), in seconds.
type Times struct {
	Count  int   `json:"count"`
	Median int64 `json:"median_seconds"`
	P90    int64 `json:"p90_seconds"`
}

// Attainment is one service-level target's outcome: met in time, and
// breached (met late, or still running past due, or stopped after a
// breach).
type Attainment struct {
	Kind     string  `json:"kind"`
	Met      int     `json:"met"`
	Breached int     `json:"breached"`
	Rate     float64 `json:"rate"` // met / (met + breached)
}

// Satisfaction sums up the ratings.
type Satisfaction struct {
	Count        int       `json:"count"`
	Average      float64   `json:"average"`
	Scores       [5]int    `json:"scores"` // Scores[0] is one star
	ResponseRate float64   `json:"response_rate"`
	Comments     []Comment `json:"comments"`
}

// Comment is a rating with words, newest first.
type Comment struct {
	ConversationID string    `json:"conversation_id"`
	AgentID        string    `json:"agent_id"`
	Score          int       `json:"score"`
	Comment        string    `json:"comment"`
	At             time.Time `json:"at"`
}

// AgentRow is one agent's part.
type AgentRow struct {
	AgentID        string  `json:"agent_id"`
	Name           string  `json:"name"`
	Handled        int     `json:"handled"` // resolutions they made
	FirstResponses int     `json:"first_responses"`
	MedianResponse int64   `json:"median_response_seconds"`
	Ratings        int     `json:"ratings"`
	CSAT           float64 `json:"csat"`
}

// Report is every figure for one filter.
type Report struct {
	From          time.Time    `json:"from"`
	To            time.Time    `json:"to"`
	Created       int          `json:"created"`
	Resolved      int          `json:"resolved"`
	Reopened      int          `json:"reopened"`
	Withdrawn     int          `json:"withdrawn"`
	Days          []Day        `json:"days"`
	FirstResponse Times        `json:"first_response"`
	Unanswered    int          `json:"unanswered"` // created in the period, no answer yet
	Resolution    Times        `json:"resolution"`
	SLA           []Attainment `json:"sla"`
	Satisfaction  Satisfaction `json:"satisfaction"`
	Agents        []AgentRow   `json:"agents"`
}

// MaxPeriod bounds a report: a year and a bit, the "a year of data".
const MaxPeriod = 400 * 24 * time.Hour

// Build computes the report for f from st. zone is the desk's time zone
// (days start at its midnight); wt counts business hours, nil calendar
// time; names gives agents' names.
func Build(ctx context.Context, st Store, f Filter, zone *time.Location, wt WorkingTime, names func(id string) string) (Report, error) {
	if !f.From.Before(f.To) || f.To.Sub(f.From) > MaxPeriod {
		return Report{}, desk.Errorf(desk.EInvalid, "the period must end after it starts and last at most 400 days")
	}
	if zone == nil {
		zone = time.UTC
	}
	between := func(a, b time.Time) time.Duration {
		if wt == nil {
			return b.Sub(a)
		}
		return wt.Between(a, b)
	}
	r := Report{From: f.From.UTC(), To: f.To.UTC(), Days: []Day{}, SLA: []Attainment{}, Agents: []AgentRow{}}
	r.Satisfaction.Comments = []Comment{}

	// Volume, day by day.
	evs, err := st.ReportEvents(ctx, f)
	if err != nil {
		return Report{}, err
	}
	backlog, err := st.ReportBacklog(ctx, f)
	if err != nil {
		return Report{}, err
	}
	dayOf := func(t time.Time) string { return t.In(zone).Format(time.DateOnly) }
	index := map[string]int{}
	for d := midnight(f.From, zone); d.Before(f.To); d = d.AddDate(0, 0, 1) {
		index[dayOf(d)] = len(r.Days)
		r.Days = append(r.Days, Day{Date: dayOf(d)})
	}
	handled := map[string]int{}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	for _, ev := range evs {
		i, ok := index[dayOf(ev.At)]
		if !ok {
			continue
		}
		switch ev.Type {
		case Created:
			r.Created++
			r.Days[i].Created++
		case Resolved:
			r.Resolved++
			r.Days[i].Resolved++
			handled[ev.ActorID]++
		case Reopened:
			r.Reopened++
			r.Days[i].Reopened++
		case Withdrawn:
			r.Withdrawn++
			r.Days[i].Withdrawn++
		}
	}
	for i := range r.Days {
		backlog += r.Days[i].Created + r.Days[i].Reopened - r.Days[i].Resolved - r.Days[i].Withdrawn
		r.Days[i].Backlog = backlog
	}

	// Response and resolution times.
	convs, err := st.ReportConversations(ctx, f)
	if err != nil {
		return Report{}, err
	}
	var first, resolution []time.Duration
	perAgent := map[string][]time.Duration{}
	for _, c := range convs {
		if in(c.CreatedAt, f) {
			if c.FirstResponseAt == nil {
				r.Unanswered++
			} else {
				d := between(c.CreatedAt, *c.FirstResponseAt)
				first = append(first, d)
				perAgent[c.FirstResponder] = append(perAgent[c.FirstResponder], d)
			}
		}
		if c.Status == desk.StatusResolved && c.ResolvedAt != nil && in(*c.ResolvedAt, f) {
			resolution = append(resolution, between(c.CreatedAt, *c.ResolvedAt))
		}
	}
	r.FirstResponse, r.Resolution = summarize(first), summarize(resolution)

	// Service levels.
	clocks, err := st.ReportClocks(ctx, f)
	if err != nil {
		return Report{}, err
	}
	for _, kind := range []string{"first_response", "next_response", "resolution"} {
		a := Attainment{Kind: kind}
		for _, c := range clocks {
			switch {
			case c.Kind != kind:
			case c.Breached:
				a.Breached++
			case c.State == "met":
				a.Met++
			}
		}
		if a.Met+a.Breached > 0 {
			a.Rate = float64(a.Met) / float64(a.Met+a.Breached)
		}
		r.SLA = append(r.SLA, a)
	}

	// Satisfaction.
	ratings, err := st.ReportRatings(ctx, f)
	if err != nil {
		return Report{}, err
	}
	perAgentScores := map[string][]int{}
	sum := 0
	for _, x := range ratings {
		if x.Score < 1 || x.Score > 5 {
			continue
		}
		r.Satisfaction.Count++
		r.Satisfaction.Scores[x.Score-1]++
		sum += x.Score
		perAgentScores[x.AgentID] = append(perAgentScores[x.AgentID], x.Score)
		if x.Comment != "" {
			r.Satisfaction.Comments = append(r.Satisfaction.Comments, Comment{x.ConversationID, x.AgentID, x.Score, x.Comment, x.At.UTC()})
		}
	}
	if r.Satisfaction.Count > 0 {
		r.Satisfaction.Average = round2(float64(sum) / float64(r.Satisfaction.Count))
	}
	if r.Resolved > 0 {
		r.Satisfaction.ResponseRate = round2(math.Min(1, float64(r.Satisfaction.Count)/float64(r.Resolved)))
	}
	slices.SortFunc(r.Satisfaction.Comments, func(a, b Comment) int { return b.At.Compare(a.At) })

	// Per agent.
	agents := map[string]bool{}
	for id := range handled {
		agents[id] = true
	}
	for id := range perAgent {
		agents[id] = true
	}
	for id := range perAgentScores {
		agents[id] = true
	}
	for id := range agents {
		if id == "" {
			continue
		}
		row := AgentRow{AgentID: id, Handled: handled[id], FirstResponses: len(perAgent[id]), MedianResponse: summarize(perAgent[id]).Median, Ratings: len(perAgentScores[id])}
		if names != nil {
			row.Name = names(id)
		}
		if n := len(perAgentScores[id]); n > 0 {
			s := 0
			for _, v := range perAgentScores[id] {
				s += v
			}
			row.CSAT = round2(float64(s) / float64(n))
		}
		r.Agents = append(r.Agents, row)
	}
	slices.SortFunc(r.Agents, func(a, b AgentRow) int {
		if a.Handled != b.Handled {
			return b.Handled - a.Handled
		}
		if a.AgentID < b.AgentID {
			return -1
		}
		return 1
	})
	return r, nil
}

func in(t time.Time, f Filter) bool { return !t.Before(f.From) && t.Before(f.To) }

func midnight(t time.Time, zone *time.Location) time.Time {
	l := t.In(zone)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, zone)
}

// summarize: the median and the 90th percentile by nearest rank (the
// smallest value with at least that share of values at or below it).
func summarize(ds []time.Duration) Times {
	if len(ds) == 0 {
		return Times{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) int64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return int64(s[max(0, i)] / time.Second)
	}
	return Times{Count: len(s), Median: rank(0.5), P90: rank(0.9)}
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
