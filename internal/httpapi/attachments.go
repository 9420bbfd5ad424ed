package httpapi

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/attachment"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/limits"
)

// Files is what the API needs of *attachment.Service.
type Files interface {
	Upload(ctx context.Context, owner desk.Principal, name string, body io.Reader) (desk.Attachment, error)
	MaxBytes() int64
	URL(id, variant string) (string, time.Time)
	Verify(id, variant, exp, sig string) error
	Open(ctx context.Context, id string, thumb bool) (desk.Attachment, io.ReadCloser, int64, error)
}

func (a *API) attachmentRoutes(mux *http.ServeMux) {
	employee, agent := desk.RoleEmployee, desk.RoleAgent
	mux.Handle("POST /api/uploads", a.authed(a.upload, employee, agent))
	mux.Handle("GET /api/conversations/{id}/attachments", a.authed(a.listAttachments, employee, agent))
	// No Authorization here: <img> cannot send one. The signature in the
	// URL, made after the list above checked who asked, is the grant.
	mux.HandleFunc("GET /files/{id}/{variant}", a.serveFile)
}

// upload takes one file as the request body, its name in ?name=. The body
// is cut off past the limit while it streams, never read whole.
func (a *API) upload(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	if a.UploadRate != nil {
		if ok, wait := a.UploadRate.Allow(limits.Key(p)); !ok {
			a.writeError(w, r, limits.Err("too many uploads; slow down", wait))
			return
		}
	}
	if r.ContentLength > a.Files.MaxBytes() {
		a.writeError(w, r, desk.Errorf(desk.ETooLarge, "a file may be at most %d bytes", a.Files.MaxBytes()).WithReason("too_large"))
		return
	}
	body := http.MaxBytesReader(w, r.Body, a.Files.MaxBytes())
	att, err := a.Files.Upload(r.Context(), p, r.URL.Query().Get("name"), body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The uploader may look at what they uploaded (a preview before the
	// message or the article that uses it is saved).
	out := signedAttachment{Attachment: att}
	out.URL, _ = a.Files.URL(att.ID, attachment.VariantFile)
	if att.Thumbnail {
		out.ThumbnailURL, _ = a.Files.URL(att.ID, attachment.VariantThumb)
	}
	writeJSON(w, http.StatusCreated, out)
}

// signedAttachment is an attachment with the URLs its viewer may fetch it
// and its thumbnail by, until ExpiresAt.
type signedAttachment struct {
	desk.Attachment
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
}

// listAttachments answers every file the conversation's messages carry
// that the caller may see, each with signed URLs.
func (a *API) listAttachments(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	id, err := conversationID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	as, err := a.Conversations.Attachments(r.Context(), p, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]signedAttachment, len(as))
	var expires time.Time
	for i, at := range as {
		out[i].Attachment = at
		out[i].URL, expires = a.Files.URL(at.ID, attachment.VariantFile)
		if at.Thumbnail {
			out[i].ThumbnailURL, _ = a.Files.URL(at.ID, attachment.VariantThumb)
		}
	}
	if expires.IsZero() {
		_, expires = a.Files.URL("", attachment.VariantFile)
	}
	writeJSON(w, http.StatusOK, map[string]any{"attachments": out, "expires_at": expires.UTC()})
}

// serveFile sends a file for a signed URL: an image inline, anything else
// as a download, never as a page of this origin (nosniff, a sandboxing
// CSP), whatever a file contains.
func (a *API) serveFile(w http.ResponseWriter, r *http.Request) {
	id, variant := r.PathValue("id"), r.PathValue("variant")
	q := r.URL.Query()
	if err := a.Files.Verify(id, variant, q.Get("exp"), q.Get("sig")); err != nil {
		a.writeError(w, r, err)
		return
	}
	thumb := variant == attachment.VariantThumb
	att, body, size, err := a.Files.Open(r.Context(), id, thumb)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer body.Close()
	h := w.Header()
	ctype, disposition := att.Type, "attachment"
	switch {
	case thumb:
		ctype, disposition = "image/jpeg", "inline"
	case att.IsImage():
		disposition = "inline"
	case strings.HasPrefix(ctype, "text/"):
		ctype += "; charset=utf-8"
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": att.Name}))
	h.Set("Content-Length", fmt.Sprint(size))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Referrer-Policy", "no-referrer")
	// The URL itself expires; what it names never changes.
	h.Set("Cache-Control", "private, max-age=900, immutable")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.Copy(w, body)
	}
}
