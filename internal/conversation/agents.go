package conversation

import (
	"context"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Presence is what the desk needs of a presence.Tracker.
type Presence interface {
	// Statuses returns every agent who is not offline.
	Statuses(ctx context.Context) (map[string]desk.PresenceStatus, error)
	SetStatus(ctx context.Context, agentID string, s desk.PresenceStatus) (desk.PresenceStatus, bool, error)
	OnlineCount() int
}

// noPresence stands in when no tracker is configured: everyone is offline.
type noPresence struct{}

func (noPresence) Statuses(context.Context) (map[string]desk.PresenceStatus, error) { return nil, nil }
func (noPresence) OnlineCount() int                                                 { return 0 }
func (noPresence) SetStatus(context.Context, string, desk.PresenceStatus) (desk.PresenceStatus, bool, error) {
	return "", false, desk.Errorf(desk.EUnavailable, "presence is not available")
}

// AgentInfo is an agent as other agents see them: who they are, to invite
// or transfer to, and whether they are there.
type AgentInfo struct {
	ID       string              `json:"id"`
	Username string              `json:"username"`
	Name     string              `json:"name"`
	Role     string              `json:"role"`
	Status   desk.PresenceStatus `json:"status"`
}

// Agents lists the agents a conversation can be handed to, with their
// presence.
func (s *Service) Agents(ctx context.Context, viewer desk.Principal) ([]AgentInfo, error) {
	if viewer.Role != desk.RoleAgent {
		return nil, desk.Errorf(desk.EForbidden, "only agents list agents")
	}
	agents, err := s.agents.Agents(ctx)
	if err != nil {
		return nil, err
	}
	statuses, err := s.presence.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AgentInfo, 0, len(agents))
	for _, a := range agents {
		st, ok := statuses[a.ID]
		if !ok {
			st = desk.PresenceOffline
		}
		out = append(out, AgentInfo{ID: a.ID, Username: a.Username, Name: a.Name, Role: roleName(a), Status: st})
	}
	return out, nil
}

// SetPresence records an agent's choice to be online, away or busy; every agent
// connection hears of the change. It returns the agent's resulting status
// and whether it changed.
func (s *Service) SetPresence(ctx context.Context, actor desk.Principal, st desk.PresenceStatus) (desk.PresenceStatus, bool, error) {
	if actor.Role != desk.RoleAgent {
		return "", false, desk.Errorf(desk.EForbidden, "only agents have a presence")
	}
	if !st.Settable() {
		return "", false, desk.Errorf(desk.EInvalid, "status must be %q, %q or %q", desk.PresenceOnline, desk.PresenceAway, desk.PresenceBusy)
	}
	defer s.DispatchSoon() // back from away: room for a waiting one
	return s.presence.SetStatus(ctx, actor.ID, st)
}

func roleName(a desk.Agent) string {
	if a.Role == "" {
		return desk.AgentRoleAgent
	}
	return a.Role
}

// Me is who a token belongs to, as the pages show it.
type Me struct {
	Role     desk.Role `json:"role"` // employee or agent
	ID       string    `json:"id"`
	Username string    `json:"username,omitempty"`
	Name     string    `json:"name"`
	// AgentRole is an agent's role in the desk: agent or admin.
	AgentRole string `json:"agent_role,omitempty"`
}

// Who returns the signed-in person behind p.
func (s *Service) Who(ctx context.Context, p desk.Principal) (Me, error) {
	if p.Role == desk.RoleAgent {
		a, err := s.agents.AgentByID(ctx, p.ID)
		if err != nil {
			return Me{}, err
		}
		return Me{Role: p.Role, ID: a.ID, Username: a.Username, Name: a.Name, AgentRole: roleName(a)}, nil
	}
	e, err := s.store.Employee(ctx, p.ID)
	if err != nil && desk.ErrorCode(err) != desk.ENotFound {
		return Me{}, err
	}
	return Me{Role: p.Role, ID: p.ID, Name: e.Name}, nil
}
