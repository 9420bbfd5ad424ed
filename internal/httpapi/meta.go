package httpapi

import (
	"net/http"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// meta tells the pages what this desk offers before anyone signs in: the
// dev mock login (and its demo hint) only with --dev, WeCom sign-in only
// when configured, and the message size limit for the composer's counter.
// With attachments, their limits too.
func (a *API) meta(w http.ResponseWriter, _ *http.Request) {
	m := map[string]any{"dev": a.Dev, "wecom": a.WeCom, "max_body_bytes": a.MaxBodyBytes}
	if a.Assistant.Enabled() {
		m["assistant"] = true // the console offers drafts; bot conversations exist
	}
	if a.Files != nil {
		m["max_attachment_bytes"], m["max_attachments"] = a.Files.MaxBytes(), desk.MaxAttachments
	}
	writeJSON(w, http.StatusOK, m)
}
