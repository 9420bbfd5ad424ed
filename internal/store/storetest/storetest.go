// Package storetest is the contract test suite every desk store runs, so
// the SQLite and PostgreSQL stores cannot drift apart.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// RunAgentStore checks desk.AgentStore's contract. open must return an
// empty store; it is called once per subtest and owns the cleanup.
func RunAgentStore(t *testing.T, open func(t *testing.T) desk.AgentStore) {
	ctx := context.Background()
	alice := desk.Agent{ID: "agt_alice", Username: "alice", Name: "Alice 张", PasswordHash: "$2a$04$hash-a", Role: desk.AgentRoleAgent}

	t.Run("create then look up", func(t *testing.T) {
		s := open(t)
		if err := s.CreateAgent(ctx, alice); err != nil {
			t.Fatalf("CreateAgent: %v", err)
		}
		byName, err := s.AgentByUsername(ctx, alice.Username)
		if err != nil || byName != alice {
			t.Errorf("AgentByUsername = %+v, %v; want %+v", byName, err, alice)
		}
		byID, err := s.AgentByID(ctx, alice.ID)
		if err != nil || byID != alice {
			t.Errorf("AgentByID = %+v, %v; want %+v", byID, err, alice)
		}
	})

	t.Run("disable and enable", func(t *testing.T) {
		s := open(t)
		if err := s.CreateAgent(ctx, alice); err != nil {
			t.Fatalf("CreateAgent: %v", err)
		}
		if ids, err := s.DisabledAgentIDs(ctx); err != nil || len(ids) != 0 {
			t.Fatalf("DisabledAgentIDs before = %v, %v", ids, err)
		}
		if err := s.SetAgentDisabled(ctx, alice.ID, true); err != nil {
			t.Fatal(err)
		}
		if ids, err := s.DisabledAgentIDs(ctx); err != nil || !slices.Equal(ids, []string{alice.ID}) {
			t.Fatalf("DisabledAgentIDs after = %v, %v", ids, err)
		}
		if _, err := s.AgentByUsername(ctx, alice.Username); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("a disabled agent was found: %v", err)
		}
		if list, _ := s.Agents(ctx); len(list) != 0 {
			t.Errorf("a disabled agent is listed: %v", list)
		}
		if err := s.SetAgentDisabled(ctx, alice.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AgentByID(ctx, alice.ID); err != nil {
			t.Errorf("re-enabled agent not found: %v", err)
		}
		if err := s.SetAgentDisabled(ctx, "agt_nobody", true); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("disabling nobody: %v", err)
		}
		if ids, err := s.DisabledAgentIDs(ctx); err != nil || len(ids) != 0 {
			t.Errorf("DisabledAgentIDs after re-enabling = %v, %v", ids, err)
		}
	})

	t.Run("list by name without password hashes", func(t *testing.T) {
		s := open(t)
		bob := desk.Agent{ID: "agt_bob", Username: "bob", Name: "Bob 王", PasswordHash: "$2a$04$hash-b", Role: desk.AgentRoleAdmin}
		for _, a := range []desk.Agent{bob, alice} {
			if err := s.CreateAgent(ctx, a); err != nil {
				t.Fatalf("CreateAgent: %v", err)
			}
		}
		got, err := s.Agents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []desk.Agent{{ID: alice.ID, Username: alice.Username, Name: alice.Name, Role: alice.Role}, {ID: bob.ID, Username: bob.Username, Name: bob.Name, Role: bob.Role}}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("Agents = %+v, want %+v", got, want)
		}
	})

	t.Run("roles", func(t *testing.T) {
		s := open(t)
		if err := s.CreateAgent(ctx, alice); err != nil {
			t.Fatalf("CreateAgent: %v", err)
		}
		if err := s.SetAgentRole(ctx, alice.ID, desk.AgentRoleAdmin); err != nil {
			t.Fatal(err)
		}
		if a, err := s.AgentByID(ctx, alice.ID); err != nil || !a.IsAdmin() {
			t.Errorf("after SetAgentRole(admin): %+v %v", a, err)
		}
		if err := s.SetAgentRole(ctx, alice.ID, "root"); desk.ErrorCode(err) != desk.EInvalid {
			t.Errorf("an unknown role: %v", err)
		}
		if err := s.SetAgentRole(ctx, "agt_nobody", desk.AgentRoleAdmin); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("nobody made admin: %v", err)
		}
	})

	t.Run("unknown agents are not found", func(t *testing.T) {
		s := open(t)
		if err := s.CreateAgent(ctx, alice); err != nil {
			t.Fatalf("CreateAgent: %v", err)
		}
		lookups := []struct {
			name   string
			lookup func() (desk.Agent, error)
		}{
			{"username", func() (desk.Agent, error) { return s.AgentByUsername(ctx, "bob") }},
			{"id", func() (desk.Agent, error) { return s.AgentByID(ctx, "agt_bob") }},
			{"username is not an id", func() (desk.Agent, error) { return s.AgentByID(ctx, alice.Username) }},
			{"empty username", func() (desk.Agent, error) { return s.AgentByUsername(ctx, "") }},
		}
		for _, tt := range lookups {
			t.Run(tt.name, func(t *testing.T) {
				a, err := tt.lookup()
				if code := desk.ErrorCode(err); code != desk.ENotFound {
					t.Errorf("error = %v (code %q), want code %q", err, code, desk.ENotFound)
				}
				if a != (desk.Agent{}) {
					t.Errorf("agent = %+v, want the zero Agent", a)
				}
			})
		}
	})

	t.Run("duplicates conflict", func(t *testing.T) {
		tests := []struct {
			name string
			dup  desk.Agent
		}{
			{"same username", desk.Agent{ID: "agt_other", Username: alice.Username, Name: "Other", PasswordHash: "x"}},
			{"same id", desk.Agent{ID: alice.ID, Username: "other", Name: "Other", PasswordHash: "x"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				if err := s.CreateAgent(ctx, alice); err != nil {
					t.Fatalf("CreateAgent: %v", err)
				}
				err := s.CreateAgent(ctx, tt.dup)
				if code := desk.ErrorCode(err); code != desk.EConflict {
					t.Fatalf("CreateAgent(duplicate) = %v (code %q), want code %q", err, code, desk.EConflict)
				}
				// The first agent is untouched.
				got, err := s.AgentByUsername(ctx, alice.Username)
				if err != nil || got != alice {
					t.Errorf("after conflict AgentByUsername = %+v, %v; want %+v", got, err, alice)
				}
			})
		}
	})

	t.Run("concurrent creates", func(t *testing.T) {
		s := open(t)
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = s.CreateAgent(ctx, desk.Agent{
					ID: fmt.Sprintf("agt_%02d", i), Username: fmt.Sprintf("user%02d", i),
					Name: "N", PasswordHash: "h",
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("CreateAgent #%d: %v", i, err)
			}
		}
		for i := range n {
			if _, err := s.AgentByID(ctx, fmt.Sprintf("agt_%02d", i)); err != nil {
				t.Errorf("AgentByID #%d: %v", i, err)
			}
		}
	})

	t.Run("concurrent creates of one username", func(t *testing.T) {
		s := open(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = s.CreateAgent(ctx, desk.Agent{
					ID: fmt.Sprintf("agt_%02d", i), Username: "same", Name: "N", PasswordHash: "h",
				})
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch desk.ErrorCode(err) {
			case "":
				won++
			case desk.EConflict:
			default:
				t.Errorf("CreateAgent #%d: %v, want success or conflict", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", won)
		}
	})
}
