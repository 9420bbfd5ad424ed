package httpapi

import (
	"net/http"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/staff"
)

// The admin area's agents: list, create, change (name, role, enabled,
// password, WeCom member). Admin agents only; every change is audited.
func (a *API) staffRoutes(mux *http.ServeMux) {
	agent := desk.RoleAgent
	mux.Handle("GET /api/teams", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		teams, err := a.Staff.Teams(r.Context(), p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"teams": teams})
	}, agent))
	saveTeam := func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var t desk.Team
		if err := decodeJSON(w, r, &t); err != nil {
			a.writeError(w, r, err)
			return
		}
		t.ID = r.PathValue("id")
		out, err := a.Staff.SaveTeam(r.Context(), p, t)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
	mux.Handle("POST /api/teams", a.authed(saveTeam, agent))
	mux.Handle("POST /api/teams/{id}", a.authed(saveTeam, agent))
	mux.Handle("DELETE /api/teams/{id}", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		if err := a.Staff.DeleteTeam(r.Context(), p, r.PathValue("id")); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, agent))
	// Categories: every signed-in user reads them (the pages name
	// conversations by them); admins create, rename and retire them.
	mux.Handle("GET /api/categories", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		cats, err := a.Staff.Categories(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"categories": cats})
	}, agent, desk.RoleEmployee))
	saveCategory := func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var c desk.Category
		if err := decodeJSON(w, r, &c); err != nil {
			a.writeError(w, r, err)
			return
		}
		if key := r.PathValue("key"); key != "" {
			c.Key = key
		}
		out, err := a.Staff.SaveCategory(r.Context(), p, c)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
	mux.Handle("POST /api/categories", a.authed(saveCategory, agent))
	mux.Handle("POST /api/categories/{key}", a.authed(saveCategory, agent))
	mux.Handle("GET /api/staff", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		list, err := a.Staff.List(r.Context(), p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"agents": list})
	}, agent))
	mux.Handle("POST /api/staff", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in staff.NewMember
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		m, err := a.Staff.Create(r.Context(), p, in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, m)
	}, agent))
	mux.Handle("POST /api/staff/{id}", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var c staff.Change
		if err := decodeJSON(w, r, &c); err != nil {
			a.writeError(w, r, err)
			return
		}
		m, err := a.Staff.Update(r.Context(), p, r.PathValue("id"), c)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, m)
	}, agent))
}
