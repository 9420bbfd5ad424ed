package staff_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/staff"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
)

type store interface {
	desk.AgentStore
	staff.Store
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

func code(t *testing.T, err error, want string) {
	t.Helper()
	if desk.ErrorCode(err) != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// TestAdminsManageAgents: only admins; create, rename, promote, reset a
// password (which signs the agent out), disable and enable; an admin
// cannot lock themselves out; everything audited.
func TestAdminsManageAgents(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		tokens := tokenstore.NewMemory(nil)
		accounts := auth.New(auth.Config{Agents: db, Tokens: tokens, Bus: bus.NewMemory(func(desk.Event) {}), BcryptCost: 4, TokenTTL: time.Hour})
		log := audit.New(db, nil)
		s := staff.New(db, accounts, log)
		boss, err := accounts.CreateAgent(ctx, "boss", "主管", "boss-password")
		if err != nil {
			t.Fatal(err)
		}
		db.SetAgentRole(ctx, boss.ID, desk.AgentRoleAdmin)
		admin := desk.Principal{Role: desk.RoleAgent, ID: boss.ID}

		wang, err := s.Create(ctx, admin, staff.NewMember{Username: "wang", Name: "王工", Password: "wang-password"})
		if err != nil || wang.Role != desk.AgentRoleAgent {
			t.Fatalf("create: %+v %v", wang, err)
		}
		plain := desk.Principal{Role: desk.RoleAgent, ID: wang.ID}
		_, err = s.List(ctx, plain)
		code(t, err, desk.EForbidden)
		_, err = s.Create(ctx, plain, staff.NewMember{Username: "x", Name: "x", Password: "xxxxxxxx"})
		code(t, err, desk.EForbidden)
		_, err = s.Create(ctx, admin, staff.NewMember{Username: "li", Name: "李工", Password: "short"})
		code(t, err, desk.EInvalid)

		name, role := "王工程师", desk.AgentRoleAdmin
		if m, err := s.Update(ctx, admin, wang.ID, staff.Change{Name: &name, Role: &role}); err != nil || m.Name != name || m.Role != role {
			t.Fatalf("rename and promote: %+v %v", m, err)
		}
		token, _, _, err := accounts.Login(ctx, "wang", "wang-password", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		pw := "a-new-password"
		if _, err := s.Update(ctx, admin, wang.ID, staff.Change{Password: &pw}); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := accounts.Login(ctx, "wang", pw, "127.0.0.1"); err != nil {
			t.Errorf("the new password: %v", err)
		}
		if id, err := tokens.Lookup(ctx, desk.RoleAgent, token); err == nil {
			t.Errorf("the old session survived a password reset: %s", id)
		}
		off, on, demote := true, false, desk.AgentRoleAgent
		if m, err := s.Update(ctx, admin, wang.ID, staff.Change{Disabled: &off}); err != nil || !m.Disabled {
			t.Fatalf("disable: %+v %v", m, err)
		}
		if _, err := db.AgentByID(ctx, wang.ID); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("a disabled agent is still found: %v", err)
		}
		if m, err := s.Update(ctx, admin, wang.ID, staff.Change{Disabled: &on}); err != nil || m.Disabled {
			t.Fatalf("enable: %+v %v", m, err)
		}
		_, err = s.Update(ctx, admin, boss.ID, staff.Change{Role: &demote})
		code(t, err, desk.EConflict)
		_, err = s.Update(ctx, admin, boss.ID, staff.Change{Disabled: &off})
		code(t, err, desk.EConflict)

		entries, _ := log.List(ctx, 0, 20)
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		want := []string{"agent.update", "agent.update", "agent.password", "agent.update", "agent.create"}
		if len(actions) != len(want) {
			t.Fatalf("audit %v, want %v", actions, want)
		}
		for i := range want {
			if actions[i] != want[i] {
				t.Fatalf("audit %v, want %v", actions, want)
			}
		}
	})
}

// TestAdminsManageTeams: admins create and change teams (validated,
// audited); every agent can read them.
func TestAdminsManageTeams(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		tokens := tokenstore.NewMemory(nil)
		accounts := auth.New(auth.Config{Agents: db, Tokens: tokens, Bus: bus.NewMemory(func(desk.Event) {}), BcryptCost: 4, TokenTTL: time.Hour})
		log := audit.New(db, nil)
		s := staff.New(db, accounts, log)
		boss, _ := accounts.CreateAgent(ctx, "boss", "主管", "boss-password")
		wang, _ := accounts.CreateAgent(ctx, "wang", "王工", "wang-password")
		db.SetAgentRole(ctx, boss.ID, desk.AgentRoleAdmin)
		admin, plain := desk.Principal{Role: desk.RoleAgent, ID: boss.ID}, desk.Principal{Role: desk.RoleAgent, ID: wang.ID}

		_, err := s.SaveTeam(ctx, plain, desk.Team{Name: "网络组"})
		code(t, err, desk.EForbidden)
		for _, bad := range []desk.Team{{Name: ""}, {Name: "x", Routing: "random"}, {Name: "x", Capacity: -1}, {Name: "x", Categories: []string{"coffee"}}, {Name: "x", Members: []string{"agt_nobody"}}} {
			_, err := s.SaveTeam(ctx, admin, bad)
			code(t, err, desk.EInvalid)
		}
		tm, err := s.SaveTeam(ctx, admin, desk.Team{Name: "网络组", Routing: desk.RoutingAuto, Capacity: 3, Members: []string{wang.ID}, Categories: []string{"network"}})
		if err != nil || tm.ID == "" {
			t.Fatalf("create: %+v %v", tm, err)
		}
		tm.Capacity = 4
		if _, err := s.SaveTeam(ctx, admin, tm); err != nil {
			t.Fatal(err)
		}
		teams, err := s.Teams(ctx, plain)
		if err != nil || len(teams) != 1 || teams[0].Capacity != 4 || len(teams[0].Members) != 1 || teams[0].Categories[0] != "network" {
			t.Fatalf("teams as an agent sees them: %+v %v", teams, err)
		}
		if err := s.DeleteTeam(ctx, admin, tm.ID); err != nil {
			t.Fatal(err)
		}
		entries, _ := log.List(ctx, 0, 10)
		if len(entries) != 3 || entries[0].Action != "team.delete" || entries[1].Action != "team.update" || entries[2].Action != "team.create" {
			t.Errorf("audit %+v", entries)
		}
	})
}

// TestAdminsManageCategories: the five a desk starts with, a new one with
// its colour, default priority and team, a rename, retiring (kept, listed
// as retired), refusals, only admins, everything audited.
func TestAdminsManageCategories(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		accounts := auth.New(auth.Config{Agents: db, Tokens: tokenstore.NewMemory(nil), Bus: bus.NewMemory(func(desk.Event) {}), BcryptCost: 4, TokenTTL: time.Hour})
		log := audit.New(db, nil)
		s := staff.New(db, accounts, log)
		boss, _ := accounts.CreateAgent(ctx, "boss", "主管", "boss-password")
		wang, _ := accounts.CreateAgent(ctx, "wang", "王工", "wang-password")
		db.SetAgentRole(ctx, boss.ID, desk.AgentRoleAdmin)
		admin, plain := desk.Principal{Role: desk.RoleAgent, ID: boss.ID}, desk.Principal{Role: desk.RoleAgent, ID: wang.ID}

		cats, err := s.Categories(ctx)
		if err != nil || len(cats) != 5 || cats[0].Key != "account" || cats[0].NameZH != "账号与密码" || !cats[4].Active {
			t.Fatalf("a new desk's categories: %+v %v", cats, err)
		}
		_, err = s.SaveCategory(ctx, plain, desk.Category{Key: "print", NameZH: "打印"})
		code(t, err, desk.EForbidden)
		for _, bad := range []desk.Category{
			{Key: "", NameZH: "打印"}, {Key: "Print!", NameZH: "打印"}, {Key: "print"},
			{Key: "print", NameZH: "打印", Color: "red"}, {Key: "print", NameZH: "打印", DefaultPriority: "asap"},
			{Key: "print", NameZH: "打印", TeamID: "tm_nobody"},
		} {
			_, err := s.SaveCategory(ctx, admin, bad)
			code(t, err, desk.EInvalid)
		}
		tm, err := s.SaveTeam(ctx, admin, desk.Team{Name: "桌面组", Members: []string{wang.ID}})
		if err != nil {
			t.Fatal(err)
		}
		print := desk.Category{Key: "print", NameZH: "打印机", NameEN: "Printers", Color: "#0a7f5a", DefaultPriority: "high", Active: true, Position: 6, TeamID: tm.ID}
		if _, err := s.SaveCategory(ctx, admin, print); err != nil {
			t.Fatal(err)
		}
		print.NameZH, print.Active = "打印与扫描", false
		if _, err := s.SaveCategory(ctx, admin, print); err != nil {
			t.Fatal(err)
		}
		cats, _ = s.Categories(ctx)
		if got := cats[len(cats)-1]; len(cats) != 6 || got != print {
			t.Fatalf("after a rename and retiring: %+v", cats)
		}
		teams, _ := s.Teams(ctx, plain)
		if len(teams) != 1 || len(teams[0].Categories) != 1 || teams[0].Categories[0] != "print" {
			t.Errorf("the team does not answer the new category: %+v", teams)
		}
		entries, _ := log.List(ctx, 0, 10)
		if len(entries) < 3 || entries[0].Action != "category.update" || entries[1].Action != "category.create" {
			t.Errorf("audit %+v", entries)
		}
	})
}
