// Package settings is what admins change about the desk at run time, from
// the console: its business hours, holidays and make-up workdays (调休) in
// its time zone, and the wording of the automatic replies an employee gets
// when nobody can answer at once. The flags give the starting values; once
// an admin saves, the stored settings win on every node.
//
// Every node reads the stored settings when it starts and again every few
// seconds, so a change made on one node applies on all of them within
// RefreshInterval without a bus message to lose.
package settings

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/calendar"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// settingName is the stored document's key.
const settingName = "schedule"

// RefreshInterval is how often a node reads the stored settings again.
const RefreshInterval = 5 * time.Second

// NoticeKinds are the automatic replies whose wording admins may set:
// out of hours, nobody online, and the warning before a pending request
// closes itself.
var NoticeKinds = []string{"closed", "no_agents", "auto_resolve"}

// Languages a notice may be worded in.
var Languages = []string{"zh-CN", "en"}

// maxNoticeRunes bounds an automatic reply: a few sentences.
const maxNoticeRunes = 500

// Schedule is the desk's working time and its automatic replies.
type Schedule struct {
	// Enabled turns business hours on: without them the desk is always
	// open and says nothing out of hours.
	Enabled  bool     `json:"enabled"`
	TimeZone string   `json:"time_zone"`
	Week     string   `json:"week"`     // as calendar.ParseWeek reads it
	Holidays []string `json:"holidays"` // "2026-10-01"
	Workdays []string `json:"workdays"` // 调休: open although a weekend
	// Notices words the automatic replies: kind → language → text. A
	// missing one keeps the pages' own wording. In "closed", {when} stands
	// for the next opening time.
	Notices map[string]map[string]string `json:"notices"`
	// AssistantOff lists the categories whose new requests go straight to
	// the queue on a desk with an AI assistant (internal/firstline): say,
	// account requests that need a person to check who asks.
	AssistantOff []string `json:"assistant_off"`
}

// AssistantOn reports whether the assistant answers new requests filed
// under category first.
func (s Schedule) AssistantOn(category string) bool {
	return !slices.Contains(s.AssistantOff, category)
}

// Calendar checks s and returns its working time (nil when disabled).
func (s Schedule) Calendar() (*calendar.Calendar, error) {
	cfg := calendar.Config{TimeZone: s.TimeZone, Week: s.Week}
	for _, list := range []struct {
		in  []string
		out *[]calendar.Date
	}{{s.Holidays, &cfg.Holidays}, {s.Workdays, &cfg.Workdays}} {
		for _, d := range list.in {
			date, err := calendar.ParseDate(d)
			if err != nil {
				return nil, desk.Errorf(desk.EInvalid, "%q is not a date (2026-10-01)", d)
			}
			*list.out = append(*list.out, date)
		}
	}
	c, err := calendar.New(cfg)
	if err != nil {
		return nil, desk.Errorf(desk.EInvalid, "business hours: %v", err)
	}
	if !s.Enabled {
		return nil, nil
	}
	return c, nil
}

func (s Schedule) check() error {
	if len(s.Holidays) > 400 || len(s.Workdays) > 400 {
		return desk.Errorf(desk.EInvalid, "at most 400 holidays and 400 workdays")
	}
	if len(s.AssistantOff) > 200 {
		return desk.Errorf(desk.EInvalid, "at most 200 categories in assistant_off")
	}
	for _, c := range s.AssistantOff {
		if !desk.ValidCategoryKey(c) {
			return desk.Errorf(desk.EInvalid, "%q is not a category key", c)
		}
	}
	for kind, texts := range s.Notices {
		if !slices.Contains(NoticeKinds, kind) {
			return desk.Errorf(desk.EInvalid, "%q is not an automatic reply (%s)", kind, strings.Join(NoticeKinds, ", "))
		}
		for lang, text := range texts {
			if !slices.Contains(Languages, lang) {
				return desk.Errorf(desk.EInvalid, "%q is not a language (%s)", lang, strings.Join(Languages, ", "))
			}
			if utf8.RuneCountInString(text) > maxNoticeRunes {
				return desk.Errorf(desk.EInvalid, "an automatic reply is at most %d characters", maxNoticeRunes)
			}
			if err := desk.CheckText("notice", text); err != nil {
				return err
			}
		}
	}
	_, err := s.Calendar()
	return err
}

// normalized drops empty texts and sorts the dates, so what is stored and
// audited is what applies.
func (s Schedule) normalized() Schedule {
	s.TimeZone, s.Week = strings.TrimSpace(s.TimeZone), strings.TrimSpace(s.Week)
	if s.TimeZone == "" {
		s.TimeZone = calendar.DefaultTimeZone
	}
	if s.Week == "" {
		s.Week = calendar.DefaultWeek
	}
	clean := func(in []string) []string {
		out := []string{}
		for _, d := range in {
			if d = strings.TrimSpace(d); d != "" && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
		slices.Sort(out)
		return out
	}
	s.Holidays, s.Workdays, s.AssistantOff = clean(s.Holidays), clean(s.Workdays), clean(s.AssistantOff)
	notices := map[string]map[string]string{}
	for kind, texts := range s.Notices {
		for lang, text := range texts {
			if text = strings.TrimSpace(text); text != "" {
				if notices[kind] == nil {
					notices[kind] = map[string]string{}
				}
				notices[kind][lang] = text
			}
		}
	}
	s.Notices = notices
	return s
}

// Store keeps the settings document.
type Store interface {
	Setting(ctx context.Context, name string) (string, time.Time, error)
	SaveSetting(ctx context.Context, name, value string, at time.Time) error
}

// Agents tells admins from other agents.
type Agents interface {
	AgentByID(ctx context.Context, id string) (desk.Agent, error)
}

// Auditor records admin actions.
type Auditor interface {
	Record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error
}

// Config wires a Service.
type Config struct {
	Store  Store
	Agents Agents
	Audit  Auditor
	// Defaults apply until an admin saves (the flags).
	Defaults Schedule
	Log      *slog.Logger
	Now      func() time.Time
}

// Service holds the settings in force on this node.
type Service struct {
	cfg Config
	cur atomic.Pointer[state]
}

type state struct {
	s   Schedule
	cal *calendar.Calendar
}

// New checks the defaults and returns a Service holding them; Load or Run
// bring in what admins stored.
func New(cfg Config) (*Service, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := cfg.Defaults.normalized()
	if err := def.check(); err != nil {
		return nil, err
	}
	cfg.Defaults = def
	s := &Service{cfg: cfg}
	cal, _ := def.Calendar()
	s.cur.Store(&state{def, cal})
	return s, nil
}

// Load reads the stored settings; with none stored the defaults stay.
func (s *Service) Load(ctx context.Context) error {
	raw, _, err := s.cfg.Store.Setting(ctx, settingName)
	if desk.ErrorCode(err) == desk.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	var sch Schedule
	if err := json.Unmarshal([]byte(raw), &sch); err != nil {
		return desk.Wrap(desk.EInternal, err, "read the stored schedule")
	}
	cal, err := sch.Calendar()
	if err != nil {
		// Stored by an older or newer node that judged it valid: keep what
		// applies now rather than closing the desk.
		return desk.Wrap(desk.EInternal, err, "the stored schedule")
	}
	s.cur.Store(&state{sch, cal})
	return nil
}

// Run reads the stored settings every RefreshInterval until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Load(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn("settings reload failed", "error", err)
			}
		}
	}
}

// Hours is the working time in force, or nil when the desk keeps none.
func (s *Service) Hours() *calendar.Calendar { return s.cur.Load().cal }

// AssistantOn reports whether the assistant answers new requests in
// category first (the settings in force).
func (s *Service) AssistantOn(category string) bool { return s.cur.Load().s.AssistantOn(category) }

// NoticeText is the admins' wording of an automatic reply by language,
// or nil for the pages' own.
func (s *Service) NoticeText(kind string) map[string]string {
	return s.cur.Load().s.Notices[kind]
}

// Get returns the settings in force; any agent may read them.
func (s *Service) Get(_ context.Context, viewer desk.Principal) (Schedule, error) {
	if viewer.Role != desk.RoleAgent {
		return Schedule{}, desk.Errorf(desk.EForbidden, "only agents read the desk's settings")
	}
	return s.cur.Load().s, nil
}

// Save checks and stores new settings, admins only, and applies them on
// this node at once (on the others within RefreshInterval).
func (s *Service) Save(ctx context.Context, admin desk.Principal, sch Schedule) (Schedule, error) {
	if admin.Role != desk.RoleAgent {
		return Schedule{}, desk.Errorf(desk.EForbidden, "only admins change the desk's settings")
	}
	if a, err := s.cfg.Agents.AgentByID(ctx, admin.ID); err != nil || !a.IsAdmin() {
		if err != nil && desk.ErrorCode(err) != desk.ENotFound {
			return Schedule{}, err
		}
		return Schedule{}, desk.Errorf(desk.EForbidden, "only admins change the desk's settings")
	}
	sch = sch.normalized()
	if err := sch.check(); err != nil {
		return Schedule{}, err
	}
	raw, err := json.Marshal(sch)
	if err != nil {
		return Schedule{}, desk.Wrap(desk.EInternal, err, "encode the schedule")
	}
	before := s.cur.Load().s
	if err := s.cfg.Store.SaveSetting(ctx, settingName, string(raw), s.cfg.Now().UTC()); err != nil {
		return Schedule{}, err
	}
	cal, _ := sch.Calendar()
	s.cur.Store(&state{sch, cal})
	return sch, s.cfg.Audit.Record(ctx, admin, "settings.schedule", settingName, before, sch)
}
