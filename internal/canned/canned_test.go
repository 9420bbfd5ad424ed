package canned_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/canned"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

type store interface {
	canned.Store
	audit.Store
	desk.AgentStore
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
	boss  = desk.Principal{Role: desk.RoleAgent, ID: "boss"}
	wang  = desk.Principal{Role: desk.RoleAgent, ID: "wang"}
	li    = desk.Principal{Role: desk.RoleAgent, ID: "li"}
	zhang = desk.Principal{Role: desk.RoleEmployee, ID: "zhang"}
)

func code(t *testing.T, err error, want string) {
	t.Helper()
	if desk.ErrorCode(err) != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// TestWhoSeesAndChangesWhich: shared replies are every agent's and the
// admins' to change (audited); personal ones are their owner's alone.
func TestWhoSeesAndChangesWhich(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		for _, a := range []desk.Agent{{ID: "boss", Username: "boss", Name: "主管", Role: desk.AgentRoleAdmin}, {ID: "wang", Username: "wang", Name: "王工"}, {ID: "li", Username: "li", Name: "李工"}} {
			a.PasswordHash = "x"
			if err := db.CreateAgent(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		log := audit.New(db, nil)
		s := canned.New(db, db, log, nil)

		vpn, err := s.Create(ctx, boss, canned.Reply{Scope: canned.Shared, Title: "VPN 证书", Body: "{{employee.name}}，请按以下步骤重新导入证书……"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Create(ctx, wang, canned.Reply{Scope: canned.Shared, Title: "x", Body: "y"})
		code(t, err, desk.EForbidden)
		mine, err := s.Create(ctx, wang, canned.Reply{Scope: canned.Personal, Title: "我的签名", Body: "王工 · 分机 8012"})
		if err != nil || mine.OwnerID != "wang" {
			t.Fatalf("personal: %+v %v", mine, err)
		}
		for _, bad := range []canned.Reply{{Scope: canned.Personal, Title: "", Body: "x"}, {Scope: canned.Personal, Title: "x", Body: " "}, {Scope: "team", Title: "x", Body: "y"}} {
			_, err := s.Create(ctx, wang, bad)
			code(t, err, desk.EInvalid)
		}
		_, err = s.List(ctx, zhang)
		code(t, err, desk.EForbidden)

		seen := func(who desk.Principal) map[string]bool {
			list, err := s.List(ctx, who)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, r := range list {
				out[r.Title] = true
			}
			return out
		}
		if got := seen(wang); !got["VPN 证书"] || !got["我的签名"] || len(got) != 2 {
			t.Errorf("wang sees %v", got)
		}
		if got := seen(li); !got["VPN 证书"] || got["我的签名"] {
			t.Errorf("li sees %v", got)
		}
		_, err = s.Update(ctx, li, mine.ID, canned.Reply{Title: "x", Body: "y"})
		code(t, err, desk.ENotFound)
		code(t, s.Delete(ctx, li, mine.ID), desk.ENotFound)
		_, err = s.Update(ctx, wang, vpn.ID, canned.Reply{Title: "x", Body: "y"})
		code(t, err, desk.EForbidden)
		if _, err := s.Update(ctx, boss, vpn.ID, canned.Reply{Title: "VPN 证书过期", Body: "新的步骤", Scope: canned.Personal}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, wang, mine.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, boss, vpn.ID); err != nil {
			t.Fatal(err)
		}

		entries, err := log.List(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action+" by "+e.ActorID)
		}
		want := []string{"canned.delete by boss", "canned.update by boss", "canned.create by boss"}
		if len(actions) != 3 || actions[0] != want[0] || actions[1] != want[1] || actions[2] != want[2] {
			t.Errorf("audit log %v, want %v (personal replies are not admin actions)", actions, want)
		}
		if u := entries[1]; string(u.Before) == "" || string(u.After) == "" || !strings.Contains(string(u.Before), "VPN 证书") || !strings.Contains(string(u.After), "VPN 证书过期") {
			t.Errorf("the update's before/after: %s → %s", u.Before, u.After)
		}
		if older, _ := log.List(ctx, entries[1].ID, 10); len(older) != 1 || older[0].Action != "canned.create" {
			t.Errorf("paging back: %+v", older)
		}
	})
}

// TestTeamReplies: a shared reply kept to one team reaches its members
// and the admins, not other agents; only shared replies belong to a team,
// and only to one that exists.
func TestTeamReplies(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		for _, a := range []desk.Agent{{ID: "boss", Username: "boss", Role: desk.AgentRoleAdmin}, {ID: "wang", Username: "wang"}, {ID: "li", Username: "li"}} {
			a.PasswordHash = "x"
			if err := db.CreateAgent(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		teams := db.(interface {
			SaveTeam(ctx context.Context, t desk.Team) error
		})
		if err := teams.SaveTeam(ctx, desk.Team{ID: "tm_net", Name: "网络组", Routing: desk.RoutingManual, Capacity: 5, Members: []string{"wang"}}); err != nil {
			t.Fatal(err)
		}
		s := canned.New(db, db, audit.New(db, nil), nil)
		if _, err := s.Create(ctx, boss, canned.Reply{Scope: canned.Shared, TeamID: "tm_net", Title: "交换机重启", Body: "机房 3 号柜……"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, boss, canned.Reply{Scope: canned.Shared, Title: "问候", Body: "您好"}); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []canned.Reply{{Scope: canned.Shared, TeamID: "tm_nobody", Title: "x", Body: "y"}} {
			_, err := s.Create(ctx, boss, bad)
			code(t, err, desk.EInvalid)
		}
		_, err := s.Create(ctx, wang, canned.Reply{Scope: canned.Personal, TeamID: "tm_net", Title: "x", Body: "y"})
		code(t, err, desk.EInvalid)
		titles := func(who desk.Principal) string {
			list, err := s.List(ctx, who)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range list {
				out = append(out, r.Title)
			}
			return strings.Join(out, ",")
		}
		if got := titles(wang); got != "交换机重启,问候" && got != "问候,交换机重启" {
			t.Errorf("the team member sees %q", got)
		}
		if got := titles(li); got != "问候" {
			t.Errorf("an agent outside the team sees %q", got)
		}
		if got := titles(boss); !strings.Contains(got, "交换机重启") {
			t.Errorf("the admin sees %q", got)
		}
	})
}
