// Package gateway serves the seed's WebSocket endpoints, /ws/{agent_id} for
// agents and /ws/h5/{employee_id} for employees: it authenticates the
// handshake, runs each connection's read loop and dispatches its frames.
// Outbound delivery belongs to the hub.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/limits"
)

// Options configure the gateway; see config for their meaning and defaults.
type Options struct {
	Dev             bool
	AllowedOrigins  []string
	AllowQueryToken bool
	StoreTimeout    time.Duration
	PingInterval    time.Duration
	MaxMessageBytes int64
	MsgRate         float64
	MsgBurst        int
	// Accepting, when set and false, turns new connections away with 1013:
	// the node cannot hear the others (its event bus is down), and a client
	// is better served retrying until it can, or landing on another node.
	Accepting func() bool
	// Observer, if set, is told of handshakes and frames, for metrics.
	Observer Observer
	// AgentDisabled, when set, is asked at every agent handshake, so a
	// disabled agent's tokens stop working even if another login service
	// issued them.
	AgentDisabled func(ctx context.Context, id string) (bool, error)
	// TokenRecheck is how often live sockets' tokens are looked up again
	// (Run; DefaultTokenRecheck).
	TokenRecheck time.Duration
	// Frames, when set, is each user's budget of frames, shared by all
	// their sockets (and, in httpapi, their REST writes); without it each
	// socket has MsgRate/MsgBurst of its own.
	Frames *limits.Buckets
	// SocketsPerUser and SocketsPerAddr, when set, cap the sockets one
	// user, and one client address, hold on this node.
	SocketsPerUser *limits.Counter[desk.Principal]
	SocketsPerAddr *limits.Counter[string]
	// ClientAddr names a request's client address (behind trusted proxies,
	// from X-Forwarded-For); RemoteAddr's host when nil.
	ClientAddr func(r *http.Request) string
	// Scheme names the scheme the client used (https behind a trusted TLS
	// proxy); r.TLS decides when nil.
	Scheme func(r *http.Request) string
}

// Observer is told what the gateway sees; its methods must be cheap.
type Observer interface {
	// Handshake reports "accepted", "rejected" (with the close reason) or
	// "refused_origin".
	Handshake(result, reason string)
	FrameIn(frameType string)
}

type noObserver struct{}

func (noObserver) Handshake(string, string) {}
func (noObserver) FrameIn(string)           {}

// Gateway holds the WebSocket endpoints' dependencies.
type Gateway struct {
	opts          Options
	tokens        desk.TokenStore
	bus           desk.Bus
	conversations Conversations
	hub           *hub.Hub
	log           *slog.Logger
	upgrader      websocket.Upgrader
	handlers      map[desk.Role]map[string]handler
	poller        *poller // holds idle sockets; nil where there is none
}

// New returns a gateway delivering through h and publishing through bus.
func New(opts Options, tokens desk.TokenStore, bus desk.Bus, conversations Conversations, h *hub.Hub, log *slog.Logger) *Gateway {
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	g := &Gateway{opts: opts, tokens: tokens, bus: bus, conversations: conversations, hub: h, log: log}
	g.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// gorilla reads through keptReader's buffer (readBufferSize, 1 KiB).
		// With the pool, an idle connection holds no write buffer at all:
		// both choices are much of why a connection costs ~10 KiB instead
		// of ~30 (docs/benchmarks.md).
		ReadBufferSize:  0,
		WriteBufferPool: writeBufferPool,
		// Origins are checked before Upgrade is called, with a 403.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	g.handlers = defaultHandlers()
	g.poller = newPoller(opts.PingInterval)
	return g
}

// Routes registers the endpoints on mux.
func (g *Gateway) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /ws/{agent_id}", g.serve(desk.RoleAgent, "agent_id"))
	mux.HandleFunc("GET /ws/h5/{employee_id}", g.serve(desk.RoleEmployee, "employee_id"))
}

// idAttr names a user in log lines with the fixed vocabulary: agent_id or
// employee_id.
func idAttr(role desk.Role, id string) slog.Attr {
	// Every handshake makes one, logged or not: the two usual keys are
	// constants, not a string built each time.
	switch role {
	case desk.RoleAgent:
		return slog.String("agent_id", id)
	case desk.RoleEmployee:
		return slog.String("employee_id", id)
	}
	return slog.String(string(role)+"_id", id)
}
