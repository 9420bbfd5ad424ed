package settings_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/settings"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

type store interface {
	desk.ConversationStore
	desk.AgentStore
	settings.Store
	audit.Store
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

// schedule adapts the settings to the conversations, as main does.
type schedule struct{ s *settings.Service }

func (s schedule) Hours() conversation.Hours {
	if c := s.s.Hours(); c != nil {
		return c
	}
	return nil
}
func (s schedule) NoticeText(kind string) map[string]string { return s.s.NoticeText(kind) }

// TestAdminsSetHoursAndReplies: the flags' hours apply until an admin
// saves; a save is checked, audited, applies at once on its node and on
// another node at its next load; the admins' wording rides on the notice
// an employee gets; only admins save, any agent reads.
func TestAdminsSetHoursAndReplies(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		for _, a := range []desk.Agent{{ID: "boss", Username: "boss", PasswordHash: "x", Role: desk.AgentRoleAdmin}, {ID: "a1", Username: "a1", PasswordHash: "x"}} {
			if err := db.CreateAgent(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		admin, agent := desk.Principal{Role: desk.RoleAgent, ID: "boss"}, desk.Principal{Role: desk.RoleAgent, ID: "a1"}
		log := audit.New(db, nil)
		cst := time.FixedZone("CST", 8*3600)
		saturday := time.Date(2026, 12, 5, 10, 0, 0, 0, cst)
		node := func() *settings.Service {
			s, err := settings.New(settings.Config{Store: db, Agents: db, Audit: log, Now: func() time.Time { return saturday },
				Defaults: settings.Schedule{Enabled: true, Week: "mon-fri 09:00-18:00"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Load(ctx); err != nil {
				t.Fatal(err)
			}
			return s
		}
		one, two := node(), node()
		if one.Hours() == nil || one.Hours().Open(saturday) {
			t.Fatal("the flags' hours do not apply before any save")
		}
		if _, err := settings.New(settings.Config{Store: db, Agents: db, Audit: log, Defaults: settings.Schedule{Week: "someday"}}); err == nil {
			t.Error("bad flags were accepted")
		}

		sat := settings.Schedule{
			Enabled: true, TimeZone: "Asia/Shanghai", Week: "mon-fri 09:00-18:00; sat 09:00-12:00",
			Holidays: []string{"2027-01-01"}, Workdays: []string{"2027-02-20"},
			Notices: map[string]map[string]string{"closed": {"zh-CN": "下班啦，{when} 回来", "en": "Closed until {when}"}},
		}
		if _, err := one.Save(ctx, agent, sat); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("an agent saved: %v", err)
		}
		for _, bad := range []settings.Schedule{
			{Enabled: true, Week: "mon-fri 18:00-09:00"}, {Enabled: true, TimeZone: "Mars/Olympus"},
			{Holidays: []string{"2027-13-01"}}, {Holidays: []string{"2027-01-01"}, Workdays: []string{"2027-01-01"}},
			{Notices: map[string]map[string]string{"weather": {"zh-CN": "晴"}}}, {Notices: map[string]map[string]string{"closed": {"fr": "fermé"}}},
		} {
			if _, err := one.Save(ctx, admin, bad); desk.ErrorCode(err) != desk.EInvalid {
				t.Errorf("saved %+v: %v", bad, err)
			}
		}
		if _, err := one.Save(ctx, admin, sat); err != nil {
			t.Fatal(err)
		}
		if !one.Hours().Open(saturday) {
			t.Error("the saving node still keeps the old hours")
		}
		if two.Hours().Open(saturday) {
			t.Fatal("the other node changed before loading") // (guards the next check)
		}
		if err := two.Load(ctx); err != nil || !two.Hours().Open(saturday) {
			t.Errorf("the other node after loading: %v", err)
		}
		if got, err := two.Get(ctx, agent); err != nil || got.Notices["closed"]["en"] != "Closed until {when}" || got.Holidays[0] != "2027-01-01" {
			t.Errorf("an agent reads %+v, %v", got, err)
		}
		entries, _ := log.List(ctx, 0, 5)
		if len(entries) != 1 || entries[0].Action != "settings.schedule" {
			t.Errorf("audit %+v", entries)
		}

		// Saturday afternoon is closed: the notice carries the admins' words.
		later := saturday.Add(4 * time.Hour)
		svc := conversation.New(conversation.Config{Store: db, Agents: db, Bus: bus.NewMemory(func(desk.Event) {}), Schedule: schedule{one},
			Now: func() time.Time { return later }})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })
		emp := desk.Principal{Role: desk.RoleEmployee, ID: "e1"}
		c, _, err := svc.Create(ctx, emp, conversation.NewConversation{Subject: "打印机", Body: "脱机了"})
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := svc.Events(ctx, emp, c.ID, 0, 10)
		var notice struct {
			Kind     string
			NextOpen time.Time `json:"next_open"`
			Text     map[string]string
		}
		for _, ev := range evs {
			if ev.Type == conversation.EventNotice {
				json.Unmarshal(ev.Data, &notice)
			}
		}
		if notice.Kind != "closed" || notice.Text["zh-CN"] != "下班啦，{when} 回来" || !notice.NextOpen.Equal(time.Date(2026, 12, 7, 9, 0, 0, 0, cst)) {
			t.Errorf("notice %+v", notice)
		}

		// Hours off: nothing is said, the desk is always open.
		if _, err := one.Save(ctx, admin, settings.Schedule{}); err != nil || one.Hours() != nil {
			t.Errorf("turning hours off: %v", err)
		}
	})
}
