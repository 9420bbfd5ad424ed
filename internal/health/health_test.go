package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadiness(t *testing.T) {
	failing := false
	h := New(
		Check{"database", func(context.Context) error { return nil }},
		Check{"bus", func(context.Context) error {
			if failing {
				return errors.New("no round trip")
			}
			return nil
		}},
	)
	mux := http.NewServeMux()
	h.Routes(mux)
	get := func(path string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var m map[string]any
		json.NewDecoder(rec.Body).Decode(&m)
		return rec.Code, m
	}
	if code, m := get("/readyz"); code != http.StatusOK || m["status"] != "ready" {
		t.Fatalf("ready: %d %v", code, m)
	}
	failing = true
	code, m := get("/readyz")
	if code != http.StatusServiceUnavailable || m["checks"].(map[string]any)["bus"] != "no round trip" {
		t.Fatalf("failing bus: %d %v", code, m)
	}
	failing = false
	h.Drain()
	if code, m := get("/readyz"); code != http.StatusServiceUnavailable || m["status"] != "draining" {
		t.Fatalf("draining: %d %v", code, m)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("healthz while draining: %d", code)
	}
}
