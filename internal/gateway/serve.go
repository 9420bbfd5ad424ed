package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// serve returns the handler of one endpoint. Authentication happens before
// the upgrade, but a refused client still gets the handshake completed and a
// 4001 close frame: the seed's front ends read the reason from it.
func (g *Gateway) serve(role desk.Role, pathKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue(pathKey)
		who := idAttr(role, id) // a logger per socket would cost every idle one its clone
		if !g.originAllowed(r) {
			g.log.Warn("websocket origin refused", who, "origin", r.Header.Get("Origin"))
			g.opts.Observer.Handshake("refused_origin", "")
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		cred := credentialFrom(r, g.opts.AllowQueryToken)
		reason, err := g.authenticate(r.Context(), role, id, cred)
		var header http.Header
		if cred.subprotocol != "" {
			header = http.Header{"Sec-Websocket-Protocol": {cred.subprotocol}}
		}
		kept := &keptReader{ResponseWriter: w}
		ws, uerr := g.upgrader.Upgrade(kept, r, header)
		if uerr != nil {
			// Upgrade has already answered with an HTTP error.
			g.log.Debug("websocket upgrade failed", who, "error", uerr)
			return
		}
		if reason != "" {
			g.opts.Observer.Handshake("rejected", reason)
			if err != nil {
				g.log.Error("websocket rejected", who, "reason", reason, "token_source", cred.source, "error", err)
			} else {
				g.log.Warn("websocket rejected", who, "reason", reason, "token_source", cred.source)
			}
			reject(ws, reason)
			return
		}
		if g.opts.Accepting != nil && !g.opts.Accepting() {
			g.opts.Observer.Handshake("rejected", wire.ReasonBusUnavailable)
			g.log.Warn("websocket turned away", who, "reason", wire.ReasonBusUnavailable)
			closeNow(ws, wire.CloseTryAgainLater, wire.ReasonBusUnavailable)
			return
		}
		user := desk.Principal{Role: role, ID: id}
		addr := g.clientAddr(r)
		if reason := g.admit(user, addr); reason != "" {
			g.opts.Observer.Handshake("rejected", reason)
			g.log.Warn("websocket turned away", who, "reason", reason)
			closeNow(ws, wire.ClosePolicyViolation, reason)
			return
		}
		c, err := g.hub.Register(ws, user, cred.token)
		if err != nil {
			g.release(user, addr)
			closeNow(ws, wire.CloseServiceRestart, wire.ReasonServerShuttingDown)
			return
		}
		g.opts.Observer.Handshake("accepted", "")
		g.log.Info("websocket connected", who, "conn_id", c.ID(), "token_source", cred.source)
		// The read side runs in goroutines of its own so this handler's
		// goroutine, with the request and net/http's per-connection state on
		// its stack, ends now instead of living as long as the socket.
		newReader(g, c, ws, kept.br, addr).start()
	}
}

// admit counts a new socket against its user's and its address's caps, or
// says why it is refused. release lets go of an admitted one.
func (g *Gateway) admit(user desk.Principal, addr string) (reason string) {
	perUser, perAddr := g.opts.SocketsPerUser, g.opts.SocketsPerAddr
	if perUser != nil && !perUser.Acquire(user) {
		return wire.ReasonTooManySocketsUser
	}
	if perAddr != nil && !perAddr.Acquire(addr) {
		if perUser != nil {
			perUser.Release(user)
		}
		return wire.ReasonTooManySocketsAddr
	}
	return ""
}

func (g *Gateway) release(user desk.Principal, addr string) {
	if g.opts.SocketsPerUser != nil {
		g.opts.SocketsPerUser.Release(user)
	}
	if g.opts.SocketsPerAddr != nil {
		g.opts.SocketsPerAddr.Release(addr)
	}
}

func (g *Gateway) clientAddr(r *http.Request) string {
	if g.opts.ClientAddr != nil {
		return g.opts.ClientAddr(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// closeNow ends a connection that was never registered.
func closeNow(ws *websocket.Conn, code int, reason string) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	ws.Close()
}

// session is what a frame handler knows of its connection.
type session struct {
	g    *Gateway
	out  sender
	user desk.Principal
}

// sender is the session's own connection: *hub.Conn.
type sender interface {
	ID() string // for logs
	Send(frame []byte) bool
	BeginResume(conversationID string, afterSeq int64) uint64
	EndResume(conversationID string, gen uint64, replay []hub.Replayed, done []byte) bool
	FailResume(conversationID string, gen uint64, frame []byte, forget bool)
	FollowPresence()
}

// logEnd records why a connection ended, quietly for ordinary closes.
func (g *Gateway) logEnd(log interface {
	Info(string, ...any)
	Warn(string, ...any)
	Error(string, ...any)
}, c *hub.Conn, err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		log.Info("websocket disconnected", "close_code", ce.Code)
	case errors.Is(err, websocket.ErrReadLimit):
		log.Warn("websocket closed", "reason", "message_too_big")
	case errors.As(err, &ne) && ne.Timeout() && !c.Closing():
		log.Info("websocket closed", "reason", "peer_unresponsive")
	default:
		log.Info("websocket disconnected", "error", err.Error())
	}
}

// linger discards the rest of an oversized frame for a short while, then
// lets the caller close the socket.
func linger(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(closeLinger))
	io.Copy(io.Discard, io.LimitReader(nc, lingerBytes))
}

// closeLinger and lingerBytes bound what an oversized frame can cost us
// after we have refused it.
const (
	closeLinger = time.Second
	lingerBytes = 16 << 20
)
