package main

import (
	"net/http"
	"testing"
)

// TestSessionsSurviveARestart: without Redis the tokens live in the
// database, so stopping and starting a single-node desk signs nobody out;
// a logout before the restart still holds after it.
func TestSessionsSurviveARestart(t *testing.T) {
	databases(t, []string{"--dev"}, func(t *testing.T, a *app) {
		agentTok, agentID := a.loginAgent("demo", "demo")
		empTok := a.employee("zhangsan")
		goneTok := a.employee("lisi")
		if status, _ := a.post("/api/logout", goneTok, nil); status != http.StatusNoContent {
			t.Fatalf("logout: %d", status)
		}
		b := a.restart(t)

		pingPong(t, b.dial("/ws/"+agentID, []string{"bearer." + agentTok}))
		pingPong(t, b.dial("/ws/h5/zhangsan", []string{"bearer." + empTok}))
		if status, m := b.post("/api/h5/conversations", empTok, map[string]string{"subject": "重启后", "body": "还能用吗", "client_msg_id": "r1"}); status != http.StatusCreated {
			t.Fatalf("REST with a token from before the restart: %d %v", status, m)
		}
		if status, _ := b.post("/api/h5/conversations", goneTok, map[string]string{"subject": "x", "body": "y"}); status != http.StatusUnauthorized {
			t.Fatalf("a token logged out before the restart: %d", status)
		}
		// A logout after the restart ends a token from before it.
		if status, _ := b.post("/api/logout", empTok, nil); status != http.StatusNoContent {
			t.Fatalf("logout after the restart: %d", status)
		}
		if status, _ := b.post("/api/h5/conversations", empTok, map[string]string{"subject": "x", "body": "y"}); status != http.StatusUnauthorized {
			t.Fatalf("a token logged out after the restart: %d", status)
		}
	})
}
