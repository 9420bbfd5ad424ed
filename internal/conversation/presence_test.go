package conversation_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/presence"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

// presenceDesk is a running Service on SQLite with a Memory tracker, or
// none when tr is nil.
func presenceDesk(t *testing.T, tr func(desk.Bus) conversation.Presence) *conversation.Service {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := bus.NewMemory(func(desk.Event) {})
	cfg := conversation.Config{Store: db, Agents: db, Bus: b}
	if tr != nil {
		cfg.Presence = tr(b)
	}
	svc := conversation.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := db.CreateAgent(ctx, desk.Agent{ID: id, Username: id, Name: "Agent " + id, PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	return svc
}

func TestAgentsCarryPresence(t *testing.T) {
	var tracker *presence.Memory
	svc := presenceDesk(t, func(b desk.Bus) conversation.Presence {
		tracker = presence.NewMemory(b, presence.Options{})
		return tracker
	})
	ctx := context.Background()
	tracker.Connected("a1")
	tracker.Connected("a2")
	if st, changed, err := svc.SetPresence(ctx, a2, desk.PresenceAway); st != desk.PresenceAway || !changed || err != nil {
		t.Fatalf("SetPresence(away) = %q, %v, %v", st, changed, err)
	}
	agents, err := svc.Agents(ctx, a3)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]desk.PresenceStatus{}
	for _, a := range agents {
		got[a.ID] = a.Status
	}
	want := map[string]desk.PresenceStatus{"a1": desk.PresenceOnline, "a2": desk.PresenceAway, "a3": desk.PresenceOffline}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("agent %s: status %q, want %q", id, got[id], st)
		}
	}

	// Waiting employees count the agents who can take their request.
	c, _, err := svc.Create(ctx, emp, conversation.NewConversation{Subject: "打印机", Body: "卡纸了"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.Get(ctx, emp, c.ID)
	if err != nil || v.AgentsOnline != 1 {
		t.Errorf("employee sees %d agents online (err %v), want 1: away agents do not count", v.AgentsOnline, err)
	}

	t.Run("refusals", func(t *testing.T) {
		_, _, err := svc.SetPresence(ctx, emp, desk.PresenceAway)
		wantCode(t, err, desk.EForbidden)
		_, _, err = svc.SetPresence(ctx, a1, desk.PresenceOffline)
		wantCode(t, err, desk.EInvalid)
	})
}

func TestAgentsWithoutPresence(t *testing.T) {
	svc := presenceDesk(t, nil)
	agents, err := svc.Agents(context.Background(), a1)
	if err != nil || len(agents) != 3 {
		t.Fatalf("Agents = %v, %v", agents, err)
	}
	for _, a := range agents {
		if a.Status != desk.PresenceOffline {
			t.Errorf("agent %s: status %q without a tracker, want offline", a.ID, a.Status)
		}
	}
	_, _, err = svc.SetPresence(context.Background(), a1, desk.PresenceAway)
	wantCode(t, err, desk.EUnavailable)
}
