package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/desk"
)

func TestWriteError(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{"invalid", desk.Errorf(desk.EInvalid, "bad"), 400, "invalid", "bad"},
		{"unauthorized", desk.Errorf(desk.EUnauthorized, "who"), 401, "unauthorized", "who"},
		{"forbidden", desk.Errorf(desk.EForbidden, "no"), 403, "forbidden", "no"},
		{"not found", desk.Errorf(desk.ENotFound, "gone"), 404, "not_found", "gone"},
		{"conflict", desk.Errorf(desk.EConflict, "taken"), 409, "conflict", "taken"},
		{"rate limited", desk.Errorf(desk.ERateLimited, "slow down"), 429, "rate_limited", "slow down"},
		{"unavailable", desk.Wrap(desk.EUnavailable, errors.New("redis: dial tcp"), "token store unavailable"), 503, "unavailable", "token store unavailable"},
		{"internal", desk.Wrap(desk.EInternal, errors.New("secret cause"), "should not show"), 500, "internal", "internal error"},
		{"plain error", errors.New("sql: secret cause"), 500, "internal", "internal error"},
		{"wrapped desk error", fmt.Errorf("context: %w", desk.Errorf(desk.EConflict, "taken")), 409, "conflict", "taken"},
		{"unknown code", desk.Errorf("teapot", "short and stout"), 500, "internal", "internal error"},
	}
	a := &API{Log: slog.New(slog.DiscardHandler)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			a.writeError(w, httptest.NewRequest(http.MethodPost, "/api/x", nil), tt.err)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			var got errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Error.Code != tt.wantCode || got.Error.Message != tt.wantMessage {
				t.Errorf("body = %+v, want %s %q", got.Error, tt.wantCode, tt.wantMessage)
			}
		})
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want string
	}{
		{15 * time.Minute, "900"},
		{1500 * time.Millisecond, "2"},
		{time.Millisecond, "1"},
	}
	a := &API{Log: slog.New(slog.DiscardHandler)}
	for _, tt := range tests {
		t.Run(tt.wait.String(), func(t *testing.T) {
			err := desk.Wrap(desk.ERateLimited, &auth.RateLimitedError{RetryAfter: tt.wait}, "slow down")
			w := httptest.NewRecorder()
			a.writeError(w, httptest.NewRequest(http.MethodPost, "/api/x", nil), err)
			if got := w.Header().Get("Retry-After"); got != tt.want {
				t.Errorf("Retry-After = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUnavailableSaysWhenToRetry: a 503 (the database restarting or
// failing over) tells clients to come back in seconds.
func TestUnavailableSaysWhenToRetry(t *testing.T) {
	a := &API{Log: slog.New(slog.DiscardHandler)}
	w := httptest.NewRecorder()
	a.writeError(w, httptest.NewRequest(http.MethodPost, "/api/x", nil), desk.Errorf(desk.EUnavailable, "database unavailable"))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}
