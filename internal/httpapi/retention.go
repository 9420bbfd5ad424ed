package httpapi

import (
	"mime"
	"net/http"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// An admin answering a personal-data request: everything about one
// employee as a JSON download, or erased. Both audited.
func (a *API) retentionRoutes(mux *http.ServeMux) {
	agent := desk.RoleAgent
	mux.Handle("GET /api/employees/{id}/export", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		out, err := a.Retention.Export(r.Context(), p, r.PathValue("id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "employee-" + out.Employee.ID + ".json"}))
		writeJSON(w, http.StatusOK, out)
	}, agent))
	mux.Handle("POST /api/employees/{id}/erase", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		n, err := a.Retention.Erase(r.Context(), p, r.PathValue("id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"conversations": n})
	}, agent))
}
