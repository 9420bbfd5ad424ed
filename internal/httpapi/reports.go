package httpapi

import (
	"encoding/csv"
	"net/http"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/reports"
)

// The reports: for admins and team leads in the console, and for other
// systems with the operator API key (X-API-Key): the same figures as JSON,
// and each table as CSV.
func (a *API) reportRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/reports", func(w http.ResponseWriter, r *http.Request) {
		rep, ok := a.report(w, r)
		if ok {
			writeJSON(w, http.StatusOK, rep)
		}
	})
	mux.HandleFunc("GET /api/reports/{table}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("table")
		if len(name) > 4 && name[len(name)-4:] == ".csv" {
			name = name[:len(name)-4]
		}
		rep, ok := a.report(w, r)
		if !ok {
			return
		}
		rows, err := rep.Table(name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="servicedesk-`+name+`.csv"`)
		w.Write([]byte("\ufeff")) // so a spreadsheet opens the Chinese as UTF-8
		cw := csv.NewWriter(w)
		cw.WriteAll(rows)
	})
}

// report reads the filter and builds the report for an admin, a team lead
// or the holder of the API key; on failure it has written the error.
func (a *API) report(w http.ResponseWriter, r *http.Request) (reports.Report, bool) {
	var viewer desk.Principal
	trusted := false
	if key := r.Header.Get("X-API-Key"); key != "" {
		if !a.keyMatches(key) {
			a.writeError(w, r, desk.Errorf(desk.EUnauthorized, "wrong X-API-Key"))
			return reports.Report{}, false
		}
		trusted = true
	} else {
		p, err := a.principal(r)
		if err != nil {
			a.writeError(w, r, err)
			return reports.Report{}, false
		}
		viewer = p
	}
	q := r.URL.Query()
	from, to, err := reports.ParsePeriod(q.Get("from"), q.Get("to"), a.ReportZone(), time.Now())
	if err != nil {
		a.writeError(w, r, err)
		return reports.Report{}, false
	}
	f := reports.Filter{From: from, To: to, TeamID: q.Get("team"), AgentID: q.Get("agent"), Category: q.Get("category"), Priority: q.Get("priority")}
	rep, err := a.Reports.Report(r.Context(), viewer, trusted, f)
	if err != nil {
		a.writeError(w, r, err)
		return reports.Report{}, false
	}
	return rep, true
}
