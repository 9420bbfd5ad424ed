package gateway

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// credential is the token a handshake presented and where it came from.
type credential struct {
	token  string
	source string // "subprotocol", "header" or "query", for logs
	// subprotocol is the offered value to select in the 101 response.
	// Browsers fail a handshake whose offered subprotocol is not echoed,
	// which is how the seed's main auth path broke in Chromium.
	subprotocol string
}

// credentialFrom reads the token in the seed's order: the
// Sec-WebSocket-Protocol offer "bearer.{token}", then Authorization:
// Bearer, then the deprecated ?token= query parameter.
func credentialFrom(r *http.Request, allowQuery bool) credential {
	// The header may list several offers ("bearer.T, v1.json") over several
	// lines; the seed read the whole value as the token.
	for _, line := range r.Header.Values("Sec-Websocket-Protocol") {
		for _, offer := range strings.Split(line, ",") {
			offer = strings.TrimSpace(offer)
			if tok, ok := strings.CutPrefix(offer, "bearer."); ok && tok != "" {
				return credential{token: tok, source: "subprotocol", subprotocol: offer}
			}
		}
	}
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if tok = strings.TrimSpace(tok); tok != "" {
			return credential{token: tok, source: "header"}
		}
	}
	if allowQuery {
		if tok := r.URL.Query().Get("token"); tok != "" {
			return credential{token: tok, source: "query"}
		}
	}
	return credential{}
}

// authenticate checks cred against the token store and returns the seed's
// close reason when the connection must be refused, or "" when it may open.
// Any store failure refuses: without the store we cannot know who this is.
func (g *Gateway) authenticate(ctx context.Context, role desk.Role, id string, cred credential) (reason string, err error) {
	if cred.token == "" {
		return wire.ReasonMissingToken, nil
	}
	ctx, cancel := context.WithTimeout(ctx, g.opts.StoreTimeout)
	defer cancel()
	owner, err := g.tokens.Lookup(ctx, role, cred.token)
	switch {
	case desk.ErrorCode(err) == desk.ENotFound:
		return wire.ReasonInvalidToken, nil
	case err != nil:
		return wire.ReasonStoreUnavailable, err
	case owner != id && role == desk.RoleAgent:
		return wire.ReasonAgentMismatch, nil
	case owner != id:
		return wire.ReasonEmployeeMismatch, nil
	}
	if role == desk.RoleAgent && g.opts.AgentDisabled != nil {
		disabled, err := g.opts.AgentDisabled(ctx, id)
		if err != nil {
			return wire.ReasonStoreUnavailable, err
		}
		if disabled {
			return wire.ReasonInvalidToken, nil
		}
	}
	return "", nil
}

// originAllowed lets through non-browser clients (no Origin), pages served by
// this server itself, the configured origins, and localhost in dev mode.
func (g *Gateway) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	// Our own pages: same host, and same scheme (an http page must not
	// speak for an https desk).
	if strings.EqualFold(u.Host, r.Host) && strings.EqualFold(u.Scheme, g.scheme(r)) {
		return true
	}
	for _, allowed := range g.opts.AllowedOrigins {
		if strings.EqualFold(origin, allowed) {
			return true
		}
	}
	if g.opts.Dev {
		host := u.Hostname()
		if host == "localhost" || net.ParseIP(host).IsLoopback() {
			return true
		}
	}
	return false
}

func (g *Gateway) scheme(r *http.Request) string {
	if g.opts.Scheme != nil {
		return g.opts.Scheme(r)
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// reject completes the closing handshake of a refused connection: the
// close frame with 4001 and the reason, then up to closeWait for the
// client's reply so the frame is read before TCP goes away.
func reject(ws *websocket.Conn, reason string) {
	const closeWait = time.Second
	msg := websocket.FormatCloseMessage(wire.CloseUnauthorized, reason)
	if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait)); err == nil {
		drain(ws, closeWait)
	}
	ws.Close()
}

// drain discards frames until the peer's close reply, an error, or wait
// has passed.
func drain(ws *websocket.Conn, wait time.Duration) {
	ws.SetPongHandler(nil)
	ws.SetReadDeadline(time.Now().Add(wait))
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
	}
}
