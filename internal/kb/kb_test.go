package kb_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/kb"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

type store interface {
	kb.Store
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
	zhang = desk.Principal{Role: desk.RoleEmployee, ID: "zhang"}
)

func code(t *testing.T, err error, want string) {
	t.Helper()
	if desk.ErrorCode(err) != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// setup creates the agents, and returns the audit log and a maker of
// Services (nodes) on db; now, when given, is their clock.
func setup(t *testing.T, db store, now ...func() time.Time) (*audit.Log, func() *kb.Service) {
	t.Helper()
	ctx := context.Background()
	for _, a := range []desk.Agent{{ID: "boss", Username: "boss", Role: desk.AgentRoleAdmin}, {ID: "wang", Username: "wang"}} {
		a.PasswordHash = "x"
		if err := db.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	log := audit.New(db, nil)
	return log, func() *kb.Service {
		cfg := kb.Config{Store: db, Agents: db, Audit: log}
		if len(now) > 0 {
			cfg.Now = now[0]
		}
		s, err := kb.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
}

var vpn = kb.Content{Title: "VPN 连不上怎么办", Body: "## 步骤\n\n1. 检查网络\n2. 重新导入 **VPN 证书**\n", Category: "network", Tags: []string{"vpn", "远程办公"}}

// TestWhoWritesPublishesAndReads: agents write drafts and every save is a
// version; only admins publish and archive (audited); employees see
// published articles only, and their views and verdicts are counted.
func TestWhoWritesPublishesAndReads(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		log, node := setup(t, db)
		s := node()

		_, err := s.Create(ctx, zhang, vpn)
		code(t, err, desk.EForbidden)
		for _, bad := range []kb.Content{
			{Title: "", Body: "x", Category: "network"},
			{Title: strings.Repeat("长", kb.MaxTitleRunes+1), Body: "x", Category: "network"},
			{Title: "两行\n标题", Body: "x", Category: "network"},
			{Title: "x", Body: "  ", Category: "network"},
			{Title: "x", Body: strings.Repeat("a", kb.MaxBodyBytes+1), Category: "network"},
			{Title: "x", Body: "y", Category: "weather"},
			{Title: "x", Body: "y", Category: ""},
			{Title: "x", Body: "y", Category: "network", Tags: strings.Fields("1 2 3 4 5 6 7 8 9 10 11")},
			{Title: "x", Body: "y", Category: "network", Tags: []string{strings.Repeat("标", desk.MaxTagRunes+1)}},
		} {
			_, err := s.Create(ctx, wang, bad)
			code(t, err, desk.EInvalid)
		}
		a, err := s.Create(ctx, wang, vpn)
		if err != nil || a.Status != kb.Draft || a.Version != 1 || a.AuthorID != "wang" {
			t.Fatalf("create: %+v %v", a, err)
		}

		_, err = s.Get(ctx, zhang, a.ID)
		code(t, err, desk.ENotFound)
		if list, err := s.List(ctx, zhang, kb.Filter{}); err != nil || len(list) != 0 {
			t.Fatalf("an employee lists drafts: %+v %v", list, err)
		}
		_, err = s.Publish(ctx, wang, a.ID)
		code(t, err, desk.EForbidden)
		_, err = s.Publish(ctx, zhang, a.ID)
		code(t, err, desk.EForbidden)
		pub, err := s.Publish(ctx, boss, a.ID)
		if err != nil || pub.Status != kb.Published || pub.PublishedAt == nil {
			t.Fatalf("publish: %+v %v", pub, err)
		}

		got, err := s.Get(ctx, zhang, a.ID)
		if err != nil || got.Body != vpn.Body || got.AuthorID != "" || got.Views != 1 {
			t.Fatalf("the employee reads %+v %v", got, err)
		}
		if _, err := s.Get(ctx, wang, a.ID); err != nil {
			t.Fatal(err)
		}
		code(t, s.Feedback(ctx, wang, a.ID, true), desk.EForbidden)
		for _, helped := range []bool{true, true, false} {
			if err := s.Feedback(ctx, zhang, a.ID, helped); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := s.Get(ctx, boss, a.ID); got.Views != 1 || got.Helped != 2 || got.NotHelped != 1 {
			t.Errorf("counts after one employee view (and an agent's) and three verdicts: %+v", got)
		}
		if list, err := s.List(ctx, zhang, kb.Filter{}); err != nil || len(list) != 1 || list[0].Body != "" {
			t.Fatalf("the employee's list: %+v %v", list, err)
		}

		// A plain agent's edit of a published article takes it back to
		// draft: nothing reaches employees that no admin saw.
		edit := vpn
		edit.Title, edit.Version = "VPN 连不上（新版客户端）", 1
		e, err := s.Edit(ctx, wang, a.ID, edit)
		if err != nil || e.Version != 2 || e.Status != kb.Draft {
			t.Fatalf("edit: %+v %v", e, err)
		}
		_, err = s.Get(ctx, zhang, a.ID)
		code(t, err, desk.ENotFound)
		_, err = s.Edit(ctx, wang, a.ID, edit) // still says version 1
		code(t, err, desk.EConflict)
		_, err = s.Edit(ctx, zhang, a.ID, edit)
		code(t, err, desk.EForbidden)

		if _, err := s.Publish(ctx, boss, a.ID); err != nil {
			t.Fatal(err)
		}
		edit.Version, edit.Body = 2, "新版客户端：设置 → 证书 → 导入"
		e, err = s.Edit(ctx, boss, a.ID, edit)
		if err != nil || e.Version != 3 || e.Status != kb.Published {
			t.Fatalf("an admin's edit of a published article: %+v %v", e, err)
		}
		vs, err := s.Versions(ctx, wang, a.ID)
		if err != nil || len(vs) != 3 || vs[0].Version != 3 || vs[2].Title != vpn.Title || vs[2].AuthorID != "wang" || vs[0].AuthorID != "boss" {
			t.Fatalf("versions: %+v %v", vs, err)
		}
		_, err = s.Versions(ctx, zhang, a.ID)
		code(t, err, desk.EForbidden)

		_, err = s.Archive(ctx, wang, a.ID)
		code(t, err, desk.EForbidden)
		if _, err := s.Archive(ctx, boss, a.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.Get(ctx, zhang, a.ID)
		code(t, err, desk.ENotFound)
		code(t, s.Feedback(ctx, zhang, a.ID, true), desk.ENotFound)
		if list, _ := s.List(ctx, wang, kb.Filter{Status: kb.Archived}); len(list) != 1 {
			t.Errorf("agents list archived articles: %+v", list)
		}
		_, err = s.List(ctx, wang, kb.Filter{Status: "deleted"})
		code(t, err, desk.EInvalid)
		for _, id := range []string{"kb_0000000000000000", "nope", ""} {
			_, err = s.Get(ctx, boss, id)
			code(t, err, desk.ENotFound)
		}

		entries, _ := log.List(ctx, 0, 10)
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		if got := strings.Join(actions, " "); got != "kb.archive kb.edit_published kb.publish kb.publish" {
			t.Errorf("audited %q", got)
		}
	})
}

// TestListPages: newest change first, paged by cursor, narrowed by
// category and a piece of the title.
func TestListPages(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		clock := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		_, node := setup(t, db, func() time.Time { clock = clock.Add(time.Second); return clock })
		s := node()
		for _, c := range []kb.Content{
			{Title: "打印机脱机", Body: "x", Category: "hardware"},
			{Title: "Outlook 收不到邮件", Body: "x", Category: "software"},
			{Title: "VPN 证书", Body: "x", Category: "network"},
		} {
			if _, err := s.Create(ctx, wang, c); err != nil {
				t.Fatal(err)
			}
		}
		first, err := s.List(ctx, wang, kb.Filter{Limit: 2})
		if err != nil || len(first) != 2 || first[0].Title != "VPN 证书" {
			t.Fatalf("page 1: %+v %v", first, err)
		}
		last := first[1]
		rest, err := s.List(ctx, wang, kb.Filter{Limit: 2, After: &kb.Cursor{UpdatedAt: last.UpdatedAt, ID: last.ID}})
		if err != nil || len(rest) != 1 || rest[0].Title != "打印机脱机" {
			t.Fatalf("page 2: %+v %v", rest, err)
		}
		if l, _ := s.List(ctx, wang, kb.Filter{Category: "software"}); len(l) != 1 || l[0].Title != "Outlook 收不到邮件" {
			t.Errorf("by category: %+v", l)
		}
		if l, _ := s.List(ctx, wang, kb.Filter{Q: "outlook"}); len(l) != 1 {
			t.Errorf("by title: %+v", l)
		}
	})
}

func found(hits []kb.Hit, id string) bool {
	for _, h := range hits {
		if h.ID == id {
			return true
		}
	}
	return false
}

// TestSearchAcrossNodes: a published article is found by a Chinese
// question, a draft never; another node finds it after its next refresh,
// and loses it when archived; a node starting finds what was published.
func TestSearchAcrossNodes(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		_, node := setup(t, db)
		one, two := node(), node()

		a, err := one.Create(ctx, wang, vpn)
		if err != nil {
			t.Fatal(err)
		}
		draft, err := one.Create(ctx, wang, kb.Content{Title: "打印机脱机怎么办", Body: "重新添加打印机", Category: "hardware"})
		if err != nil {
			t.Fatal(err)
		}
		if hits, _ := one.Search(ctx, zhang, "vpn连不上", "", 0); len(hits) != 0 {
			t.Fatalf("a draft was found: %+v", hits)
		}
		if _, err := one.Publish(ctx, boss, a.ID); err != nil {
			t.Fatal(err)
		}
		hits, err := one.Search(ctx, zhang, "vpn连不上了", "", 0)
		if err != nil || !found(hits, a.ID) {
			t.Fatalf("the publishing node: %+v %v", hits, err)
		}
		if h := hits[0]; h.Title != vpn.Title || h.Snippet == "" || len(h.Highlights) == 0 {
			t.Errorf("hit %+v", h)
		}
		if hits, _ := one.Search(ctx, zhang, "打印机脱机", "", 0); found(hits, draft.ID) {
			t.Error("a draft was found")
		}
		if hits, _ := one.Search(ctx, zhang, "vpn", "hardware", 0); len(hits) != 0 {
			t.Errorf("another category's article: %+v", hits)
		}
		if hits, err := one.Suggest(ctx, wang, "你好，我在家里 VPN 一直连不上，提示证书错误"); err != nil || !found(hits, a.ID) {
			t.Errorf("suggest: %+v %v", hits, err)
		}
		_, err = one.Suggest(ctx, zhang, "vpn")
		code(t, err, desk.EForbidden)
		_, err = one.Search(ctx, zhang, " ", "", 0)
		code(t, err, desk.EInvalid)

		if hits, _ := two.Search(ctx, zhang, "vpn连不上", "", 0); len(hits) != 0 {
			t.Fatalf("the other node knew before refreshing: %+v", hits) // guards the next check
		}
		if err := two.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if hits, _ := two.Search(ctx, zhang, "vpn连不上", "", 0); !found(hits, a.ID) {
			t.Fatalf("the other node after refreshing: %+v", hits)
		}

		rctx, stop := context.WithCancel(ctx)
		three := node()
		done := make(chan struct{})
		go func() { defer close(done); three.Run(rctx) }()
		<-three.Loaded()
		if hits, _ := three.Search(ctx, wang, "VPN 证书", "", 0); !found(hits, a.ID) {
			t.Errorf("a starting node: %+v", hits)
		}
		stop()
		<-done

		if _, err := one.Archive(ctx, boss, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := two.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if hits, _ := two.Search(ctx, zhang, "vpn连不上", "", 0); len(hits) != 0 {
			t.Errorf("the other node still finds the archived article: %+v", hits)
		}
	})
}

// TestSynonyms: the defaults apply until an admin saves groups, which
// are stored, audited, and applied on every node.
func TestSynonyms(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		log, node := setup(t, db)
		one, two := node(), node()
		a, err := one.Create(ctx, wang, kb.Content{Title: "共享打印机脱机", Body: "在设置里重新添加打印机", Category: "hardware"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := one.Publish(ctx, boss, a.ID); err != nil {
			t.Fatal(err)
		}
		syn, err := one.Synonyms(ctx, wang)
		if err != nil || !syn.Default || len(syn.Groups) == 0 {
			t.Fatalf("defaults: %+v %v", syn, err)
		}
		if hits, _ := one.Search(ctx, zhang, "printer", "", 0); !found(hits, a.ID) {
			t.Fatalf("a default synonym: %+v", hits)
		}
		_, err = one.Synonyms(ctx, zhang)
		code(t, err, desk.EForbidden)

		groups := [][]string{{"打印机", "复印机", "小黑盒"}}
		_, err = one.SaveSynonyms(ctx, wang, groups)
		code(t, err, desk.EForbidden)
		for _, bad := range [][][]string{{{"打印机"}}, {{"打印机", strings.Repeat("长", 40)}}, {{"a", "b\nc"}}} {
			_, err = one.SaveSynonyms(ctx, boss, bad)
			code(t, err, desk.EInvalid)
		}
		if syn, _ := one.Synonyms(ctx, wang); !syn.Default {
			t.Fatal("a refused save changed the synonyms")
		}
		if _, err := one.SaveSynonyms(ctx, boss, groups); err != nil {
			t.Fatal(err)
		}
		if hits, _ := one.Search(ctx, zhang, "小黑盒", "", 0); !found(hits, a.ID) {
			t.Errorf("the saved synonym on its node: %+v", hits)
		}
		if hits, _ := one.Search(ctx, zhang, "printer", "", 0); found(hits, a.ID) {
			t.Errorf("the defaults still apply after a save: %+v", hits)
		}
		if err := two.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if syn, _ := two.Synonyms(ctx, wang); syn.Default || len(syn.Groups) != 1 {
			t.Errorf("the other node's synonyms: %+v", syn)
		}
		if hits, _ := two.Search(ctx, zhang, "小黑盒", "", 0); !found(hits, a.ID) {
			t.Errorf("the saved synonym on the other node: %+v", hits)
		}
		if entries, _ := log.List(ctx, 0, 1); len(entries) != 1 || entries[0].Action != "kb.synonyms" {
			t.Errorf("audit: %+v", entries)
		}
	})
}

// TestDeflectionStats: what employees were offered before asking, and
// whether it settled their question, makes the admins' figures.
func TestDeflectionStats(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		_, node := setup(t, db)
		s := node()
		a, _ := s.Create(ctx, wang, vpn)
		b, _ := s.Create(ctx, wang, kb.Content{Title: "打印机脱机", Body: "x", Category: "hardware"})
		for _, id := range []string{a.ID, b.ID} {
			if _, err := s.Publish(ctx, boss, id); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{a.ID, a.ID, b.ID} {
			if _, err := s.Get(ctx, zhang, id); err != nil {
				t.Fatal(err)
			}
		}
		s.Feedback(ctx, zhang, a.ID, true)
		s.Feedback(ctx, zhang, a.ID, true)
		s.Feedback(ctx, zhang, b.ID, false)
		if err := s.RecordDeflection(ctx, zhang, "vpn 连不上", []string{a.ID}, true); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordDeflection(ctx, zhang, "打印机", []string{b.ID, a.ID}, false); err != nil {
			t.Fatal(err)
		}
		code(t, s.RecordDeflection(ctx, wang, "x", []string{a.ID}, true), desk.EForbidden)
		code(t, s.RecordDeflection(ctx, zhang, " ", []string{a.ID}, true), desk.EInvalid)
		code(t, s.RecordDeflection(ctx, zhang, "x", nil, true), desk.EInvalid)
		code(t, s.RecordDeflection(ctx, zhang, "x", []string{"../etc"}, true), desk.EInvalid)

		from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		_, err := s.Stats(ctx, wang, from, to)
		code(t, err, desk.EForbidden)
		_, err = s.Stats(ctx, boss, to, from)
		code(t, err, desk.EInvalid)
		st, err := s.Stats(ctx, boss, from, to)
		if err != nil {
			t.Fatal(err)
		}
		want := kb.Stats{From: st.From, To: st.To, Deflections: 2, Resolved: 1, DeflectionRate: 0.5, Views: 3, ArticlesViewed: 2,
			Helped: 2, NotHelped: 1, HelpedRatio: 2.0 / 3}
		if st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
		if st, _ := s.Stats(ctx, boss, to, to.Add(time.Hour)); st.Deflections != 0 || st.Views != 0 || st.DeflectionRate != 0 {
			t.Errorf("an empty period: %+v", st)
		}
	})
}

// TestSlowClockNode: a node whose clock runs behind stamps its publish
// before a change another node has already seen; that node still picks
// it up at its next refresh.
func TestSlowClockNode(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		log, node := setup(t, db)
		one, two := node(), node()
		slow, err := kb.New(kb.Config{Store: db, Agents: db, Audit: log, Now: func() time.Time { return time.Now().Add(-30 * time.Second) }})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := one.Create(ctx, wang, vpn)
		if _, err := one.Publish(ctx, boss, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := two.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		b, err := slow.Create(ctx, wang, kb.Content{Title: "打印机脱机怎么办", Body: "重新添加打印机", Category: "hardware"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := slow.Publish(ctx, boss, b.ID); err != nil {
			t.Fatal(err)
		}
		if err := two.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if hits, _ := two.Search(ctx, zhang, "打印机脱机", "", 0); !found(hits, b.ID) {
			t.Errorf("the slow node's publish was missed: %+v", hits)
		}
	})
}
