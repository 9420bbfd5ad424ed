package kbsearch

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Snippet geometry, in characters: about two lines of the console's
// side panel, with the match a little in from the left.
const (
	snippetLen    = 80
	snippetBefore = 20
)

// snippet cuts the body around its best match: the occurrence of the
// rarest, most directly matched query term. The caller holds the read lock.
func (x *Index) snippet(plain string, units []unit) (string, []Span) {
	text := []rune(strings.ReplaceAll(plain, "\n", " "))
	folded := make([]rune, len(text))
	for i, r := range text {
		folded[i] = fold(r)
	}
	fs := string(folded)

	type occ struct{ start, end int } // rune offsets
	var all []occ
	anchor, best := -1, 0.0
	for _, u := range units {
		for _, a := range u.alts {
			for _, t := range a.terms {
				df := len(x.postings[t])
				if df == 0 {
					continue
				}
				value := a.weight * math.Log(1+float64(x.live)/float64(df))
				n := utf8.RuneCountInString(t)
				for off, from := 0, 0; ; from = off + len(t) {
					i := strings.Index(fs[from:], t)
					if i < 0 {
						break
					}
					off = from + i
					start := utf8.RuneCountInString(fs[:off])
					all = append(all, occ{start, start + n})
					if value > best || value == best && start < anchor {
						anchor, best = start, value
					}
				}
			}
		}
	}
	lo := 0
	if anchor >= 0 {
		lo = max(0, anchor-snippetBefore)
	}
	hi := min(len(text), lo+snippetLen)
	lo = max(0, min(lo, hi-snippetLen))

	var b strings.Builder
	if lo > 0 {
		b.WriteString("…")
	}
	offsets := make([]int, 0, hi-lo+1) // byte offset in the snippet of each rune
	for _, r := range text[lo:hi] {
		offsets = append(offsets, b.Len())
		b.WriteRune(r)
	}
	offsets = append(offsets, b.Len())
	if hi < len(text) {
		b.WriteString("…")
	}

	slices.SortFunc(all, func(a, b occ) int { return a.start - b.start })
	var spans []Span
	for _, o := range all {
		if o.start < lo || o.end > hi {
			continue
		}
		s := Span{offsets[o.start-lo], offsets[o.end-lo]}
		if n := len(spans); n > 0 && s.Start <= spans[n-1].End {
			spans[n-1].End = max(spans[n-1].End, s.End)
			continue
		}
		spans = append(spans, s)
	}
	return b.String(), spans
}
