package httpapi

import (
	"net/http"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// getEmployee answers an employee's profile and earlier conversations, for
// the console's side panel.
func (a *API) getEmployee(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	v, err := a.Conversations.Employee(r.Context(), p, r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
