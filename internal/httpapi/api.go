// Package httpapi is the desk's JSON-over-HTTP surface: login, the
// development mock login and logout. WebSocket endpoints live in gateway.
package httpapi

import (
	"log/slog"
	"net"
	"net/http"

	"github.com/servicedesk/servicedesk/internal/auth"
)

// API serves the JSON endpoints. Its fields must be set before Routes.
type API struct {
	Auth *auth.Service
	// Dev enables the mock employee login, which hands out tokens to anyone
	// who asks and so must never be reachable in production.
	Dev bool
	Log *slog.Logger
}

// Routes registers the API's endpoints on mux.
func (a *API) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/agents/login", a.login)
	if a.Dev {
		// Not registered at all otherwise, so production answers a plain 404
		// and does not even admit the endpoint exists.
		mux.HandleFunc("POST /api/h5/mock-login", a.mockLogin)
	}
	mux.HandleFunc("POST /api/logout", a.logout)
}

// clientAddr is the caller's IP address, for rate limits and logs. Behind
// a reverse proxy this is the proxy's address; trusting a forwarded header
// needs a configured list of proxies, which does not exist yet.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
