package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/limits"
)

// adminRoutes are the operator's endpoints, behind the same API key as the
// push API: the systems that hold it (an IT admin tool, the HR system
// offboarding someone) are the ones that disable and kick.
func (a *API) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/admin/agents/{id}/disable", a.withKey(a.setDisabled(true)))
	mux.HandleFunc("POST /api/admin/agents/{id}/enable", a.withKey(a.setDisabled(false)))
	mux.HandleFunc("POST /api/admin/kick", a.withKey(a.kick))
}

// withKey lets through requests carrying the API key, compared in
// constant time.
func (a *API) withKey(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		addr := a.clientAddr(r)
		if ok, wait := a.keyFailures.Attempt(addr); !ok {
			a.writeError(w, r, limits.Err("too many wrong API keys from this address", wait))
			return
		}
		given := r.Header.Get("X-API-Key")
		if token, ok := bearerToken(r); given == "" && ok {
			given = token
		}
		if !a.keyMatches(given) {
			a.writeError(w, r, desk.Errorf(desk.EUnauthorized, "missing or wrong X-API-Key"))
			return
		}
		a.keyFailures.Undo(addr)
		h(w, r)
	}
}

// RequireKey serves h only to callers presenting the operator API key (as
// X-API-Key or a bearer token, which Prometheus can send), throttling
// wrong keys per address: how /metrics is served on the public port.
func (a *API) RequireKey(h http.Handler) http.Handler {
	return a.withKey(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) })
}

// keyMatches compares given with the API key through their SHA-256
// digests, in constant time: comparing the keys themselves would leak the
// key's length through the time taken.
func (a *API) keyMatches(given string) bool {
	if given == "" || a.Push.Key == "" {
		return false
	}
	g, k := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(a.Push.Key))
	return subtle.ConstantTimeCompare(g[:], k[:]) == 1
}

func (a *API) setDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := a.Auth.SetAgentDisabled(r.Context(), r.PathValue("id"), disabled); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

type kickRequest struct {
	AgentID    string `json:"agent_id"`
	EmployeeID string `json:"employee_id"`
}

func (a *API) kick(w http.ResponseWriter, r *http.Request) {
	var req kickRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	var user desk.Principal
	switch {
	case req.AgentID != "" && req.EmployeeID == "":
		user = desk.Principal{Role: desk.RoleAgent, ID: req.AgentID}
	case req.EmployeeID != "" && req.AgentID == "":
		user = desk.Principal{Role: desk.RoleEmployee, ID: req.EmployeeID}
	default:
		a.writeError(w, r, desk.Errorf(desk.EInvalid, "name exactly one of agent_id, employee_id"))
		return
	}
	if err := a.Auth.Kick(r.Context(), user); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
