package httpapi

import "net/http"

// meta tells the pages what this desk offers before anyone signs in: the
// dev mock login (and its demo hint) only with --dev, WeCom sign-in only
// when configured, and the message size limit for the composer's counter.
func (a *API) meta(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"dev": a.Dev, "wecom": a.WeCom, "max_body_bytes": a.MaxBodyBytes,
	})
}
