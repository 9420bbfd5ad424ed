package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoAgentOnlyWithDev: the demo account a --dev run made cannot log
// in once the same database runs without --dev, and works again with it.
func TestDemoAgentOnlyWithDev(t *testing.T) {
	db := filepath.Join(t.TempDir(), "desk.db")
	a := startApp(t, db, "--dev")
	a.loginAgent("demo", "demo")
	a.stop()

	b := startApp(t, db)
	if status, _ := b.post("/api/agents/login", "", map[string]string{"username": "demo", "password": "demo"}); status != http.StatusUnauthorized {
		t.Fatalf("demo/demo without --dev: %d, want 401", status)
	}
	if !strings.Contains(b.stderr.String(), "demo agent disabled") {
		t.Error("no log line saying the demo agent was disabled")
	}
	b.stop()

	c := startApp(t, db, "--dev")
	c.loginAgent("demo", "demo")
}

// TestHTTPHardening: JSON is never sniffed, the static files list no
// folder, and the pages may open sockets to our own origin only.
func TestHTTPHardening(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev")
	resp, err := http.Post(a.url+"/api/agents/login", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("JSON answer without nosniff: %v", resp.Header)
	}
	for _, path := range []string{"/shared/", "/agent/../shared/"} {
		resp, err := http.Get(a.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || bytes.Contains(body, []byte("api.js")) {
			t.Errorf("GET %s: %d, lists %q", path, resp.StatusCode, body)
		}
	}
	resp, err = http.Get(a.url + "/h5/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self';") || strings.Contains(csp, "ws:") || strings.Contains(csp, "wss:") {
		t.Errorf("CSP %q lets the pages connect elsewhere", csp)
	}
}

// TestStartRefusesAShortAPIKey: an operator key that could be guessed is
// refused at start, saying how long it must be.
func TestStartRefusesAShortAPIKey(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--db", filepath.Join(t.TempDir(), "d.db"), "--api-key", "short-key"}, noEnv, strings.NewReader(""), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Fatalf("run with a short key: %v", err)
	}
}
