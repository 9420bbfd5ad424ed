package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// profileWait bounds refreshing a stale profile while an agent waits.
const profileWait = 3 * time.Second

// Profiles keeps employees' directory profiles fresh (*signin.Service).
type Profiles interface {
	FreshProfile(ctx context.Context, e desk.Employee) desk.Employee
}

// getEmployee answers an employee's profile and earlier conversations, for
// the console's side panel.
func (a *API) getEmployee(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	v, err := a.Conversations.Employee(r.Context(), p, r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.Profiles != nil && v.Name != "" {
		// A profile older than a day is read again from the directory,
		// within a bound: a slow WeCom shows yesterday's profile instead.
		ctx, cancel := context.WithTimeout(r.Context(), profileWait)
		v.Employee = a.Profiles.FreshProfile(ctx, v.Employee)
		cancel()
	}
	writeJSON(w, http.StatusOK, v)
}
