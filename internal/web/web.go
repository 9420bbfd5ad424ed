// Package web serves the desk's two pages, embedded in the binary: the
// agent console at /agent/ and the employee H5 page at /h5/. They are plain
// HTML, CSS and JavaScript modules with no build step, so `go run` serves
// exactly what is in static/.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// contentSecurityPolicy forbids inline script and every origin but ours:
// whatever a user manages to get into a message can never run, nor send
// anything anywhere. Sockets too go back to our own origin only: CSP level
// 3 lets 'self' match ws:/wss: on the page's host (Chromium, WeCom's
// WebView and current Safari and Firefox do), where "ws: wss:" would have
// allowed any host.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

// Routes registers the pages on mux.
func Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(files, "static") // cannot fail: the folder is embedded
	files := http.FileServerFS(static)
	serve := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Pages change with every release of the binary; revalidate always.
		h.Set("Cache-Control", "no-cache")
		// A folder is served only as its index.html: never a listing of
		// what the binary carries.
		if strings.HasSuffix(r.URL.Path, "/") {
			if _, err := fs.Stat(static, strings.TrimPrefix(r.URL.Path, "/")+"index.html"); err != nil {
				http.NotFound(w, r)
				return
			}
		}
		files.ServeHTTP(w, r)
	}
	mux.HandleFunc("GET /agent/", serve)
	mux.HandleFunc("GET /h5/", serve)
	mux.HandleFunc("GET /shared/", serve)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/agent/", http.StatusFound)
	})
}
