package desk

import (
	"strings"
	"testing"
)

// TestParseFingerprint: the hub keeps fingerprints as bytes and reads an
// audience's back; only what TokenFingerprint writes names a token.
func TestParseFingerprint(t *testing.T) {
	fp := TokenFingerprint("tok")
	got, ok := ParseFingerprint(fp)
	if !ok || got != TokenFingerprintOf("tok") {
		t.Fatalf("ParseFingerprint(%q) = %x, %v; want the token's bytes", fp, got, ok)
	}
	for _, s := range []string{"", "abc", strings.ToUpper(fp), fp + "00", strings.Repeat("zz", 12)} {
		if _, ok := ParseFingerprint(s); ok {
			t.Errorf("ParseFingerprint(%q) accepted", s)
		}
	}
}
