// Package staff is the desk's agents as admins manage them from the
// console: who they are, their role, whether they may sign in, their
// password and WeCom member. Every change is an admin action, audited.
package staff

import (
	"context"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Member is an agent as the admin area shows them.
type Member struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	Name        string `json:"name"`
	Role        string `json:"role"`
	Disabled    bool   `json:"disabled"`
	WeComUserID string `json:"wecom_userid,omitempty"`
}

// Store reads and changes agents' records.
type Store interface {
	StaffMembers(ctx context.Context) ([]Member, error)
	AgentByID(ctx context.Context, id string) (desk.Agent, error)
	SetAgentName(ctx context.Context, id, name string) error
	SetAgentRole(ctx context.Context, id, role string) error
	BindAgentWeCom(ctx context.Context, agentID, userID string) error
}

// Accounts creates agents and changes what their sign-in rests on
// (*auth.Service): passwords are hashed there, and disabling or a new
// password ends their sessions everywhere.
type Accounts interface {
	CreateAgent(ctx context.Context, username, name, password string) (desk.Agent, error)
	SetAgentDisabled(ctx context.Context, id string, disabled bool) error
	SetAgentPassword(ctx context.Context, id, password string) error
	CheckName(name string) error
}

// Auditor records admin actions.
type Auditor interface {
	Record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error
}

// Service applies the admin rules.
type Service struct {
	store    Store
	accounts Accounts
	audit    Auditor
}

// New returns a Service.
func New(store Store, accounts Accounts, audit Auditor) *Service {
	return &Service{store: store, accounts: accounts, audit: audit}
}

func (s *Service) requireAdmin(ctx context.Context, p desk.Principal) error {
	if p.Role == desk.RoleAgent {
		if a, err := s.store.AgentByID(ctx, p.ID); err == nil && a.IsAdmin() {
			return nil
		} else if err != nil && desk.ErrorCode(err) != desk.ENotFound {
			return err
		}
	}
	return desk.Errorf(desk.EForbidden, "only admins manage agents")
}

// List returns every agent, disabled ones too.
func (s *Service) List(ctx context.Context, admin desk.Principal) ([]Member, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return nil, err
	}
	out, err := s.store.StaffMembers(ctx)
	if out == nil {
		out = []Member{}
	}
	return out, err
}

// NewMember is an agent to create.
type NewMember struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// Create adds an agent.
func (s *Service) Create(ctx context.Context, admin desk.Principal, in NewMember) (Member, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return Member{}, err
	}
	if in.Role == "" {
		in.Role = desk.AgentRoleAgent
	}
	if in.Role != desk.AgentRoleAgent && in.Role != desk.AgentRoleAdmin {
		return Member{}, desk.Errorf(desk.EInvalid, "role must be %q or %q", desk.AgentRoleAgent, desk.AgentRoleAdmin)
	}
	a, err := s.accounts.CreateAgent(ctx, strings.TrimSpace(in.Username), strings.TrimSpace(in.Name), in.Password)
	if err != nil {
		return Member{}, err
	}
	if in.Role != desk.AgentRoleAgent {
		if err := s.store.SetAgentRole(ctx, a.ID, in.Role); err != nil {
			return Member{}, err
		}
	}
	m := Member{ID: a.ID, Username: a.Username, Name: a.Name, Role: in.Role}
	return m, s.audit.Record(ctx, admin, "agent.create", a.ID, nil, m)
}

// Change is what an admin changes about an agent; nil leaves it.
type Change struct {
	Name        *string `json:"name"`
	Role        *string `json:"role"`
	Disabled    *bool   `json:"disabled"`
	Password    *string `json:"password"`
	WeComUserID *string `json:"wecom_userid"`
}

// Update applies a change to an agent. Admins cannot take away their own
// admin role or disable themselves: a desk must not lock itself out.
func (s *Service) Update(ctx context.Context, admin desk.Principal, id string, c Change) (Member, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return Member{}, err
	}
	before, err := s.member(ctx, id)
	if err != nil {
		return Member{}, err
	}
	if id == admin.ID && ((c.Role != nil && *c.Role != desk.AgentRoleAdmin) || (c.Disabled != nil && *c.Disabled)) {
		return Member{}, desk.Errorf(desk.EConflict, "you cannot remove your own admin role or disable yourself")
	}
	if c.Name != nil {
		name := strings.TrimSpace(*c.Name)
		if err := s.accounts.CheckName(name); err != nil {
			return Member{}, err
		}
		if err := s.store.SetAgentName(ctx, id, name); err != nil {
			return Member{}, err
		}
	}
	if c.Role != nil {
		if err := s.store.SetAgentRole(ctx, id, *c.Role); err != nil {
			return Member{}, err
		}
	}
	if c.WeComUserID != nil {
		if err := s.store.BindAgentWeCom(ctx, id, strings.TrimSpace(*c.WeComUserID)); err != nil {
			return Member{}, err
		}
	}
	if c.Password != nil {
		if err := s.accounts.SetAgentPassword(ctx, id, *c.Password); err != nil {
			return Member{}, err
		}
		if err := s.audit.Record(ctx, admin, "agent.password", id, nil, nil); err != nil {
			return Member{}, err
		}
	}
	if c.Disabled != nil && *c.Disabled != before.Disabled {
		if err := s.accounts.SetAgentDisabled(ctx, id, *c.Disabled); err != nil {
			return Member{}, err
		}
	}
	after, err := s.member(ctx, id)
	if err != nil {
		return Member{}, err
	}
	if after != before {
		if err := s.audit.Record(ctx, admin, "agent.update", id, before, after); err != nil {
			return Member{}, err
		}
	}
	return after, nil
}

func (s *Service) member(ctx context.Context, id string) (Member, error) {
	all, err := s.store.StaffMembers(ctx)
	if err != nil {
		return Member{}, err
	}
	for _, m := range all {
		if m.ID == id {
			return m, nil
		}
	}
	return Member{}, desk.Errorf(desk.ENotFound, "agent not found")
}
