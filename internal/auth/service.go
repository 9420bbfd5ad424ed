// Package auth issues and revokes the desk's bearer tokens: agent login
// with a password, the development stand-in for WeCom employee sign-in,
// logout, and the agent accounts behind them.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Config holds a Service's dependencies and settings. Agents is always
// required; Tokens, Bus and a positive TokenTTL only for the methods that
// issue or revoke tokens, so a command-line tool that only adds agents can
// leave them out.
type Config struct {
	Agents desk.AgentStore
	Tokens desk.TokenStore
	// Bus carries the close event that ends a revoked token's live sockets.
	Bus desk.Bus
	// TokenTTL is how long an issued token stays valid. Its default lives
	// in the config package.
	TokenTTL time.Duration
	// Log receives login, logout and account events; nil discards them.
	Log *slog.Logger
	// Now reads the clock for the login limiter; time.Now when nil.
	Now func() time.Time
	// Redis, when set, counts login failures on every node together.
	Redis redis.UniversalClient
	// BcryptCost is the cost for new password hashes; 0 (or anything
	// outside bcrypt's range) means bcrypt.DefaultCost. Tests set
	// bcrypt.MinCost to stay fast.
	BcryptCost int
}

// Service implements login, logout and agent accounts. Safe for concurrent
// use.
type Service struct {
	agents desk.AgentStore
	tokens desk.TokenStore
	bus    desk.Bus
	ttl    time.Duration
	log    *slog.Logger
	cost   int

	// dummy is compared against when a username is unknown, see dummyHash.
	dummy  string
	byUser attempts
	byAddr attempts

	disabled *disabledAgents
}

// New returns a Service using cfg.
func New(cfg Config) *Service {
	cost := cfg.BcryptCost
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		cost = bcrypt.DefaultCost
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	byUser, byAddr := attempts(NewLimiter(MaxFailuresPerUsername, FailureWindow, cfg.Now)), attempts(NewLimiter(MaxFailuresPerAddress, FailureWindow, cfg.Now))
	if cfg.Redis != nil {
		byUser = NewRedisLimiter(cfg.Redis, "login-user", MaxFailuresPerUsername, FailureWindow)
		byAddr = NewRedisLimiter(cfg.Redis, "login-addr", MaxFailuresPerAddress, FailureWindow)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		agents: cfg.Agents,
		tokens: cfg.Tokens,
		bus:    cfg.Bus,
		ttl:    cfg.TokenTTL,
		log:    log,
		cost:   cost,
		dummy:  dummyHash(cost),
		byUser: byUser,
		byAddr: byAddr,
		disabled: &disabledAgents{
			list: func(ctx context.Context) ([]string, error) { return cfg.Agents.DisabledAgentIDs(ctx) }, maxAge: DisabledRecheck, now: now,
		},
	}
}

// canIssue reports a Service built without what issuing or revoking
// tokens needs, as an internal error rather than a nil-pointer panic.
func (s *Service) canIssue() error {
	if s.tokens == nil || s.bus == nil || s.ttl <= 0 {
		return errors.New("auth: Tokens, Bus and a positive TokenTTL are required to issue or revoke tokens")
	}
	return nil
}

// RateLimitedError is the hidden cause of the ERateLimited error Login
// returns; RetryAfter reads it.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed logins, retry after %v", e.RetryAfter)
}

// RetryAfter returns how long the caller should wait when err comes from a
// rate-limited Login.
func RetryAfter(err error) (time.Duration, bool) {
	var e *RateLimitedError
	if errors.As(err, &e) {
		return e.RetryAfter, true
	}
	return 0, false
}

func errRateLimited(wait time.Duration) error {
	return desk.Wrap(desk.ERateLimited, &RateLimitedError{RetryAfter: wait},
		"too many failed logins; try again later")
}

// principalAttr names a user with the log vocabulary's agent_id or
// employee_id.
func principalAttr(role desk.Role, id string) slog.Attr {
	return slog.String(string(role)+"_id", id)
}
