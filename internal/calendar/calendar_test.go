package calendar

import (
	"errors"
	"testing"
	"time"
)

func mustDate(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// shanghai is a typical desk: weekdays with a lunch break, National Day
// closed from Oct 1 to 7 and Saturday Oct 10 worked instead (调休).
func shanghai(t *testing.T) *Calendar {
	t.Helper()
	var holidays []Date
	for d := 1; d <= 7; d++ {
		holidays = append(holidays, Date{2026, time.October, d})
	}
	c, err := New(Config{
		Week:     "mon-fri 09:00-12:00,13:30-18:00",
		Holidays: holidays,
		Workdays: []Date{mustDate(t, "2026-10-10")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func local(t *testing.T, c *Calendar, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, c.Location())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAdd(t *testing.T) {
	c := shanghai(t)
	tests := []struct {
		name, from string
		add        time.Duration
		want       string
	}{
		{"within a span", "2026-12-07 09:00", time.Hour, "2026-12-07 10:00"},
		{"over lunch", "2026-12-07 11:30", time.Hour, "2026-12-07 14:00"},
		{"starting at lunch", "2026-12-07 12:15", 30 * time.Minute, "2026-12-07 14:00"},
		{"over the weekend", "2026-12-04 17:30", time.Hour, "2026-12-07 09:30"},
		{"from a Saturday", "2026-12-05 10:00", time.Hour, "2026-12-07 10:00"},
		{"before opening", "2026-12-07 07:00", 10 * time.Minute, "2026-12-07 09:10"},
		{"ending exactly at closing", "2026-12-07 17:00", time.Hour, "2026-12-07 18:00"},
		{"a whole working day", "2026-12-07 09:00", 7*time.Hour + 30*time.Minute, "2026-12-07 18:00"},
		{"over National Day", "2026-09-30 17:00", 2 * time.Hour, "2026-10-08 10:00"},
		{"onto the make-up Saturday", "2026-10-09 17:00", 2 * time.Hour, "2026-10-10 10:00"},
		{"zero", "2026-12-05 10:00", 0, "2026-12-05 10:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Add(local(t, c, tt.from), tt.add)
			if err != nil {
				t.Fatal(err)
			}
			if want := local(t, c, tt.want); !got.Equal(want) {
				t.Errorf("Add(%s, %v) = %s, want %s", tt.from, tt.add, got.In(c.Location()).Format("2006-01-02 15:04"), tt.want)
			}
		})
	}
}

func TestBetween(t *testing.T) {
	c := shanghai(t)
	tests := []struct {
		name, a, b string
		want       time.Duration
	}{
		{"within a span", "2026-12-07 09:00", "2026-12-07 09:45", 45 * time.Minute},
		{"lunch does not count", "2026-12-07 11:00", "2026-12-07 14:00", 90 * time.Minute},
		{"a weekend does not count", "2026-12-04 17:00", "2026-12-07 10:00", 2 * time.Hour},
		{"a week", "2026-12-07 00:00", "2026-12-14 00:00", 5 * (7*time.Hour + 30*time.Minute)},
		{"the holiday week", "2026-09-30 18:00", "2026-10-08 09:00", 0},
		{"backwards", "2026-12-07 10:00", "2026-12-07 09:00", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Between(local(t, c, tt.a), local(t, c, tt.b)); got != tt.want {
				t.Errorf("Between = %v, want %v", got, tt.want)
			}
		})
	}
	// Add and Between agree.
	from := local(t, c, "2026-09-29 15:20")
	for _, d := range []time.Duration{time.Minute, 3 * time.Hour, 11 * time.Hour, 40 * time.Hour} {
		due, err := c.Add(from, d)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Between(from, due); got != d {
			t.Errorf("Between(from, Add(from, %v)) = %v", d, got)
		}
	}
}

func TestOpenAndNextOpen(t *testing.T) {
	c := shanghai(t)
	tests := []struct {
		at   string
		open bool
		next string
	}{
		{"2026-12-07 09:00", true, "2026-12-07 09:00"},
		{"2026-12-07 12:00", false, "2026-12-07 13:30"},
		{"2026-12-07 18:00", false, "2026-12-08 09:00"},
		{"2026-12-05 11:00", false, "2026-12-07 09:00"},
		{"2026-10-01 10:00", false, "2026-10-08 09:00"},
		{"2026-10-10 10:00", true, "2026-10-10 10:00"},
	}
	for _, tt := range tests {
		at := local(t, c, tt.at)
		if got := c.Open(at); got != tt.open {
			t.Errorf("Open(%s) = %v", tt.at, got)
		}
		next, err := c.NextOpen(at)
		if err != nil || !next.Equal(local(t, c, tt.next)) {
			t.Errorf("NextOpen(%s) = %s %v, want %s", tt.at, next.In(c.Location()), err, tt.next)
		}
	}
}

// TestTimeZones: instants are instants, whatever zone they are written in;
// a day whose clock jumps still opens at its local hours.
func TestTimeZones(t *testing.T) {
	c := shanghai(t)
	// 00:30 UTC on Monday is 08:30 in Shanghai: opens at 01:00 UTC.
	at := time.Date(2026, 12, 7, 0, 30, 0, 0, time.UTC)
	next, err := c.NextOpen(at)
	if err != nil || !next.Equal(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("NextOpen = %s %v", next.UTC(), err)
	}
	// 23:30 UTC on Sunday is Monday 07:30 in Shanghai.
	if c.Open(time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC)) {
		t.Error("open at 07:30 Shanghai")
	}
	ny, err := New(Config{TimeZone: "America/New_York", Week: "sun 01:00-04:00"})
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-08: clocks go from 02:00 to 03:00, so 01:00-04:00 is 2 hours.
	day := time.Date(2026, 3, 8, 0, 0, 0, 0, ny.Location())
	if got := ny.Between(day, day.Add(24*time.Hour)); got != 2*time.Hour {
		t.Errorf("the spring-forward Sunday has %v of working time, want 2h", got)
	}
}

func TestAlwaysAndNever(t *testing.T) {
	a := Always()
	t0 := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
	if due, _ := a.Add(t0, 3*time.Hour); !due.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("Always.Add = %s", due)
	}
	if got := a.Between(t0, t0.Add(50*time.Hour)); got != 50*time.Hour {
		t.Errorf("Always.Between = %v", got)
	}
	never, err := New(Config{Week: ";"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := never.Add(t0, time.Hour); !errors.Is(err, ErrNeverOpen) {
		t.Errorf("Add on a calendar never open: %v", err)
	}
	if _, err := never.NextOpen(t0); !errors.Is(err, ErrNeverOpen) {
		t.Errorf("NextOpen on a calendar never open: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Week: "mon-fri 18:00-09:00"},
		{Week: "mon-fri 09:00-12:00,11:00-18:00"},
		{Week: "mon-fri 13:00-18:00,09:00-12:00"},
		{Week: "xyz 09:00-10:00"},
		{Week: "mon 25:00-26:00"},
		{Week: "mon 09:00"},
		{Week: "mon-fri 09:00-18:00; fri 10:00-11:00"},
		{TimeZone: "Mars/Olympus"},
		{Holidays: []Date{{2026, 10, 10}}, Workdays: []Date{{2026, 10, 10}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	week, err := ParseWeek("mon,wed 09:00-17:00; sat-sun 10:00-24:00")
	if err != nil {
		t.Fatal(err)
	}
	if len(week[time.Monday]) != 1 || len(week[time.Tuesday]) != 0 || week[time.Sunday][0].To != 24*60 {
		t.Errorf("ParseWeek = %v", week)
	}
}
