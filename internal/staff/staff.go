// Package staff is the desk's agents, teams and categories as admins
// manage them from the console: who the agents are, their role, whether
// they may sign in, their password and WeCom member; which team answers
// which categories, how (routing) and with how much each (capacity); what
// the categories are called, their colour and default priority, and
// whether employees may still choose them. Every change is an admin
// action, audited.
package staff

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	Teams(ctx context.Context) ([]desk.Team, error)
	SaveTeam(ctx context.Context, t desk.Team) error
	DeleteTeam(ctx context.Context, id string) error
	Categories(ctx context.Context) ([]desk.Category, error)
	SaveCategory(ctx context.Context, c desk.Category) error
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

// Teams lists the teams: every agent may read them (their queue comes
// first in the console).
func (s *Service) Teams(ctx context.Context, agent desk.Principal) ([]desk.Team, error) {
	if agent.Role != desk.RoleAgent {
		return nil, desk.Errorf(desk.EForbidden, "teams are for agents")
	}
	out, err := s.store.Teams(ctx)
	if out == nil {
		out = []desk.Team{}
	}
	return out, err
}

// SaveTeam creates a team (no id) or replaces one, admins only.
func (s *Service) SaveTeam(ctx context.Context, admin desk.Principal, t desk.Team) (desk.Team, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return desk.Team{}, err
	}
	t.Name = strings.TrimSpace(t.Name)
	if t.Routing == "" {
		t.Routing = desk.RoutingManual
	}
	if t.Capacity == 0 {
		t.Capacity = 5
	}
	switch {
	case t.Name == "" || len([]rune(t.Name)) > 40:
		return desk.Team{}, desk.Errorf(desk.EInvalid, "a team needs a name of 1 to 40 characters")
	case t.Routing != desk.RoutingManual && t.Routing != desk.RoutingAuto:
		return desk.Team{}, desk.Errorf(desk.EInvalid, "routing must be %q or %q", desk.RoutingManual, desk.RoutingAuto)
	case t.Capacity < 1 || t.Capacity > 100:
		return desk.Team{}, desk.Errorf(desk.EInvalid, "capacity must be 1 to 100")
	}
	cats, err := s.categoryKeys(ctx)
	if err != nil {
		return desk.Team{}, err
	}
	for _, c := range t.Categories {
		if !cats[c] {
			return desk.Team{}, desk.Errorf(desk.EInvalid, "%q is not a category", c)
		}
	}
	for _, m := range t.Members {
		if _, err := s.store.AgentByID(ctx, m); err != nil {
			return desk.Team{}, desk.Errorf(desk.EInvalid, "%q is not an agent", m)
		}
	}
	if t.LeadID != "" {
		if _, err := s.store.AgentByID(ctx, t.LeadID); err != nil {
			return desk.Team{}, desk.Errorf(desk.EInvalid, "lead %q is not an agent", t.LeadID)
		}
	}
	var before any
	if t.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		t.ID = "tm_" + hex.EncodeToString(b[:])
	} else {
		old, err := s.team(ctx, t.ID)
		if err != nil {
			return desk.Team{}, err
		}
		before = old
	}
	if t.Members == nil {
		t.Members = []string{}
	}
	if t.Categories == nil {
		t.Categories = []string{}
	}
	if err := s.store.SaveTeam(ctx, t); err != nil {
		return desk.Team{}, err
	}
	action := "team.update"
	if before == nil {
		action = "team.create"
	}
	return t, s.audit.Record(ctx, admin, action, t.ID, before, t)
}

// DeleteTeam removes a team; its categories go back to the shared queue.
func (s *Service) DeleteTeam(ctx context.Context, admin desk.Principal, id string) error {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return err
	}
	old, err := s.team(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTeam(ctx, id); err != nil {
		return err
	}
	return s.audit.Record(ctx, admin, "team.delete", id, old, nil)
}

func (s *Service) team(ctx context.Context, id string) (desk.Team, error) {
	all, err := s.store.Teams(ctx)
	if err != nil {
		return desk.Team{}, err
	}
	for _, t := range all {
		if t.ID == id {
			return t, nil
		}
	}
	return desk.Team{}, desk.Errorf(desk.ENotFound, "team not found")
}
