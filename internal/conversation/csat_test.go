package conversation_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestSatisfaction: after an agent resolves, the employee rates once per
// resolution, may change it for a day, agents see it, admins see it per
// agent.
func TestSatisfaction(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		var offset atomic.Int64
		svc := conversation.New(conversation.Config{Store: h.db, Agents: h.db, Bus: bus.NewMemory(func(desk.Event) {}),
			Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); svc.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })

		// Account requests go to a team (claimed by hand): its ratings add
		// up per team too.
		if err := h.db.(interface {
			SaveTeam(ctx context.Context, t desk.Team) error
		}).SaveTeam(ctx, desk.Team{ID: "tm_acc", Name: "账号组", Routing: desk.RoutingManual, Capacity: 5, Categories: []string{"account"}}); err != nil {
			t.Fatal(err)
		}
		c := h.create()
		_, err := svc.Rate(ctx, emp, c.ID, 5, "")
		wantCode(t, err, desk.EConflict) // not resolved yet
		svc.Claim(ctx, a1, c.ID)
		svc.Resolve(ctx, a1, c.ID)
		for _, bad := range []int{0, 6} {
			_, err := svc.Rate(ctx, emp, c.ID, bad, "")
			wantCode(t, err, desk.EInvalid)
		}
		_, err = svc.Rate(ctx, desk.Principal{Role: desk.RoleEmployee, ID: "e9"}, c.ID, 5, "")
		wantCode(t, err, desk.ENotFound)
		_, err = svc.Rate(ctx, a1, c.ID, 5, "")
		wantCode(t, err, desk.EForbidden)
		if r, err := svc.Rate(ctx, emp, c.ID, 3, "有点慢"); err != nil || r.AgentID != "a1" || r.Score != 3 {
			t.Fatalf("rate: %+v %v", r, err)
		}
		offset.Store(int64(2 * time.Hour))
		if _, err := svc.Rate(ctx, emp, c.ID, 5, "后来很快解决了"); err != nil {
			t.Fatalf("changing within the day: %v", err)
		}
		v, err := svc.Get(ctx, a1, c.ID)
		if err != nil || v.Rating == nil || v.Rating.Score != 5 || v.Rating.Comment != "后来很快解决了" {
			t.Fatalf("the agent's view of the rating: %+v %v", v.Rating, err)
		}
		offset.Store(int64(25 * time.Hour))
		_, err = svc.Rate(ctx, emp, c.ID, 1, "")
		wantCode(t, err, desk.EConflict)

		// A second round: reopened, resolved again, rated again on its own.
		svc.Send(ctx, emp, c.ID, "又连不上了", "")
		svc.Resolve(ctx, a1, c.ID)
		if _, err := svc.Rate(ctx, emp, c.ID, 4, ""); err != nil {
			t.Fatalf("the second resolution: %v", err)
		}
		evs, _ := svc.Events(ctx, emp, c.ID, 0, 100)
		rated := 0
		for _, ev := range evs {
			if ev.Type == desk.EventRated {
				rated++
			}
		}
		if rated != 3 {
			t.Errorf("%d rating events, want 3", rated)
		}

		_, err = svc.Ratings(ctx, a1, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
		wantCode(t, err, desk.EForbidden)
		h.db.SetAgentRole(ctx, "a3", desk.AgentRoleAdmin)
		st, err := svc.Ratings(ctx, a3, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Agents) != 1 || st.Agents[0].AgentID != "a1" || st.Agents[0].Count != 2 || st.Agents[0].Average != 4.5 ||
			st.Agents[0].Scores != [5]int{0, 0, 0, 1, 1} || st.Agents[0].Name != "Agent a1" {
			t.Errorf("per agent: %+v", st.Agents)
		}
		if len(st.Teams) != 1 || st.Teams[0].TeamID != "tm_acc" || st.Teams[0].Count != 2 || st.Teams[0].Average != 4.5 {
			t.Errorf("per team: %+v", st.Teams)
		}
		if st.Overall.Count != 2 || st.Resolved != 1 || st.Rate != 1 {
			t.Errorf("overall %+v, resolved %d, response rate %v", st.Overall, st.Resolved, st.Rate)
		}
	})
}
