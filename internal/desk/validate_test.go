package desk

import (
	"slices"
	"strings"
	"testing"
)

func TestCleanTags(t *testing.T) {
	many := make([]string, MaxTags+1)
	for i := range many {
		many[i] = "t" + strings.Repeat("x", i)
	}
	tests := []struct {
		name string
		in   []string
		want []string
		err  string
	}{
		{"nothing is an empty list, not nil", nil, []string{}, ""},
		{"trimmed, blanks and repeats dropped, first order kept", []string{" vpn ", "", "打印机", "vpn", "  "}, []string{"vpn", "打印机"}, ""},
		{"MaxTagRunes characters, counted as runes", []string{strings.Repeat("网", MaxTagRunes)}, []string{strings.Repeat("网", MaxTagRunes)}, ""},
		{"MaxTags after repeats are dropped", append(slices.Clone(many[:MaxTags]), many[0]), many[:MaxTags], ""},
		{"one rune too long", []string{strings.Repeat("网", MaxTagRunes+1)}, nil, "a tag is at most 32 characters of one line, without commas"},
		{"a comma", []string{"a,b"}, nil, "a tag is at most 32 characters of one line, without commas"},
		{"two lines", []string{"a\nb"}, nil, "a tag is at most 32 characters of one line, without commas"},
		{"a control character", []string{"a\x00b"}, nil, "a tag is at most 32 characters of one line, without commas"},
		{"a direction override", []string{"a\u202eb"}, nil, "a tag is at most 32 characters of one line, without commas"},
		{"too many", many, nil, "at most 10 tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanTags(tt.in)
			if tt.err != "" {
				if ErrorCode(err) != EInvalid || ErrorMessage(err) != tt.err {
					t.Fatalf("err = %v, want %s %q", err, EInvalid, tt.err)
				}
				return
			}
			if err != nil || got == nil || !slices.Equal(got, tt.want) {
				t.Fatalf("CleanTags(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
