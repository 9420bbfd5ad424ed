package retention_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/attachment"
	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/filestore"
	"github.com/servicedesk/servicedesk/internal/retention"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
)

type store interface {
	desk.ConversationStore
	desk.AgentStore
	desk.AttachmentStore
	retention.Store
	audit.Store
	Secret(ctx context.Context, name string) ([]byte, error)
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
	zhang = desk.Principal{Role: desk.RoleEmployee, ID: "zhang"}
	li    = desk.Principal{Role: desk.RoleEmployee, ID: "li"}
	a1    = desk.Principal{Role: desk.RoleAgent, ID: "a1"}
	boss  = desk.Principal{Role: desk.RoleAgent, ID: "boss"}
)

// TestRetentionAndErasure: resolved conversations past the retention go
// with their messages, notes, files, ratings and search entries; nothing
// else does; an admin exports and erases one employee's data, audited.
func TestRetentionAndErasure(t *testing.T) {
	stores(t, func(t *testing.T, db store) {
		ctx := context.Background()
		var offset atomic.Int64
		now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		desks := conversation.New(conversation.Config{Store: db, Agents: db, Bus: bus.NewMemory(func(desk.Event) {}), Attachments: db, Now: now})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); desks.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })
		for _, a := range []desk.Agent{{ID: "a1", Username: "a1", Name: "王工"}, {ID: "boss", Username: "boss", Name: "主管", Role: desk.AgentRoleAdmin}} {
			a.PasswordHash = "x"
			db.CreateAgent(ctx, a)
		}
		dir, _ := filestore.OpenDir(t.TempDir())
		files, err := attachment.New(ctx, attachment.Config{Files: dir, Store: db, TempDir: t.TempDir(), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		tokens := tokenstore.NewMemory(nil)
		log := audit.New(db, nil)
		ret := retention.New(retention.Config{Store: db, Files: files, Tokens: tokens, Audit: log, Days: 30, Now: now})

		open := func(who desk.Principal, subject string) desk.Conversation {
			c, _, err := desks.Create(ctx, who, conversation.NewConversation{Subject: subject, Body: "打印机坏了", ClientMsgID: strings.ReplaceAll(subject, " ", "-")})
			if err != nil {
				t.Fatal(err)
			}
			desks.Claim(ctx, a1, c.ID)
			return c
		}
		var pic bytes.Buffer
		png.Encode(&pic, image.NewGray(image.Rect(0, 0, 8, 8)))
		old := open(zhang, "old")
		shot, err := files.Upload(ctx, zhang, "screen.png", bytes.NewReader(pic.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		desks.Send(ctx, zhang, old.ID, "", "with-file", shot.ID)
		desks.Note(ctx, a1, old.ID, "驱动版本旧")
		desks.Resolve(ctx, a1, old.ID)
		desks.Rate(ctx, zhang, old.ID, 5, "")
		stillOpen := open(zhang, "still open")
		recent := open(li, "recent")
		offset.Store(int64(31 * 24 * time.Hour))
		desks.Resolve(ctx, a1, recent.ID) // resolved "today": kept

		n, err := ret.Sweep(ctx)
		if err != nil || n != 1 {
			t.Fatalf("swept %d (%v), want the one resolved 31 days ago", n, err)
		}
		if _, err := db.Conversation(ctx, old.ID); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("the expired conversation is still there: %v", err)
		}
		if evs, _ := db.Events(ctx, old.ID, 0, 100, true); len(evs) != 0 {
			t.Errorf("%d of its events are still there", len(evs))
		}
		if _, _, _, err := files.Open(ctx, shot.ID, false); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("its file is still there: %v", err)
		}
		if hits, _ := db.Search(ctx, desk.SearchQuery{FTS: `"驱 动"`, TS: `('驱' <-> '动')`, Limit: 10}); len(hits) != 0 {
			t.Errorf("its note is still searchable: %v", hits)
		}
		for _, c := range []desk.Conversation{stillOpen, recent} {
			if _, err := db.Conversation(ctx, c.ID); err != nil {
				t.Errorf("%s went too: %v", c.Subject, err)
			}
		}
		if n, _ := ret.Sweep(ctx); n != 0 {
			t.Errorf("a second sweep deleted %d", n)
		}

		// Export and erasure: admins only, everything of one employee.
		_, err = ret.Export(ctx, a1, "zhang")
		if desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("a plain agent exported: %v", err)
		}
		x, err := ret.Export(ctx, boss, "zhang")
		if err != nil || len(x.Conversations) != 1 || x.Conversations[0].ID != stillOpen.ID || len(x.Conversations[0].Events) == 0 {
			t.Fatalf("export: %+v %v", x, err)
		}
		tokens.Put(ctx, desk.RoleEmployee, "tok-zhang-0123456789abcdef", "zhang", time.Hour)
		if n, err := ret.Erase(ctx, boss, "zhang"); err != nil || n != 1 {
			t.Fatalf("erase: %d %v", n, err)
		}
		if _, err := db.Conversation(ctx, stillOpen.ID); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("an erased employee's open conversation is still there: %v", err)
		}
		if _, err := db.Employee(ctx, "zhang"); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("an erased employee's profile is still there: %v", err)
		}
		if _, err := tokens.Lookup(ctx, desk.RoleEmployee, "tok-zhang-0123456789abcdef"); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("an erased employee's session survived: %v", err)
		}
		if _, err := db.Conversation(ctx, recent.ID); err != nil {
			t.Errorf("another employee's conversation went: %v", err)
		}
		entries, _ := log.List(ctx, 0, 10)
		if len(entries) != 2 || entries[0].Action != "employee.erase" || entries[1].Action != "employee.export" || entries[0].ActorID != "boss" {
			t.Errorf("audit %+v", entries)
		}
	})
}
