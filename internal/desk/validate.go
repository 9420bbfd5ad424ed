package desk

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// CheckText refuses user text a database would choke on or that would
// mislead its readers: invalid UTF-8 (PostgreSQL refuses it, SQLSTATE
// 22021), NUL and the other C0 control characters but tab and newline, DEL,
// and the bidirectional overrides and isolates (U+202A–U+202E,
// U+2066–U+2069) that make text display in another order than it reads.
// field names the input in the error.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return Errorf(EInvalid, "%s must be valid UTF-8", field)
	}
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
		case r < 0x20 || r == 0x7f:
			return Errorf(EInvalid, "%s must not contain control characters", field)
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return Errorf(EInvalid, "%s must not contain text-direction override characters", field)
		}
	}
	return nil
}

// CleanTags returns the tags as they are kept, on a conversation or an
// article alike: trimmed, without empty or repeated ones, in their first
// order, and never nil, so that JSON shows [] rather than null. It refuses
// more than MaxTags tags, and a tag longer than MaxTagRunes, spread over
// lines, with a comma (the console edits tags as a comma-separated list)
// or failing CheckText.
func CleanTags(in []string) ([]string, error) {
	out := []string{}
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t == "" || slices.Contains(out, t) {
			continue
		}
		if utf8.RuneCountInString(t) > MaxTagRunes || CheckText("tag", t) != nil || strings.ContainsAny(t, ",\n") {
			return nil, Errorf(EInvalid, "a tag is at most %d characters of one line, without commas", MaxTagRunes)
		}
		out = append(out, t)
	}
	if len(out) > MaxTags {
		return nil, Errorf(EInvalid, "at most %d tags", MaxTags)
	}
	return out, nil
}

// ValidConversationID reports whether id could be a conversation id the
// desk made: "cv_" and 16 characters of base32's "hex" alphabet, lower
// case. Anything else names no conversation and is simply not found,
// without asking the store.
func ValidConversationID(id string) bool {
	if len(id) != 19 || id[:3] != "cv_" {
		return false
	}
	for _, c := range id[3:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'v') {
			return false
		}
	}
	return true
}

// ValidAttachmentID reports whether id could be an attachment id the desk
// made: "at_" and 16 characters of the same alphabet (80 random bits).
func ValidAttachmentID(id string) bool {
	return len(id) == 19 && id[:3] == "at_" && ValidConversationID("cv_"+id[3:])
}
