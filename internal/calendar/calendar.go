// Package calendar is the desk's working time: business hours per weekday
// in the desk's time zone, public holidays, and the make-up working days
// (调休) that Chinese holiday schedules move onto weekends. It answers what
// SLA clocks and "when can I expect an answer" need: is the desk open, when
// does it next open, when has a given amount of working time passed, and how
// much working time lies between two instants.
//
// Working hours are clock times on local dates, never offsets from
// midnight, so a day whose clock jumps (daylight saving, where a desk's zone
// has it) still opens at 09:00 local.
package calendar

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeZone is the desk's zone unless configured: the companies this
// desk is for work on China Standard Time.
const DefaultTimeZone = "Asia/Shanghai"

// DefaultWeek is the business week unless configured.
const DefaultWeek = "mon-fri 09:00-18:00"

// searchDays bounds every search for an open day, so a calendar that is
// never open (all spans empty, or every day a holiday) ends a search
// instead of looping: more than a year of closed days is a configuration
// error, not a schedule.
const searchDays = 400

// Clock is a time of day in minutes after local midnight, 0 to 1440
// (24:00, the end of the day).
type Clock int

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Span is one stretch of working time within a day, From < To.
type Span struct{ From, To Clock }

// Date is a local calendar date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns t's date in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// ParseDate reads "2026-10-01".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t, time.UTC), nil
}

func (d Date) next() Date {
	t := time.Date(d.Year, d.Month, d.Day+1, 12, 0, 0, 0, time.UTC)
	return DateOf(t, time.UTC)
}

func (d Date) weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Config describes a calendar. Zero values take the defaults.
type Config struct {
	// TimeZone is an IANA zone name (DefaultTimeZone).
	TimeZone string
	// Week is the weekly schedule in the form ParseWeek reads
	// (DefaultWeek).
	Week string
	// Holidays are closed all day, whatever their weekday.
	Holidays []Date
	// Workdays are open although they fall on a closed weekday (调休):
	// they keep the hours of WorkdayHours, or of Monday when unset.
	Workdays     []Date
	WorkdayHours []Span
}

// Calendar answers questions about working time. It is immutable and
// safe for concurrent use.
type Calendar struct {
	loc      *time.Location
	week     [7][]Span
	holidays map[Date]bool
	workdays map[Date][]Span
	always   bool
}

// Always is a calendar that never closes: SLA targets counted in calendar
// time use it.
func Always() *Calendar { return &Calendar{loc: time.UTC, always: true} }

// New checks cfg and returns its calendar.
func New(cfg Config) (*Calendar, error) {
	if cfg.TimeZone == "" {
		cfg.TimeZone = DefaultTimeZone
	}
	if cfg.Week == "" {
		cfg.Week = DefaultWeek
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", cfg.TimeZone, err)
	}
	week, err := ParseWeek(cfg.Week)
	if err != nil {
		return nil, err
	}
	c := &Calendar{loc: loc, week: week, holidays: map[Date]bool{}, workdays: map[Date][]Span{}}
	for _, d := range cfg.Holidays {
		c.holidays[d] = true
	}
	hours := cfg.WorkdayHours
	if len(hours) == 0 {
		hours = week[time.Monday]
	}
	if err := checkSpans(hours); err != nil {
		return nil, fmt.Errorf("workday hours: %w", err)
	}
	for _, d := range cfg.Workdays {
		if c.holidays[d] {
			return nil, fmt.Errorf("%s is both a holiday and a workday", d)
		}
		c.workdays[d] = hours
	}
	return c, nil
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// spans returns the working spans of local date d.
func (c *Calendar) spans(d Date) []Span {
	if c.always {
		return []Span{{0, 24 * 60}}
	}
	if c.holidays[d] {
		return nil
	}
	if s, ok := c.workdays[d]; ok {
		return s
	}
	return c.week[d.weekday()]
}

// at is the instant of clock k on local date d.
func (c *Calendar) at(d Date, k Clock) time.Time {
	return time.Date(d.Year, d.Month, d.Day, int(k)/60, int(k)%60, 0, 0, c.loc)
}

// intervals calls fn with each working interval of each local day from
// t's date on, in order, until fn returns false or searchDays have passed.
func (c *Calendar) intervals(t time.Time, fn func(from, to time.Time) bool) {
	d := DateOf(t, c.loc)
	for range searchDays {
		for _, s := range c.spans(d) {
			if !fn(c.at(d, s.From), c.at(d, s.To)) {
				return
			}
		}
		d = d.next()
	}
}

// Open reports whether the desk is open at t.
func (c *Calendar) Open(t time.Time) bool {
	if c.always {
		return true
	}
	for _, s := range c.spans(DateOf(t, c.loc)) {
		from, to := c.at(DateOf(t, c.loc), s.From), c.at(DateOf(t, c.loc), s.To)
		if !t.Before(from) && t.Before(to) {
			return true
		}
	}
	return false
}

// ErrNeverOpen: the calendar has no working time within a year of the
// instant asked about.
var ErrNeverOpen = errors.New("calendar: no working time within a year")

// NextOpen returns t if the desk is open then, or else when it next opens.
func (c *Calendar) NextOpen(t time.Time) (time.Time, error) {
	var at time.Time
	c.intervals(t, func(from, to time.Time) bool {
		if !to.After(t) {
			return true
		}
		at = later(from, t)
		return false
	})
	if at.IsZero() {
		return time.Time{}, ErrNeverOpen
	}
	return at, nil
}

// Add returns the instant at which d of working time has passed after t:
// the due time of a target of d started at t.
func (c *Calendar) Add(t time.Time, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return t, nil
	}
	left := d
	var due time.Time
	c.intervals(t, func(from, to time.Time) bool {
		if !to.After(t) {
			return true
		}
		from = later(from, t)
		if span := to.Sub(from); span < left {
			left -= span
			return true
		}
		due = from.Add(left)
		return false
	})
	if due.IsZero() {
		return time.Time{}, ErrNeverOpen
	}
	return due, nil
}

// Between returns the working time in [a, b); zero if b is not after a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	var total time.Duration
	c.intervals(a, func(from, to time.Time) bool {
		if !from.Before(b) {
			return false
		}
		from, to = later(from, a), earlier(to, b)
		if to.After(from) {
			total += to.Sub(from)
		}
		return true
	})
	return total
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWeek reads a weekly schedule: groups separated by ";", each days
// then spans, e.g. "mon-fri 09:00-12:00,13:30-18:00; sat 10:00-14:00".
// Days are mon…sun, singly, as ranges (mon-fri) or lists (mon,wed); days
// not named are closed. "24:00" ends a day.
func ParseWeek(s string) ([7][]Span, error) {
	var week [7][]Span
	seen := [7]bool{}
	for group := range strings.SplitSeq(s, ";") {
		group = strings.TrimSpace(group)
		if group == "" {
			continue
		}
		days, hours, ok := strings.Cut(group, " ")
		if !ok {
			return week, fmt.Errorf("schedule %q: want days then hours, like \"mon-fri 09:00-18:00\"", group)
		}
		var spans []Span
		for part := range strings.SplitSeq(strings.TrimSpace(hours), ",") {
			sp, err := parseSpan(strings.TrimSpace(part))
			if err != nil {
				return week, err
			}
			spans = append(spans, sp)
		}
		if err := checkSpans(spans); err != nil {
			return week, err
		}
		for d := range strings.SplitSeq(strings.ToLower(days), ",") {
			first, last, isRange := strings.Cut(d, "-")
			a, ok1 := dayNames[first]
			b := a
			ok2 := true
			if isRange {
				b, ok2 = dayNames[last]
			}
			if !ok1 || !ok2 {
				return week, fmt.Errorf("schedule %q: unknown day %q (use mon…sun)", group, d)
			}
			for w := a; ; w = (w + 1) % 7 {
				if seen[w] {
					return week, fmt.Errorf("schedule: %s named twice", time.Weekday(w))
				}
				seen[w] = true
				week[w] = spans
				if w == b {
					break
				}
			}
		}
	}
	return week, nil
}

func parseSpan(s string) (Span, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Span{}, fmt.Errorf("hours %q: want HH:MM-HH:MM", s)
	}
	a, err := parseClock(from)
	if err != nil {
		return Span{}, err
	}
	b, err := parseClock(to)
	if err != nil {
		return Span{}, err
	}
	return Span{a, b}, nil
}

func parseClock(s string) (Clock, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 24:00", s)
	}
	return Clock(hh*60 + mm), nil
}

// checkSpans wants spans in order, each non-empty, none overlapping.
func checkSpans(spans []Span) error {
	if !slices.IsSortedFunc(spans, func(a, b Span) int { return int(a.From - b.From) }) {
		return errors.New("hours must be in order")
	}
	for i, s := range spans {
		if s.From >= s.To {
			return fmt.Errorf("hours %s-%s end before they start (split a span that crosses midnight)", s.From, s.To)
		}
		if i > 0 && s.From < spans[i-1].To {
			return fmt.Errorf("hours %s-%s overlap the span before", s.From, s.To)
		}
	}
	return nil
}
