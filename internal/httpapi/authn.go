package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/limits"
)

// maxTokenBytes keeps absurd input out of token-store keys, as auth does:
// our tokens are 43 bytes, the seed's login service may issue longer ones.
const maxTokenBytes = 512

// principal returns who sent r, from its "Authorization: Bearer" token. A
// missing or unknown token is EUnauthorized; a token store that is down or
// slower than StoreTimeout is EUnavailable, so nobody gets in unchecked.
func (a *API) principal(r *http.Request) (desk.Principal, error) {
	token, ok := bearerToken(r)
	if !ok || len(token) > maxTokenBytes {
		return desk.Principal{}, desk.Errorf(desk.EUnauthorized, "missing or invalid bearer token")
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.storeTimeout())
	defer cancel()
	// Tokens are random, so at most one role holds a given one; agents go
	// first only because they make most of the calls.
	for _, role := range []desk.Role{desk.RoleAgent, desk.RoleEmployee} {
		id, err := a.Tokens.Lookup(ctx, role, token)
		switch desk.ErrorCode(err) {
		case "":
			if role == desk.RoleAgent {
				if err := a.checkNotDisabled(ctx, id); err != nil {
					return desk.Principal{}, err
				}
			}
			return desk.Principal{Role: role, ID: id}, nil
		case desk.ENotFound:
			continue
		default:
			return desk.Principal{}, fmt.Errorf("look up %s token: %w", role, err)
		}
	}
	return desk.Principal{}, desk.Errorf(desk.EUnauthorized, "invalid or expired token")
}

// checkNotDisabled refuses a disabled agent, whatever issued the token:
// the same rule as the socket handshake.
func (a *API) checkNotDisabled(ctx context.Context, id string) error {
	if a.AgentDisabled == nil {
		return nil
	}
	disabled, err := a.AgentDisabled(ctx, id)
	if err != nil {
		return desk.Wrap(desk.EUnavailable, err, "could not check the agent")
	}
	if disabled {
		return desk.Errorf(desk.EUnauthorized, "agent disabled")
	}
	return nil
}

func (a *API) storeTimeout() time.Duration {
	if a.StoreTimeout > 0 {
		return a.StoreTimeout
	}
	return defaultStoreTimeout
}

// principalHandler is a handler that knows who is calling.
type principalHandler func(w http.ResponseWriter, r *http.Request, p desk.Principal)

// authed runs h for callers holding a valid token of one of roles; any
// other caller gets 401, and a caller of the wrong role 403.
func (a *API) authed(h principalHandler, roles ...desk.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.principal(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if !slices.Contains(roles, p.Role) {
			a.writeError(w, r, desk.Errorf(desk.EForbidden, "this endpoint is not for %ss", p.Role))
			return
		}
		if r.Method != http.MethodGet && a.Writes != nil {
			if ok, wait := a.Writes.Allow(limits.Key(p)); !ok {
				a.writeError(w, r, limits.Err("too many requests; slow down", wait))
				return
			}
		}
		h(w, r, p)
	}
}
