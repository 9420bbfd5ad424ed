package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// publishTimeout bounds the close event's publish, which must not depend on
// the logout request's own context: once the token is gone, its sockets
// should close even if the client hung up.
const publishTimeout = 5 * time.Second

// maxTokenBytes keeps absurd input out of token-store keys. Our tokens are
// 43 bytes; the seed's login service may issue longer ones.
const maxTokenBytes = 512

// Logout revokes token, whichever role it was issued to, and asks every
// live WebSocket opened with it to close. An unknown or expired token fails
// with EUnauthorized.
func (s *Service) Logout(ctx context.Context, token string) error {
	if err := s.canIssue(); err != nil {
		return err
	}
	if token == "" || len(token) > maxTokenBytes {
		return desk.Errorf(desk.EUnauthorized, "invalid or expired token")
	}
	role, id, err := s.lookup(ctx, token)
	if err != nil {
		return err
	}
	if err := s.tokens.Delete(ctx, role, token); err != nil {
		return fmt.Errorf("delete %s token: %w", role, err)
	}

	ev := desk.Event{
		To:    desk.Audience{Kind: desk.ToToken, Fingerprint: desk.TokenFingerprint(token)},
		Close: &desk.Close{Code: wire.CloseUnauthorized, Reason: wire.ReasonTokenRevoked},
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := s.bus.Publish(pctx, ev); err != nil {
		// The token is revoked either way, so the logout stands: new
		// connections and API calls already fail. Only sockets opened
		// before stay up, which an operator should hear about.
		s.log.Error("revoked token's connections not closed",
			principalAttr(role, id), slog.Any("error", err))
	}
	s.log.Info("logged out", principalAttr(role, id))
	return nil
}

// lookup finds the role and id token was issued to. Tokens are random, so
// at most one role holds a given token and the order is only a convention.
func (s *Service) lookup(ctx context.Context, token string) (desk.Role, string, error) {
	for _, role := range []desk.Role{desk.RoleAgent, desk.RoleEmployee} {
		id, err := s.tokens.Lookup(ctx, role, token)
		switch desk.ErrorCode(err) {
		case "":
			return role, id, nil
		case desk.ENotFound:
			continue
		default:
			return "", "", fmt.Errorf("look up %s token: %w", role, err)
		}
	}
	return "", "", desk.Errorf(desk.EUnauthorized, "invalid or expired token")
}
