package httpapi

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string `json:"token"`
	AgentID   string `json:"agent_id"`
	Name      string `json:"name"`
	ExpiresIn int64  `json:"expires_in"` // seconds
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Username == "" || req.Password == "" {
		a.writeError(w, r, desk.Errorf(desk.EInvalid, "username and password are required"))
		return
	}
	token, agentID, ttl, err := a.Auth.Login(r.Context(), req.Username, req.Password, a.clientAddr(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The console shows who is logged in; a failed lookup only leaves the
	// name out of a login that has succeeded.
	agent, _ := a.Auth.Agent(r.Context(), agentID)
	writeJSON(w, http.StatusOK, loginResponse{Token: token, AgentID: agentID, Name: agent.Name, ExpiresIn: int64(ttl.Seconds())})
}

type mockLoginRequest struct {
	EmployeeID string `json:"employee_id"`
	Name       string `json:"name"`
}

type mockLoginResponse struct {
	Token      string `json:"token"`
	EmployeeID string `json:"employee_id"`
	ExpiresIn  int64  `json:"expires_in"` // seconds
}

func (a *API) mockLogin(w http.ResponseWriter, r *http.Request) {
	var req mockLoginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	token, ttl, err := a.Auth.MockLogin(r.Context(), req.EmployeeID, req.Name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// Agents' lists show the name. Without one there is nothing to record,
	// and storing "" would erase a name given at an earlier login.
	if a.Conversations != nil && req.Name != "" {
		if err := a.Conversations.RememberEmployee(r.Context(), req.EmployeeID, req.Name); err != nil {
			// The token is issued either way; only the name is missing.
			a.Log.Warn("employee name not recorded", slog.String("employee_id", req.EmployeeID), slog.Any("error", err))
		}
	}
	writeJSON(w, http.StatusOK, mockLoginResponse{Token: token, EmployeeID: req.EmployeeID, ExpiresIn: int64(ttl.Seconds())})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	token, ok := bearerToken(r)
	if !ok {
		a.writeError(w, r, desk.Errorf(desk.EUnauthorized, "missing bearer token"))
		return
	}
	if err := a.Auth.Logout(r.Context(), token); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header. The scheme is case-insensitive (RFC 9110 section 11.1).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
