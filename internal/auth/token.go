package auth

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"strings"
)

// tokenBytes is 256 bits, far beyond guessing even for an attacker who
// can try tokens against every node for years.
const tokenBytes = 32

// NewToken returns a fresh bearer token: 256 random bits, base64url without
// padding (43 characters), so it can sit in a header, a URL or a Redis key
// without escaping.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+); the
	// error is still returned in case a future platform breaks that promise.
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// agentIDPrefix marks generated agent ids, so they never collide with a
// WeCom UserID used as an employee id in logs and keys.
const agentIDPrefix = "agt_"

// agentIDBytes gives 80 random bits, exactly 16 base32 characters.
const agentIDBytes = 10

// newAgentID returns "agt_" followed by 16 lowercase base32 characters.
func newAgentID() (string, error) {
	b := make([]byte, agentIDBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return agentIDPrefix + strings.ToLower(base32.StdEncoding.EncodeToString(b)), nil
}
