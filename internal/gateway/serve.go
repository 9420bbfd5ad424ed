package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/limits"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// serve returns the handler of one endpoint. Authentication happens before
// the upgrade, but a refused client still gets the handshake completed and a
// 4001 close frame: the seed's front ends read the reason from it.
func (g *Gateway) serve(role desk.Role, pathKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue(pathKey)
		log := g.log.With(idAttr(role, id))
		if !g.originAllowed(r) {
			log.Warn("websocket origin refused", "origin", r.Header.Get("Origin"))
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
		ws, uerr := g.upgrader.Upgrade(w, r, header)
		if uerr != nil {
			// Upgrade has already answered with an HTTP error.
			log.Debug("websocket upgrade failed", "error", uerr)
			return
		}
		if reason != "" {
			g.opts.Observer.Handshake("rejected", reason)
			if err != nil {
				log.Error("websocket rejected", "reason", reason, "token_source", cred.source, "error", err)
			} else {
				log.Warn("websocket rejected", "reason", reason, "token_source", cred.source)
			}
			reject(ws, reason)
			return
		}
		if g.opts.Accepting != nil && !g.opts.Accepting() {
			g.opts.Observer.Handshake("rejected", wire.ReasonBusUnavailable)
			log.Warn("websocket turned away", "reason", wire.ReasonBusUnavailable)
			closeNow(ws, wire.CloseTryAgainLater, wire.ReasonBusUnavailable)
			return
		}
		user := desk.Principal{Role: role, ID: id}
		release, reason := g.admit(user, g.clientAddr(r))
		if reason != "" {
			g.opts.Observer.Handshake("rejected", reason)
			log.Warn("websocket turned away", "reason", reason)
			closeNow(ws, wire.ClosePolicyViolation, reason)
			return
		}
		c, err := g.hub.Register(ws, user, cred.token)
		if err != nil {
			release()
			closeNow(ws, wire.CloseServiceRestart, wire.ReasonServerShuttingDown)
			return
		}
		g.opts.Observer.Handshake("accepted", "")
		log.Info("websocket connected", "conn_id", c.ID, "token_source", cred.source)
		// The read loop runs in a goroutine of its own so this handler's
		// goroutine, with the request and net/http's per-connection state on
		// its stack, ends now instead of living as long as the socket.
		go func() {
			defer release()
			g.readLoop(c, ws, log.With("conn_id", c.ID))
		}()
	}
}

// admit counts a new socket against its user's and its address's caps; it
// returns how to let go of it, or why it is refused.
func (g *Gateway) admit(user desk.Principal, addr string) (release func(), reason string) {
	perUser, perAddr := g.opts.SocketsPerUser, g.opts.SocketsPerAddr
	if perUser != nil && !perUser.Acquire(limits.Key(user)) {
		return nil, wire.ReasonTooManySocketsUser
	}
	if perAddr != nil && !perAddr.Acquire(addr) {
		if perUser != nil {
			perUser.Release(limits.Key(user))
		}
		return nil, wire.ReasonTooManySocketsAddr
	}
	return func() {
		if perUser != nil {
			perUser.Release(limits.Key(user))
		}
		if perAddr != nil {
			perAddr.Release(addr)
		}
	}, ""
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
	g      *Gateway
	out    sender
	connID string
	user   desk.Principal
}

// sender is the session's own connection: *hub.Conn.
type sender interface {
	Send(frame []byte) bool
	BeginResume(conversationID string, afterSeq int64) uint64
	EndResume(conversationID string, gen uint64, replay []hub.Replayed, done []byte) bool
	FailResume(conversationID string, gen uint64, frame []byte, forget bool)
	FollowPresence()
}

// readLoop reads the client's frames until the connection ends, enforcing
// liveness, size, type and rate limits, then unregisters it.
func (g *Gateway) readLoop(c *hub.Conn, ws *websocket.Conn, log *slog.Logger) {
	defer g.hub.Unregister(c)
	defer func() {
		// Frame handlers recover on their own; this guards the loop itself.
		if v := recover(); v != nil {
			log.Error("read loop panicked", "error", fmt.Sprint(v), "stack", string(debug.Stack()))
			c.Close(wire.CloseInternal, wire.ReasonInternal)
		}
	}()
	s := &session{g: g, out: c, connID: c.ID, user: c.User}
	ws.SetReadLimit(g.opts.MaxMessageBytes)
	// A peer that answers neither our pings nor sends anything for two
	// intervals is gone (half-open TCP): the read times out and we unregister.
	alive := func() { ws.SetReadDeadline(time.Now().Add(2 * g.opts.PingInterval)) }
	alive()
	ws.SetPongHandler(func(string) error {
		if !c.Closing() {
			alive()
		}
		return nil
	})
	// One budget per user, whatever their number of sockets (and REST
	// writes): a flood from many tabs is still one user's flood.
	allow := rate.NewLimiter(rate.Limit(g.opts.MsgRate), g.opts.MsgBurst).Allow
	if g.opts.Frames != nil {
		key := limits.Key(c.User)
		allow = func() bool { ok, _ := g.opts.Frames.Allow(key); return ok }
	}
	for {
		mt, r, err := ws.NextReader()
		if err != nil {
			g.logEnd(log, c, err)
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has sent 1009; discard (never buffer) what the
				// client is still sending so it reads the close frame
				// instead of a TCP reset.
				linger(ws.NetConn())
			}
			return
		}
		if c.Closing() {
			// Closed by us (revoked, slow, shutting down): act on nothing
			// more, only wait for the client's close reply.
			continue
		}
		alive()
		switch {
		case !allow():
			log.Warn("websocket closed", "reason", "rate_limited")
			c.Close(wire.ClosePolicyViolation, wire.ReasonRateExceeded)
		case mt != websocket.TextMessage:
			log.Warn("websocket closed", "reason", "binary_frame")
			c.Close(wire.CloseUnsupportedData, wire.ReasonBinary)
		default:
			data, err := io.ReadAll(r)
			if err != nil {
				continue // the next NextReader reports the failure
			}
			// The connection's context: a handler waiting on the desk
			// stops when the socket closes or the server drains.
			s.handle(c.Context(), data)
		}
	}
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
