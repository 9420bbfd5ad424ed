package reports

import (
	"strconv"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Tables names the report's tables, each exported as CSV.
var Tables = []string{"summary", "days", "sla", "satisfaction", "comments", "agents"}

// Table returns one of the report's tables, header first: the page shows
// the same rows.
func (r Report) Table(name string) ([][]string, error) {
	itoa, secs := strconv.Itoa, func(s int64) string { return strconv.FormatInt(s, 10) }
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	switch name {
	case "summary":
		return [][]string{
			{"metric", "value"},
			{"from", r.From.Format(time.RFC3339)}, {"to", r.To.Format(time.RFC3339)},
			{"created", itoa(r.Created)}, {"resolved", itoa(r.Resolved)}, {"reopened", itoa(r.Reopened)}, {"withdrawn", itoa(r.Withdrawn)},
			{"first_response_count", itoa(r.FirstResponse.Count)}, {"first_response_median_seconds", secs(r.FirstResponse.Median)},
			{"first_response_p90_seconds", secs(r.FirstResponse.P90)}, {"unanswered", itoa(r.Unanswered)},
			{"resolution_count", itoa(r.Resolution.Count)}, {"resolution_median_seconds", secs(r.Resolution.Median)},
			{"resolution_p90_seconds", secs(r.Resolution.P90)},
			{"csat_count", itoa(r.Satisfaction.Count)}, {"csat_average", f2(r.Satisfaction.Average)}, {"csat_response_rate", f2(r.Satisfaction.ResponseRate)},
		}, nil
	case "days":
		out := [][]string{{"date", "created", "resolved", "reopened", "withdrawn", "backlog"}}
		for _, d := range r.Days {
			out = append(out, []string{d.Date, itoa(d.Created), itoa(d.Resolved), itoa(d.Reopened), itoa(d.Withdrawn), itoa(d.Backlog)})
		}
		return out, nil
	case "sla":
		out := [][]string{{"target", "met", "breached", "rate"}}
		for _, a := range r.SLA {
			out = append(out, []string{a.Kind, itoa(a.Met), itoa(a.Breached), f2(a.Rate)})
		}
		return out, nil
	case "satisfaction":
		out := [][]string{{"score", "ratings"}}
		for i, n := range r.Satisfaction.Scores {
			out = append(out, []string{itoa(i + 1), itoa(n)})
		}
		return out, nil
	case "comments":
		out := [][]string{{"at", "conversation_id", "agent_id", "score", "comment"}}
		for _, c := range r.Satisfaction.Comments {
			out = append(out, []string{c.At.Format(time.RFC3339), c.ConversationID, c.AgentID, itoa(c.Score), c.Comment})
		}
		return out, nil
	case "agents":
		out := [][]string{{"agent_id", "name", "handled", "first_responses", "median_response_seconds", "ratings", "csat"}}
		for _, a := range r.Agents {
			out = append(out, []string{a.AgentID, a.Name, itoa(a.Handled), itoa(a.FirstResponses), secs(a.MedianResponse), itoa(a.Ratings), f2(a.CSAT)})
		}
		return out, nil
	}
	return nil, desk.Errorf(desk.EInvalid, "table must be one of %v", Tables)
}

// ParsePeriod reads a period from dates in zone (from and to both
// included, 2026-12-01..2026-12-31) or RFC 3339 instants (to excluded);
// empty means the last 30 days up to now.
func ParsePeriod(from, to string, zone *time.Location, now time.Time) (time.Time, time.Time, error) {
	parse := func(s string, end bool) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
		d, err := time.ParseInLocation(time.DateOnly, s, zone)
		if err != nil {
			return time.Time{}, desk.Errorf(desk.EInvalid, "%q is neither a date (2026-12-01) nor an RFC 3339 time", s)
		}
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	var f, t time.Time
	var err error
	if to == "" {
		t = now
	} else if t, err = parse(to, true); err != nil {
		return f, t, err
	}
	if from == "" {
		l := t.In(zone)
		f = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, zone).AddDate(0, 0, -30)
	} else if f, err = parse(from, false); err != nil {
		return f, t, err
	}
	if !f.Before(t) {
		return f, t, desk.Errorf(desk.EInvalid, "the period must end after it starts (%s, %s)", f.Format(time.DateOnly), t.Format(time.DateOnly))
	}
	return f, t, nil
}
