package httpapi

import (
	"net/http"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/settings"
)

// The desk's business hours, holidays and automatic replies: agents read
// them, admins change them (audited); every node applies a change within
// settings.RefreshInterval.
func (a *API) settingsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/settings", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		s, err := a.Settings.Get(r.Context(), p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	}, desk.RoleAgent))
	mux.Handle("POST /api/settings", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		var in settings.Schedule
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		s, err := a.Settings.Save(r.Context(), p, in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	}, desk.RoleAgent))
}
