package signin

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/wecom"
	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

// TestProfilesAreReadAtMostDaily: the console's view of an employee is
// read from the directory when older than a day, not on every look; a
// member the directory does not know is asked about at most once an hour.
func TestProfilesAreReadAtMostDaily(t *testing.T) {
	ctx := context.Background()
	fake := wecomfake.Start(wecomfake.DemoOptions())
	t.Cleanup(fake.Close)
	client, err := wecom.New(wecom.Config{CorpID: wecomfake.DemoCorpID, AgentID: wecomfake.DemoAgentID,
		Secret: wecomfake.DemoSecret, APIBase: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	desks := conversation.New(conversation.Config{Store: db, Agents: db, Bus: bus.NewMemory(func(desk.Event) {}), Now: now})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); desks.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	s := New(Config{WeCom: client, Employees: desks, Now: now})
	const userGet = "/cgi-bin/user/get"

	e, err := s.readProfile(ctx, "zhangsan")
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "张三" || e.Department != "示例科技有限公司/市场中心/华东销售部" || e.Position != "销售经理" {
		t.Fatalf("profile read: %+v", e)
	}
	stored, err := desks.StoredEmployee(ctx, "zhangsan")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.FreshProfile(ctx, stored); got != stored || fake.Calls(userGet) != 1 {
		t.Fatalf("a profile read just now was read again (%d calls): %+v", fake.Calls(userGet), got)
	}

	offset.Store(int64(25 * time.Hour))
	got := s.FreshProfile(ctx, stored)
	if fake.Calls(userGet) != 2 || !got.UpdatedAt.After(stored.UpdatedAt) {
		t.Fatalf("a day-old profile was not read again (%d calls): %+v", fake.Calls(userGet), got)
	}
	if again, _ := desks.StoredEmployee(ctx, "zhangsan"); !again.UpdatedAt.After(stored.UpdatedAt) {
		t.Errorf("the refreshed profile was not recorded: %+v", again)
	}

	gone := desk.Employee{ID: "nobody-here", Name: "离职员工", UpdatedAt: now().Add(-48 * time.Hour)}
	for range 3 {
		if got := s.FreshProfile(ctx, gone); got != gone {
			t.Fatalf("a profile the directory cannot read changed: %+v", got)
		}
	}
	if n := fake.Calls(userGet); n != 3 {
		t.Errorf("user/get called %d times in all, want 3 (one try for the unknown member within the hour)", n)
	}
}
