package conversation

import (
	"context"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// AgentInfo is an agent as other agents see them: who they are, to invite
// or transfer to.
type AgentInfo struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// Agents lists the agents a conversation can be handed to.
func (s *Service) Agents(ctx context.Context, viewer desk.Principal) ([]AgentInfo, error) {
	if viewer.Role != desk.RoleAgent {
		return nil, desk.Errorf(desk.EForbidden, "only agents list agents")
	}
	agents, err := s.agents.Agents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AgentInfo, 0, len(agents))
	for _, a := range agents {
		out = append(out, AgentInfo{ID: a.ID, Username: a.Username, Name: a.Name})
	}
	return out, nil
}
