package httpapi

import (
	"net/http"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/sla"
)

// The service-level policies: agents read them (the console colours its
// clocks by their warn share), admins change them (audited).
func (a *API) slaRoutes(mux *http.ServeMux) {
	agent := desk.RoleAgent
	mux.Handle("GET /api/sla/policies", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		ps, err := a.SLA.List(r.Context(), p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"policies": ps})
	}, agent))
	save := func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in sla.Policy
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		in.ID = r.PathValue("id")
		out, err := a.SLA.Save(r.Context(), p, in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
	mux.Handle("POST /api/sla/policies", a.authed(save, agent))
	mux.Handle("POST /api/sla/policies/{id}", a.authed(save, agent))
	mux.Handle("DELETE /api/sla/policies/{id}", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		if err := a.SLA.Delete(r.Context(), p, r.PathValue("id")); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, agent))
}
