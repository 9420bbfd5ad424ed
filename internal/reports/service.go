package reports

import (
	"context"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Agents names agents and tells admins.
type Agents interface {
	AgentByID(ctx context.Context, id string) (desk.Agent, error)
}

// Teams tells team leads.
type Teams interface {
	Teams(ctx context.Context) ([]desk.Team, error)
}

// Service answers reports to those who may read them: admins and team
// leads in the console, other systems with the operator API key.
type Service struct {
	store  Store
	agents Agents
	teams  Teams
	// clock gives the desk's time zone and working time as they are now
	// (the admins may change business hours at any moment).
	clock func() (*time.Location, WorkingTime)
}

// NewService returns a Service; clock may be nil (UTC, calendar time).
func NewService(store Store, agents Agents, teams Teams, clock func() (*time.Location, WorkingTime)) *Service {
	if clock == nil {
		clock = func() (*time.Location, WorkingTime) { return time.UTC, nil }
	}
	return &Service{store: store, agents: agents, teams: teams, clock: clock}
}

// MayRead says whether viewer may read reports: admins, and the agents
// who lead a team.
func (s *Service) MayRead(ctx context.Context, viewer desk.Principal) error {
	if viewer.Role == desk.RoleAgent {
		a, err := s.agents.AgentByID(ctx, viewer.ID)
		if err != nil && desk.ErrorCode(err) != desk.ENotFound {
			return err
		}
		if err == nil && a.IsAdmin() {
			return nil
		}
		teams, err := s.teams.Teams(ctx)
		if err != nil {
			return err
		}
		for _, t := range teams {
			if t.LeadID == viewer.ID {
				return nil
			}
		}
	}
	return desk.Errorf(desk.EForbidden, "reports are for admins and team leads")
}

// Report builds the report for f; trusted skips the reader check (the
// operator API key was given).
func (s *Service) Report(ctx context.Context, viewer desk.Principal, trusted bool, f Filter) (Report, error) {
	if !trusted {
		if err := s.MayRead(ctx, viewer); err != nil {
			return Report{}, err
		}
	}
	zone, wt := s.clock()
	names := map[string]string{}
	name := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		n := id
		if a, err := s.agents.AgentByID(ctx, id); err == nil && a.Name != "" {
			n = a.Name
		}
		names[id] = n
		return n
	}
	return Build(ctx, s.store, f, zone, wt, name)
}
