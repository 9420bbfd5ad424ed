// Package search turns text into the terms the desk indexes, and a
// person's query into the matching expression for SQLite's FTS5 and
// PostgreSQL's text search, so that Chinese is found by substring without
// a word segmenter: every CJK character is a term of its own and a run of
// them is searched as a phrase (consecutive terms), while Latin words and
// numbers are terms whole (the last one of a query also as a prefix).
// A one- or two-character Chinese query is a one- or two-term phrase,
// found through the index like any other.
package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// isCJK: scripts written without spaces between words.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// tokens splits text into lower-case terms: each CJK character alone,
// each run of other letters and digits together.
func tokens(text string) []string {
	var out []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			out = append(out, word.String())
			word.Reset()
		}
	}
	for _, r := range text {
		switch {
		case isCJK(r):
			flush()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return out
}

// Terms is what to index for texts: their terms, separated by spaces.
func Terms(texts ...string) string {
	var all []string
	for _, t := range texts {
		all = append(all, tokens(t)...)
	}
	return strings.Join(all, " ")
}

// Query is a parsed search: every phrase must occur.
type Query struct {
	Phrases [][]string // each a run of terms that must follow each other
	words   []string   // the query's pieces as typed (lower case), for highlighting
}

// MaxQueryRunes bounds a query.
const MaxQueryRunes = 100

// Parse reads what a person typed; ok is false when nothing searchable is
// in it.
func Parse(q string) (Query, bool) {
	var out Query
	if utf8.RuneCountInString(q) > MaxQueryRunes {
		q = string([]rune(q)[:MaxQueryRunes])
	}
	for _, piece := range strings.Fields(q) {
		toks := tokens(piece)
		if len(toks) == 0 {
			continue
		}
		// "VPN连不上" is one piece but two kinds of terms: each Latin
		// word, and each CJK run, is its own phrase.
		var run []string
		flush := func() {
			if len(run) > 0 {
				out.Phrases = append(out.Phrases, run)
				run = nil
			}
		}
		for _, tok := range toks {
			r, _ := utf8.DecodeRuneInString(tok)
			if isCJK(r) {
				run = append(run, tok)
				continue
			}
			flush()
			out.Phrases = append(out.Phrases, []string{tok})
		}
		flush()
		out.words = append(out.words, strings.ToLower(piece))
	}
	return out, len(out.Phrases) > 0
}

// latinLast: the query's last phrase is one Latin word, searched as a
// prefix too ("vpn" finds "vpnclient"), as people type words unfinished.
func (q Query) latinLast() bool {
	last := q.Phrases[len(q.Phrases)-1]
	r, _ := utf8.DecodeRuneInString(last[0])
	return len(last) == 1 && !isCJK(r)
}

// FTS5 is the query as an SQLite FTS5 MATCH expression. Terms hold only
// letters and digits, so quoting them is all the escaping needed.
func (q Query) FTS5() string {
	parts := make([]string, len(q.Phrases))
	for i, p := range q.Phrases {
		parts[i] = `"` + strings.Join(p, " ") + `"`
		if i == len(q.Phrases)-1 && q.latinLast() {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " AND ")
}

// TSQuery is the query for PostgreSQL's to_tsquery('simple', …): phrases
// with <->, prefixes with :*.
func (q Query) TSQuery() string {
	parts := make([]string, len(q.Phrases))
	for i, p := range q.Phrases {
		quoted := make([]string, len(p))
		for j, t := range p {
			quoted[j] = "'" + t + "'"
		}
		parts[i] = strings.Join(quoted, " <-> ")
		if i == len(q.Phrases)-1 && q.latinLast() {
			parts[i] += ":*"
		}
		if len(p) > 1 {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, " & ")
}

// Snippet is a piece of text around the first match, with where the match
// is in it (rune offsets), for the page to mark with text nodes.
type Snippet struct {
	Text  string `json:"text"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

// Highlight finds the first place any word of the query occurs in text
// (ignoring case) and returns up to context runes around it; ok is false
// when none does (the index matched across punctuation, say).
func (q Query) Highlight(text string, context int) (Snippet, bool) {
	lower := []rune(strings.ToLower(text))
	orig := []rune(text)
	if len(lower) != len(orig) { // a case mapping changed the length: no offsets to trust
		lower = orig
	}
	best, bestLen := -1, 0
	for _, w := range q.words {
		for _, cand := range candidates(w) {
			if i := indexRunes(lower, []rune(cand)); i >= 0 && (best < 0 || i < best) {
				best, bestLen = i, utf8.RuneCountInString(cand)
			}
		}
	}
	if best < 0 {
		n := min(len(orig), 2*context)
		return Snippet{Text: string(orig[:n])}, false
	}
	from, to := max(0, best-context), min(len(orig), best+bestLen+context)
	s := Snippet{Text: string(orig[from:to]), Start: best - from, End: best - from + bestLen}
	if from > 0 {
		s.Text, s.Start, s.End = "…"+s.Text, s.Start+1, s.End+1
	}
	if to < len(orig) {
		s.Text += "…"
	}
	return s, true
}

// candidates: the piece as typed, then its CJK runs and words alone
// ("vpn连不上" may occur as "VPN 连不上").
func candidates(piece string) []string {
	out := []string{piece}
	var run strings.Builder
	for _, tok := range tokens(piece) {
		r, _ := utf8.DecodeRuneInString(tok)
		if isCJK(r) {
			run.WriteString(tok)
			continue
		}
		if run.Len() > 0 {
			out = append(out, run.String())
			run.Reset()
		}
		out = append(out, tok)
	}
	if run.Len() > 0 {
		out = append(out, run.String())
	}
	return out
}

func indexRunes(s, sub []rune) int {
	if len(sub) == 0 {
		return -1
	}
outer:
	for i := 0; i+len(sub) <= len(s); i++ {
		for j := range sub {
			if s[i+j] != sub[j] {
				continue outer
			}
		}
		return i
	}
	return -1
}
