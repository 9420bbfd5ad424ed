package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// errBadCredentials is the one answer to a wrong username or password, so
// the response never tells which of the two was wrong.
func errBadCredentials() error {
	return desk.Errorf(desk.EUnauthorized, "invalid username or password")
}

// Login checks an agent's password and issues a token. clientAddr is the
// caller's IP address, for rate limiting and logs.
//
// Too many failures for the username or the address fail with
// ERateLimited (see RetryAfter); a wrong username or password fails with
// EUnauthorized, with the same message and about the same delay either way.
func (s *Service) Login(ctx context.Context, username, password, clientAddr string) (token, agentID string, expiresIn time.Duration, err error) {
	if err := s.canIssue(); err != nil {
		return "", "", 0, err
	}
	log := s.log.With(slog.String("client_addr", clientAddr))
	addrKey := addressKey(clientAddr)

	if !usernamePattern.MatchString(username) {
		// No such account can exist, so only the address pays; the username
		// is not logged, as it may be anything up to the body limit.
		if ok, wait := s.byAddr.Attempt(addrKey); !ok {
			log.Warn("login rate limited")
			return "", "", 0, errRateLimited(wait)
		}
		log.Info("login failed", slog.String("reason", "malformed username"))
		return "", "", 0, errBadCredentials()
	}
	log = log.With(slog.String("username", username))

	// Failures count per (username, address): a guesser elsewhere slows
	// down only themself, never the account's owner at their own desk.
	userKey := username + "|" + addrKey
	okUser, waitUser := s.byUser.Attempt(userKey)
	okAddr, waitAddr := s.byAddr.Attempt(addrKey)
	if !okUser || !okAddr {
		// Only a refused limiter's count stands; the other was not tried.
		if okUser {
			s.byUser.Undo(userKey)
		}
		if okAddr {
			s.byAddr.Undo(addrKey)
		}
		log.Warn("login rate limited")
		return "", "", 0, errRateLimited(max(waitUser, waitAddr))
	}

	agent, err := s.agents.AgentByUsername(ctx, username)
	hash := agent.PasswordHash
	switch desk.ErrorCode(err) {
	case "":
	case desk.ENotFound:
		hash = s.dummy
	default:
		// Our fault, not a guess: do not count it against the user.
		s.byUser.Undo(userKey)
		s.byAddr.Undo(addrKey)
		return "", "", 0, fmt.Errorf("login %q: %w", username, err)
	}
	if !CheckPassword(hash, password) || err != nil {
		// The log may tell the two apart; only the client must not learn it.
		reason := "wrong password"
		if err != nil {
			reason = "unknown username"
		}
		log.Info("login failed", slog.String("reason", reason))
		return "", "", 0, errBadCredentials()
	}
	s.byUser.Reset(userKey)
	// The address keeps its other failures: one valid account must not let
	// a client reset its budget for guessing the rest.
	s.byAddr.Undo(addrKey)

	token, err = s.issue(ctx, desk.RoleAgent, agent.ID)
	if err != nil {
		return "", "", 0, err
	}
	log.Info("agent logged in", slog.String("agent_id", agent.ID))
	return token, agent.ID, s.ttl, nil
}

// MockLogin issues an employee token without any check, standing in for
// WeCom sign-in during development. Whether it is reachable at all is the
// HTTP layer's decision. name may be empty; it is only checked, as tokens
// carry ids alone.
func (s *Service) MockLogin(ctx context.Context, employeeID, name string) (token string, expiresIn time.Duration, err error) {
	if err := desk.ValidateID(desk.RoleEmployee, employeeID); err != nil {
		return "", 0, err
	}
	if name != "" {
		if err := checkName(name); err != nil {
			return "", 0, err
		}
	}
	token, err = s.issue(ctx, desk.RoleEmployee, employeeID)
	if err != nil {
		return "", 0, err
	}
	s.log.Info("employee mock login", slog.String("employee_id", employeeID))
	return token, s.ttl, nil
}

func (s *Service) issue(ctx context.Context, role desk.Role, id string) (string, error) {
	if err := s.canIssue(); err != nil {
		return "", err
	}
	token, err := NewToken()
	if err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	if err := s.tokens.Put(ctx, role, token, id, s.ttl); err != nil {
		return "", fmt.Errorf("store %s token: %w", role, err)
	}
	return token, nil
}

// addressKey is the limiter key for a client address. IPv6 clients usually
// own a whole /64, so they are limited per /64 rather than per address.
func addressKey(clientAddr string) string {
	ip, err := netip.ParseAddr(clientAddr)
	if err != nil {
		return clientAddr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
