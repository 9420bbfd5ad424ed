package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Issue gives id a token of role with no check of its own: the caller has
// established who this is (a WeCom sign-in, verified with WeCom). The
// token is stored exactly as a password login's or the mock login's.
func (s *Service) Issue(ctx context.Context, role desk.Role, id, how string) (token string, expiresIn time.Duration, err error) {
	if err := desk.ValidateID(role, id); err != nil {
		return "", 0, err
	}
	token, err = s.issue(ctx, role, id)
	if err != nil {
		return "", 0, err
	}
	s.log.Info("signed in", principalAttr(role, id), slog.String("via", how))
	return token, s.ttl, nil
}
