// Package health answers the load balancer's two questions: is the process
// up (/healthz), and should it get traffic (/readyz)?
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// checkTimeout bounds all of /readyz: a load balancer polls it every few
// seconds and must get an answer before its own timeout.
const checkTimeout = 2 * time.Second

// Check is one dependency readiness depends on.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Health serves /healthz and /readyz.
type Health struct {
	checks   []Check
	draining atomic.Bool
}

// New returns a Health that is ready while every check passes.
func New(checks ...Check) *Health { return &Health{checks: checks} }

// Drain makes /readyz fail from now on, so the load balancer stops sending
// new connections while the node closes its old ones.
func (h *Health) Drain() { h.draining.Store(true) }

// Routes registers the two endpoints.
func (h *Health) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", h.ready)
}

func (h *Health) ready(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		write(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	results := make(map[string]string, len(h.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for _, c := range h.checks {
		wg.Go(func() {
			res := "ok"
			if err := c.Run(ctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			results[c.Name] = res
			ok = ok && res == "ok"
		})
	}
	wg.Wait()
	status, code := "ready", http.StatusOK
	if !ok {
		status, code = "not ready", http.StatusServiceUnavailable
	}
	write(w, code, map[string]any{"status": status, "checks": results})
}

func write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
