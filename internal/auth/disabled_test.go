package auth

import (
	"context"
	"testing"
)

func TestAgentDisabled(t *testing.T) {
	ctx := context.Background()
	e := newTestEnv(t)
	a := e.createAgent(t, "alice", "correct horse")
	want := func(step string, disabled bool) {
		t.Helper()
		got, err := e.svc.AgentDisabled(ctx, a.ID)
		if err != nil || got != disabled {
			t.Fatalf("%s: AgentDisabled = %v, %v; want %v", step, got, err, disabled)
		}
	}
	want("new agent", false)
	if got, err := e.svc.AgentDisabled(ctx, "agt_from_elsewhere"); err != nil || got {
		t.Fatalf("unknown agent: AgentDisabled = %v, %v", got, err)
	}

	// Another node disables alice: this one learns it within DisabledRecheck.
	if err := e.svc.agents.SetAgentDisabled(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	want("just disabled elsewhere, not read again yet", false)
	e.clock.Advance(DisabledRecheck)
	want("disabled elsewhere, after the recheck", true)

	// Changes made here are known here at once.
	if err := e.svc.SetAgentDisabled(ctx, a.ID, false); err != nil {
		t.Fatal(err)
	}
	want("re-enabled here", false)
	if err := e.svc.SetAgentDisabled(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	want("disabled here", true)
}

// A set read while this node changed an agent may predate the change: it
// must be read again before it is trusted.
func TestAgentDisabledReloadRacingAChange(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	var d *disabledAgents
	reads := 0
	d = &disabledAgents{maxAge: DisabledRecheck, now: clock.Now, list: func(context.Context) ([]string, error) {
		reads++
		if reads == 1 {
			d.changed() // "agt_a" was disabled after this read's snapshot
			return nil, nil
		}
		return []string{"agt_a"}, nil
	}}
	if got, _ := d.disabled(ctx, "agt_a"); got {
		t.Fatal("the first read already saw the change")
	}
	if got, err := d.disabled(ctx, "agt_a"); err != nil || !got {
		t.Fatalf("after the racing change: %v, %v; want disabled", got, err)
	}
	if got, _ := d.disabled(ctx, "agt_a"); !got || reads != 2 {
		t.Fatalf("a fresh set was read again: %d reads", reads)
	}
}

// Without its store the check fails, and callers refuse (fail closed).
func TestAgentDisabledStoreDown(t *testing.T) {
	e := newTestEnv(t)
	e.svc.agents.(interface{ Close() error }).Close()
	if _, err := e.svc.AgentDisabled(context.Background(), "agt_x"); err == nil {
		t.Fatal("AgentDisabled answered without its store")
	}
}
