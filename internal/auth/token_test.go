package auth

import (
	"regexp"
	"testing"
)

func TestNewToken(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	seen := make(map[string]bool)
	for range 100 {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !pattern.MatchString(tok) {
			t.Fatalf("token %q is not 43 base64url characters", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
	}
}

func TestNewAgentID(t *testing.T) {
	pattern := regexp.MustCompile(`^agt_[a-z2-7]{16}$`)
	for range 100 {
		id, err := newAgentID()
		if err != nil {
			t.Fatal(err)
		}
		if !pattern.MatchString(id) {
			t.Fatalf("agent id %q does not match %s", id, pattern)
		}
	}
}
