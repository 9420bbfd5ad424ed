package auth

import (
	"context"
	"log/slog"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// Close reasons for connections ended by an operator; the code is the
// seed's 4001, so clients go back to their login.
const (
	ReasonKicked        = "Kicked"
	ReasonAgentDisabled = "Agent disabled"
)

// Kick revokes every token issued to user and closes all their live
// connections on every node.
func (s *Service) Kick(ctx context.Context, user desk.Principal) error {
	return s.revokeUser(ctx, user, ReasonKicked)
}

// SetAgentDisabled disables (or re-enables) an agent. Disabling also
// revokes their tokens and closes their connections everywhere; the
// gateway refuses a disabled agent's handshakes even with a token issued
// elsewhere.
func (s *Service) SetAgentDisabled(ctx context.Context, id string, disabled bool) error {
	if err := s.agents.SetAgentDisabled(ctx, id, disabled); err != nil {
		return err
	}
	s.disabled.changed()
	s.log.Info("agent disabled changed", slog.String("agent_id", id), slog.Bool("disabled", disabled))
	if !disabled {
		return nil
	}
	return s.revokeUser(ctx, desk.Principal{Role: desk.RoleAgent, ID: id}, ReasonAgentDisabled)
}

func (s *Service) revokeUser(ctx context.Context, user desk.Principal, reason string) error {
	if err := s.canIssue(); err != nil {
		return err
	}
	if err := desk.ValidateID(user.Role, user.ID); err != nil {
		return err
	}
	n, err := s.tokens.DeleteAll(ctx, user.Role, user.ID)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	err = s.bus.Publish(pctx, desk.Event{
		To:    desk.Audience{Kind: desk.ToUser, User: user},
		Close: &desk.Close{Code: wire.CloseUnauthorized, Reason: reason},
	})
	if err != nil {
		return err
	}
	s.log.Info("user revoked", principalAttr(user.Role, user.ID), slog.String("reason", reason), slog.Int("tokens", n))
	return nil
}
