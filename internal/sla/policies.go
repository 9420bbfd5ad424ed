package sla

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// RefreshInterval is how often a node reads the policies again, so an
// admin's change on one node applies on all within it.
const RefreshInterval = 5 * time.Second

// maxTarget bounds a target: a year is already no target at all.
const maxTarget = 365 * 24 * time.Hour

// Store keeps the policies.
type Store interface {
	SLAPolicies(ctx context.Context) ([]Policy, error)
	SaveSLAPolicy(ctx context.Context, p Policy) error
	DeleteSLAPolicy(ctx context.Context, id string) error
}

// Agents tells admins from other agents.
type Agents interface {
	AgentByID(ctx context.Context, id string) (desk.Agent, error)
}

// Auditor records admin actions.
type Auditor interface {
	Record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error
}

// Service holds the policies in force on this node and lets admins
// change them.
type Service struct {
	store  Store
	agents Agents
	audit  Auditor
	log    *slog.Logger
	cur    atomic.Pointer[[]Policy]
}

// NewService returns a Service with no policies until Load.
func NewService(store Store, agents Agents, audit Auditor, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{store: store, agents: agents, audit: audit, log: log}
	s.cur.Store(&[]Policy{})
	return s
}

// Load reads the policies.
func (s *Service) Load(ctx context.Context) error {
	ps, err := s.store.SLAPolicies(ctx)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []Policy{}
	}
	s.cur.Store(&ps)
	return nil
}

// Run reloads the policies every RefreshInterval until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Load(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sla policies reload failed", "error", err)
			}
		}
	}
}

// Policies returns the policies in force.
func (s *Service) Policies() []Policy { return *s.cur.Load() }

// List returns the policies; any agent may read them.
func (s *Service) List(_ context.Context, viewer desk.Principal) ([]Policy, error) {
	if viewer.Role != desk.RoleAgent {
		return nil, desk.Errorf(desk.EForbidden, "only agents read service levels")
	}
	return s.Policies(), nil
}

func (s *Service) requireAdmin(ctx context.Context, p desk.Principal) error {
	if p.Role == desk.RoleAgent {
		a, err := s.agents.AgentByID(ctx, p.ID)
		if err == nil && a.IsAdmin() {
			return nil
		}
		if err != nil && desk.ErrorCode(err) != desk.ENotFound {
			return err
		}
	}
	return desk.Errorf(desk.EForbidden, "only admins change service levels")
}

// Save creates (no id) or replaces a policy, admins only, audited. It
// applies at once on this node, on the others within RefreshInterval.
func (s *Service) Save(ctx context.Context, admin desk.Principal, p Policy) (Policy, error) {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return Policy{}, err
	}
	p.Name = strings.TrimSpace(p.Name)
	if p.WarnShare == 0 {
		p.WarnShare = 0.75
	}
	switch {
	case p.Name == "" || len([]rune(p.Name)) > 60:
		return Policy{}, desk.Errorf(desk.EInvalid, "a policy needs a name of 1 to 60 characters")
	case !slices.Contains(desk.Priorities, p.Priority):
		return Policy{}, desk.Errorf(desk.EInvalid, "priority must be one of %s", strings.Join(desk.Priorities, ", "))
	case p.FirstResponse < 0 || p.NextResponse < 0 || p.Resolution < 0 || p.FirstResponse > maxTarget || p.NextResponse > maxTarget || p.Resolution > maxTarget:
		return Policy{}, desk.Errorf(desk.EInvalid, "targets are 0 (none) to a year")
	case p.FirstResponse == 0 && p.NextResponse == 0 && p.Resolution == 0:
		return Policy{}, desk.Errorf(desk.EInvalid, "a policy needs at least one target")
	case p.WarnShare <= 0 || p.WarnShare >= 1:
		return Policy{}, desk.Errorf(desk.EInvalid, "warn_share must be between 0 and 1")
	case len(p.Escalations) > 10:
		return Policy{}, desk.Errorf(desk.EInvalid, "at most 10 escalations a policy")
	}
	seen := map[string]bool{}
	for _, e := range p.Escalations {
		switch {
		case !slices.Contains(Kinds, e.Clock) || p.Target(e.Clock) <= 0:
			return Policy{}, desk.Errorf(desk.EInvalid, "an escalation needs a clock the policy has a target for (%s)", strings.Join(Kinds, ", "))
		case !slices.Contains(Actions, e.Action):
			return Policy{}, desk.Errorf(desk.EInvalid, "escalation action must be one of %s", strings.Join(Actions, ", "))
		case e.Offset < -maxTarget || e.Offset > maxTarget:
			return Policy{}, desk.Errorf(desk.EInvalid, "an escalation's offset is at most a year either way")
		case seen[e.Clock+e.Key()]:
			return Policy{}, desk.Errorf(desk.EInvalid, "the same escalation twice")
		}
		seen[e.Clock+e.Key()] = true
	}
	if p.Escalations == nil {
		p.Escalations = []Escalation{}
	}
	all, err := s.store.SLAPolicies(ctx)
	if err != nil {
		return Policy{}, err
	}
	var before any
	if p.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		p.ID = "sla_" + hex.EncodeToString(b[:])
	} else if i := slices.IndexFunc(all, func(q Policy) bool { return q.ID == p.ID }); i >= 0 {
		before = all[i]
	} else {
		return Policy{}, desk.Errorf(desk.ENotFound, "policy not found")
	}
	for _, q := range all {
		if q.ID != p.ID && q.Priority == p.Priority && q.Category == p.Category && q.TeamID == p.TeamID {
			return Policy{}, desk.Errorf(desk.EConflict, "policy %q already covers that priority, category and team", q.Name)
		}
	}
	if err := s.store.SaveSLAPolicy(ctx, p); err != nil {
		return Policy{}, err
	}
	action := "sla.update"
	if before == nil {
		action = "sla.create"
	}
	if err := s.Load(ctx); err != nil {
		s.log.Warn("sla policies reload failed", "error", err)
	}
	return p, s.audit.Record(ctx, admin, action, p.ID, before, p)
}

// Delete removes a policy, admins only, audited. Clocks it started keep
// their targets.
func (s *Service) Delete(ctx context.Context, admin desk.Principal, id string) error {
	if err := s.requireAdmin(ctx, admin); err != nil {
		return err
	}
	all, err := s.store.SLAPolicies(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(all, func(q Policy) bool { return q.ID == id })
	if i < 0 {
		return desk.Errorf(desk.ENotFound, "policy not found")
	}
	if err := s.store.DeleteSLAPolicy(ctx, id); err != nil {
		return err
	}
	if err := s.Load(ctx); err != nil {
		s.log.Warn("sla policies reload failed", "error", err)
	}
	return s.audit.Record(ctx, admin, "sla.delete", id, all[i], nil)
}
