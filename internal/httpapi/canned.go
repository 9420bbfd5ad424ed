package httpapi

import (
	"net/http"
	"strconv"

	"github.com/servicedesk/servicedesk/internal/canned"
	"github.com/servicedesk/servicedesk/internal/desk"
)

func (a *API) cannedRoutes(mux *http.ServeMux) {
	agent := desk.RoleAgent
	mux.Handle("GET /api/canned", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		list, err := a.Canned.List(r.Context(), p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"replies": list})
	}, agent))
	mux.Handle("POST /api/canned", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in canned.Reply
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		out, err := a.Canned.Create(r.Context(), p, in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, out)
	}, agent))
	mux.Handle("PUT /api/canned/{id}", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in canned.Reply
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		out, err := a.Canned.Update(r.Context(), p, r.PathValue("id"), in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}, agent))
	mux.Handle("DELETE /api/canned/{id}", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		if err := a.Canned.Delete(r.Context(), p, r.PathValue("id")); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, agent))
	mux.Handle("GET /api/audit", a.authed(a.auditLog, agent))
}

// auditLog answers admins with what admins did, newest first; ?before=
// (an entry id) pages back.
func (a *API) auditLog(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	me, err := a.Conversations.Who(r.Context(), p)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if me.AgentRole != desk.AgentRoleAdmin {
		a.writeError(w, r, desk.Errorf(desk.EForbidden, "only admins read the audit log"))
		return
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	limit, err := queryInt(r.URL.Query(), "limit", 1, 500)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	entries, err := a.Audit.List(r.Context(), before, int(limit))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}
