package auth

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Account rules.
const (
	// minPasswordBytes is NIST SP 800-63B's floor for user-chosen passwords.
	minPasswordBytes = 8
	// maxNameRunes fits a display name in the console's agent list.
	maxNameRunes = 64
)

// The demo agent, created in dev mode only so a fresh checkout can log in.
const (
	DemoUsername = "demo"
	DemoPassword = "demo"
	DemoName     = "Demo Agent"
)

// usernamePattern matches the characters of a WeCom UserID, so an agent can
// use theirs, and nothing that needs escaping in a log line or a key.
var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// CreateAgent validates and stores a new agent account: username 1-64 of
// letters, digits and _ . @ -; name 1-64 characters; password 8-72 bytes.
// A taken username fails with EConflict.
func (s *Service) CreateAgent(ctx context.Context, username, name, password string) (desk.Agent, error) {
	return s.createAgent(ctx, username, name, password, minPasswordBytes)
}

// EnsureDemoAgent creates the demo agent (username and password "demo")
// unless it exists. Its password is below the minimum, so call it only in
// dev mode.
func (s *Service) EnsureDemoAgent(ctx context.Context) error {
	if err := s.ensureDemoAgent(ctx); err != nil {
		return err
	}
	// The demo account shows everything a desk can do: it is an admin.
	a, err := s.agents.AgentByUsername(ctx, DemoUsername)
	if err != nil || a.IsAdmin() {
		return err
	}
	return s.agents.SetAgentRole(ctx, a.ID, desk.AgentRoleAdmin)
}

func (s *Service) ensureDemoAgent(ctx context.Context) error {
	_, err := s.agents.AgentByUsername(ctx, DemoUsername)
	if desk.ErrorCode(err) != desk.ENotFound {
		return err
	}
	// Disabled by a start without --dev: enable it again.
	if sw, ok := s.agents.(demoSwitch); ok {
		if err := sw.SetAgentDisabledByUsername(ctx, DemoUsername, false); err == nil {
			s.log.Warn("demo agent enabled; dev mode only")
			return nil
		} else if desk.ErrorCode(err) != desk.ENotFound {
			return err
		}
	}
	a, err := s.createAgent(ctx, DemoUsername, DemoName, DemoPassword, len(DemoPassword))
	if desk.ErrorCode(err) == desk.EConflict {
		// Another node created it between our lookup and insert, or it
		// exists but is disabled; either way it is not ours to recreate.
		return nil
	}
	if err != nil {
		return err
	}
	s.log.Warn("demo agent created; dev mode only", slog.String("agent_id", a.ID))
	return nil
}

// demoSwitch is the agent store's switch for the demo account.
type demoSwitch interface {
	SetAgentDisabledByUsername(ctx context.Context, username string, disabled bool) error
}

// DisableDemoAgent turns the demo account off, when there is one: a
// database that once ran with --dev must not keep a demo/demo login once it
// runs without.
func (s *Service) DisableDemoAgent(ctx context.Context) error {
	sw, ok := s.agents.(demoSwitch)
	if !ok {
		return nil
	}
	if _, err := s.agents.AgentByUsername(ctx, DemoUsername); desk.ErrorCode(err) == desk.ENotFound {
		return nil // none, or already disabled
	} else if err != nil {
		return err
	}
	if err := sw.SetAgentDisabledByUsername(ctx, DemoUsername, true); err != nil {
		return err
	}
	s.log.Warn("demo agent disabled: started without --dev")
	return nil
}

func (s *Service) createAgent(ctx context.Context, username, name, password string, minPassword int) (desk.Agent, error) {
	if !usernamePattern.MatchString(username) {
		return desk.Agent{}, desk.Errorf(desk.EInvalid, "username must be 1-64 letters, digits or _ . @ -")
	}
	if err := checkName(name); err != nil {
		return desk.Agent{}, err
	}
	if len(password) < minPassword || len(password) > maxPasswordBytes {
		return desk.Agent{}, desk.Errorf(desk.EInvalid, "password must be %d-%d bytes", minPassword, maxPasswordBytes)
	}
	id, err := newAgentID()
	if err != nil {
		return desk.Agent{}, fmt.Errorf("new agent id: %w", err)
	}
	hash, err := hashPassword(password, s.cost)
	if err != nil {
		return desk.Agent{}, err
	}
	a := desk.Agent{ID: id, Username: username, Name: name, PasswordHash: hash}
	if err := s.agents.CreateAgent(ctx, a); err != nil {
		return desk.Agent{}, fmt.Errorf("create agent %q: %w", username, err)
	}
	return a, nil
}

// checkName accepts a display name of 1-64 characters of valid UTF-8,
// not blank and without control characters that would garble a console.
func checkName(name string) error {
	if !utf8.ValidString(name) || strings.TrimSpace(name) == "" ||
		utf8.RuneCountInString(name) > maxNameRunes || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return desk.Errorf(desk.EInvalid, "name must be 1-%d characters, not blank, without control characters", maxNameRunes)
	}
	return nil
}

// Agent returns an agent's account, without its password hash.
func (s *Service) Agent(ctx context.Context, id string) (desk.Agent, error) {
	a, err := s.agents.AgentByID(ctx, id)
	a.PasswordHash = ""
	return a, err
}

// CheckName applies the rule for display names (1–64 characters, no
// control characters).
func (s *Service) CheckName(name string) error { return checkName(name) }

// passwordSetter is the store's side of SetAgentPassword.
type passwordSetter interface {
	SetAgentPassword(ctx context.Context, id, hash string) error
}

// SetAgentPassword gives an agent a new password (an admin's reset) and
// ends their sessions: whoever had the old one is signed out everywhere.
func (s *Service) SetAgentPassword(ctx context.Context, id, password string) error {
	if len(password) < minPasswordBytes || len(password) > maxPasswordBytes {
		return desk.Errorf(desk.EInvalid, "password must be %d-%d bytes", minPasswordBytes, maxPasswordBytes)
	}
	ps, ok := s.agents.(passwordSetter)
	if !ok {
		return desk.Errorf(desk.EInternal, "this store cannot change passwords")
	}
	hash, err := hashPassword(password, s.cost)
	if err != nil {
		return err
	}
	if err := ps.SetAgentPassword(ctx, id, hash); err != nil {
		return err
	}
	return s.revokeUser(ctx, desk.Principal{Role: desk.RoleAgent, ID: id}, ReasonKicked)
}
