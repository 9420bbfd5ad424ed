package gateway

import (
	"context"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// DefaultTokenRecheck is how often every live socket's token is looked up
// again: a token that expired, or that another login service deleted, ends
// its sockets within this long. 30 s keeps it a small fraction of a
// token's life; at 10,000 sockets it is a few hundred lookups a second,
// batched where the store can (Redis: MGET in one round trip per 500).
const DefaultTokenRecheck = 30 * time.Second

// recheckBatch is the most tokens one batched lookup asks for.
const recheckBatch = 500

// batchLookup is a token store that looks many tokens up at once
// (tokenstore.Redis); others are asked one by one.
type batchLookup interface {
	LookupMany(ctx context.Context, role desk.Role, tokens []string) ([]string, error)
}

// Run re-checks the live sockets' tokens every TokenRecheck until ctx
// ends: a socket whose token is gone (expired, revoked elsewhere) or now
// names someone else is closed with 4001 "Invalid or expired token". A
// store that cannot answer closes nothing: a hiccup must not sign everyone
// out.
func (g *Gateway) Run(ctx context.Context) {
	every := g.opts.TokenRecheck
	if every <= 0 {
		every = DefaultTokenRecheck
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.recheck(ctx)
	}
}

func (g *Gateway) recheck(ctx context.Context) {
	byRole := map[desk.Role][]hub.Live{}
	for _, l := range g.hub.Snapshot() {
		byRole[l.User.Role] = append(byRole[l.User.Role], l)
	}
	for role, conns := range byRole {
		for start := 0; start < len(conns); start += recheckBatch {
			batch := conns[start:min(start+recheckBatch, len(conns))]
			owners, err := g.lookupAll(ctx, role, batch)
			if err != nil {
				g.log.Warn("token re-check skipped", "role", role, "error", err)
				return
			}
			for i, l := range batch {
				if owners[i] != l.User.ID {
					g.log.Info("websocket closed", "reason", "token expired or revoked", "conn_id", l.Conn.ID(), idAttr(role, l.User.ID))
					l.Conn.Close(wire.CloseUnauthorized, wire.ReasonInvalidToken)
				}
			}
		}
	}
}

// lookupAll returns each connection's token's owner, "" for a token that
// is gone.
func (g *Gateway) lookupAll(ctx context.Context, role desk.Role, conns []hub.Live) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, g.opts.StoreTimeout)
	defer cancel()
	tokens := make([]string, len(conns))
	for i, l := range conns {
		tokens[i] = l.Token
	}
	if b, ok := g.tokens.(batchLookup); ok {
		return b.LookupMany(ctx, role, tokens)
	}
	owners := make([]string, len(tokens))
	for i, tok := range tokens {
		id, err := g.tokens.Lookup(ctx, role, tok)
		switch desk.ErrorCode(err) {
		case "":
			owners[i] = id
		case desk.ENotFound:
		default:
			return nil, err
		}
	}
	return owners, nil
}
