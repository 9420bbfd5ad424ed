// Package canned keeps the answers agents give again and again (the VPN
// certificate steps, the password reset link): shared ones that admins
// write for the whole desk or for one team, and each agent's own. The console offers them
// when "/" is typed in the composer and fills in their variables
// ({{employee.name}}, {{agent.name}}, {{conversation.ref}}).
package canned

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Scopes of a reply.
const (
	Shared   = "shared"   // every agent's; admins write them
	Personal = "personal" // one agent's own
)

// Limits.
const (
	maxTitleRunes = 60
	maxBodyBytes  = 4000
	// MaxPerAgent bounds the replies one agent sees, shared ones included.
	MaxPerAgent = 500
)

// Reply is one canned reply.
type Reply struct {
	ID      string `json:"id"`
	Scope   string `json:"scope"`
	OwnerID string `json:"owner_id,omitempty"`
	// TeamID, on a shared reply, keeps it to that team's members (and
	// admins); empty: the whole desk's.
	TeamID    string    `json:"team_id,omitempty"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store keeps replies. CannedReplies lists the shared ones of the whole
// desk and of ownerID's teams (of every team with everyTeam), and
// ownerID's personal ones.
type Store interface {
	CannedReplies(ctx context.Context, ownerID string, everyTeam bool, limit int) ([]Reply, error)
	CannedReply(ctx context.Context, id string) (Reply, error)
	SaveCannedReply(ctx context.Context, r Reply) error
	DeleteCannedReply(ctx context.Context, id string) error
	Teams(ctx context.Context) ([]desk.Team, error)
}

// Agents says who is an admin.
type Agents interface {
	AgentByID(ctx context.Context, id string) (desk.Agent, error)
}

// Auditor records admins' changes to shared replies.
type Auditor interface {
	Record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error
}

// Service applies who may see and change which reply.
type Service struct {
	store  Store
	agents Agents
	audit  Auditor
	now    func() time.Time
}

// New returns a Service.
func New(store Store, agents Agents, audit Auditor, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, agents: agents, audit: audit, now: now}
}

// List returns the replies agent may use: the whole desk's, their teams'
// (every team's for admins, who manage them) and their own.
func (s *Service) List(ctx context.Context, agent desk.Principal) ([]Reply, error) {
	if agent.Role != desk.RoleAgent {
		return nil, desk.Errorf(desk.EForbidden, "canned replies are for agents")
	}
	a, err := s.agents.AgentByID(ctx, agent.ID)
	if err != nil && desk.ErrorCode(err) != desk.ENotFound {
		return nil, err
	}
	out, err := s.store.CannedReplies(ctx, agent.ID, err == nil && a.IsAdmin(), MaxPerAgent)
	if out == nil {
		out = []Reply{}
	}
	return out, err
}

// Create adds a reply: a personal one for anyone, a shared one for admins.
func (s *Service) Create(ctx context.Context, agent desk.Principal, in Reply) (Reply, error) {
	if err := s.may(ctx, agent, in.Scope, agent.ID); err != nil {
		return Reply{}, err
	}
	r, err := s.clean(ctx, in)
	if err != nil {
		return Reply{}, err
	}
	var b [8]byte
	rand.Read(b[:])
	r.ID, r.UpdatedAt = "cr_"+hex.EncodeToString(b[:]), s.now().UTC()
	if r.Scope == Personal {
		r.OwnerID = agent.ID
	}
	if err := s.store.SaveCannedReply(ctx, r); err != nil {
		return Reply{}, err
	}
	return r, s.record(ctx, agent, "canned.create", r, nil, r)
}

// Update changes a reply's title and body (its scope stays).
func (s *Service) Update(ctx context.Context, agent desk.Principal, id string, in Reply) (Reply, error) {
	old, err := s.store.CannedReply(ctx, id)
	if err != nil {
		return Reply{}, err
	}
	if err := s.may(ctx, agent, old.Scope, old.OwnerID); err != nil {
		return Reply{}, err
	}
	in.Scope = old.Scope
	r, err := s.clean(ctx, in)
	if err != nil {
		return Reply{}, err
	}
	r.ID, r.OwnerID, r.UpdatedAt = old.ID, old.OwnerID, s.now().UTC()
	if err := s.store.SaveCannedReply(ctx, r); err != nil {
		return Reply{}, err
	}
	return r, s.record(ctx, agent, "canned.update", r, old, r)
}

// Delete removes a reply.
func (s *Service) Delete(ctx context.Context, agent desk.Principal, id string) error {
	old, err := s.store.CannedReply(ctx, id)
	if err != nil {
		return err
	}
	if err := s.may(ctx, agent, old.Scope, old.OwnerID); err != nil {
		return err
	}
	if err := s.store.DeleteCannedReply(ctx, id); err != nil {
		return err
	}
	return s.record(ctx, agent, "canned.delete", old, old, nil)
}

// may: an agent changes their own personal replies; shared ones are the
// admins'. Someone else's personal reply does not exist for them.
func (s *Service) may(ctx context.Context, agent desk.Principal, scope, owner string) error {
	if agent.Role != desk.RoleAgent {
		return desk.Errorf(desk.EForbidden, "canned replies are for agents")
	}
	switch scope {
	case Personal:
		if owner != agent.ID {
			return desk.Errorf(desk.ENotFound, "canned reply not found")
		}
		return nil
	case Shared:
		a, err := s.agents.AgentByID(ctx, agent.ID)
		if err != nil {
			return err
		}
		if !a.IsAdmin() {
			return desk.Errorf(desk.EForbidden, "only admins change shared canned replies")
		}
		return nil
	}
	return desk.Errorf(desk.EInvalid, "scope must be %q or %q", Shared, Personal)
}

func (s *Service) clean(ctx context.Context, in Reply) (Reply, error) {
	in.Title, in.Body = strings.TrimSpace(in.Title), strings.TrimSpace(in.Body)
	switch {
	case in.Title == "" || utf8.RuneCountInString(in.Title) > maxTitleRunes:
		return Reply{}, desk.Errorf(desk.EInvalid, "a title of 1 to %d characters is required", maxTitleRunes)
	case in.Body == "" || len(in.Body) > maxBodyBytes:
		return Reply{}, desk.Errorf(desk.EInvalid, "a body of 1 to %d bytes is required", maxBodyBytes)
	}
	if err := desk.CheckText("title", in.Title); err != nil {
		return Reply{}, err
	}
	if err := desk.CheckText("body", in.Body); err != nil {
		return Reply{}, err
	}
	if in.TeamID != "" {
		if in.Scope != Shared {
			return Reply{}, desk.Errorf(desk.EInvalid, "only a shared reply belongs to a team")
		}
		teams, err := s.store.Teams(ctx)
		if err != nil {
			return Reply{}, err
		}
		if !slices.ContainsFunc(teams, func(t desk.Team) bool { return t.ID == in.TeamID }) {
			return Reply{}, desk.Errorf(desk.EInvalid, "%q is not a team", in.TeamID)
		}
	}
	return Reply{Scope: in.Scope, TeamID: in.TeamID, Title: in.Title, Body: in.Body}, nil
}

// record audits changes to shared replies: those are admin actions.
func (s *Service) record(ctx context.Context, agent desk.Principal, action string, r Reply, before, after any) error {
	if r.Scope != Shared || s.audit == nil {
		return nil
	}
	if b, ok := before.(Reply); ok && b.ID == "" {
		before = nil
	}
	return s.audit.Record(ctx, agent, action, r.ID, before, after)
}
