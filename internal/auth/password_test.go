package auth

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/servicedesk/servicedesk/internal/desk"
)

func TestHashPasswordRejects(t *testing.T) {
	tests := []struct {
		name string
		pw   string
	}{
		{"empty", ""},
		{"over 72 bytes", strings.Repeat("a", 73)},
		{"over 72 bytes in fewer runes", strings.Repeat("密", 25)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := HashPassword(tt.pw)
			if code := desk.ErrorCode(err); code != desk.EInvalid {
				t.Errorf("HashPassword = %v, want code %q", err, desk.EInvalid)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	const pw = "correct horse battery staple"
	hash, err := hashPassword(pw, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	long72 := strings.Repeat("x", 72)
	hash72, err := hashPassword(long72, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, pw string
		want           bool
	}{
		{"right", hash, pw, true},
		{"wrong", hash, pw + "!", false},
		{"empty", hash, "", false},
		{"malformed hash", "not-a-hash", pw, false},
		{"empty hash", "", "", false},
		{"72 bytes", hash72, long72, true},
		{"73 bytes sharing the first 72", hash72, long72 + "y", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckPassword(tt.hash, tt.pw); got != tt.want {
				t.Errorf("CheckPassword = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHashPasswordUsesDefaultCost(t *testing.T) {
	hash, err := HashPassword("a password")
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(hash)); cost != bcrypt.DefaultCost {
		t.Errorf("cost = %d, want %d", cost, bcrypt.DefaultCost)
	}
}
