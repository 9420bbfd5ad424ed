package auth

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// maxPasswordBytes is bcrypt's input limit; longer passwords would be
// silently truncated by other implementations, and x/crypto refuses them.
const maxPasswordBytes = 72

// HashPassword hashes pw with bcrypt at its default cost.
func HashPassword(pw string) (string, error) {
	return hashPassword(pw, bcrypt.DefaultCost)
}

func hashPassword(pw string, cost int) (string, error) {
	if pw == "" {
		return "", desk.Errorf(desk.EInvalid, "password must not be empty")
	}
	if len(pw) > maxPasswordBytes {
		return "", desk.Errorf(desk.EInvalid, "password must be at most %d bytes", maxPasswordBytes)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches hash. A malformed hash is a
// mismatch, never a panic or a match.
func CheckPassword(hash, pw string) bool {
	if len(pw) > maxPasswordBytes {
		// bcrypt would compare only the first 72 bytes; no stored password
		// is longer, so a longer one cannot be right.
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// dummyHash returns a hash of a random password at cost, for comparing
// against when the username is unknown: the response then takes as long as
// a wrong password and does not reveal which usernames exist.
func dummyHash(cost int) string {
	// rand.Text never fails, and its 26 characters fit bcrypt's 72 bytes, so
	// neither can GenerateFromPassword with a cost New has checked.
	h, _ := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	return string(h)
}
