package limits

import (
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// TestCounterCapsEachKey: a principal's count is its own, whatever other
// principals share its id or role, and released places are reusable.
func TestCounterCapsEachKey(t *testing.T) {
	c := NewCounter[desk.Principal](2)
	agent := desk.Principal{Role: desk.RoleAgent, ID: "u1"}
	employee := desk.Principal{Role: desk.RoleEmployee, ID: "u1"}
	for i, want := range []bool{true, true, false} {
		if got := c.Acquire(agent); got != want {
			t.Fatalf("agent's acquire %d = %v, want %v", i+1, got, want)
		}
	}
	if !c.Acquire(employee) {
		t.Fatal("an employee with the agent's id shares the agent's count")
	}
	c.Release(agent)
	if !c.Acquire(agent) {
		t.Fatal("a released place cannot be taken again")
	}
	c.Release(agent)
	c.Release(agent)
	c.Release(agent) // one too many is ignored
	if len(c.m) != 1 {
		t.Errorf("%d keys kept, want only the employee's", len(c.m))
	}
}
