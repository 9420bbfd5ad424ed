package kbsearch

import (
	"slices"
	"strings"
)

// typoCandidate is an indexed Latin word close to one the index lacks.
type typoCandidate struct {
	term string
	dist int
}

// maxTypos is how many edits a word of n letters may be away from an
// indexed one: none under four letters, where one edit makes another
// word ("vpn", "vnp"); one from four; two from eight.
func maxTypos(n int) int {
	switch {
	case n >= 8:
		return 2
	case n >= 4:
		return 1
	}
	return 0
}

// maxTypoCandidates bounds the expansion of one word, so that a typo in
// a short common stem does not turn a query into dozens of words.
const maxTypoCandidates = 5

// typoCandidates scans the indexed Latin words; there are a few thousand
// at most in a knowledge base, far fewer than its Chinese words, so a scan
// is cheaper than keeping an automaton up to date. The caller holds the lock.
func (x *Index) typoCandidates(w string) []typoCandidate {
	k := maxTypos(len(w))
	if k == 0 {
		return nil
	}
	var out []typoCandidate
	for t := range x.latin {
		if d := len(t) - len(w); d > k || -d > k || maxTypos(len(t)) == 0 {
			continue
		}
		if d := editDistance(w, t, k); d <= k {
			out = append(out, typoCandidate{t, d})
		}
	}
	// Closest first, then the more common word, then by name so that
	// results do not depend on map order.
	sortCandidates(out, x.latin)
	if len(out) > maxTypoCandidates {
		out = out[:maxTypoCandidates]
	}
	return out
}

// editDistance is the optimal-string-alignment distance between two ASCII
// words (a swap of neighbours, "outlook"/"outloko", is one edit), or k+1
// once it is known to exceed k.
func editDistance(a, b string, k int) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > k {
			return k + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func sortCandidates(c []typoCandidate, df map[string]int) {
	slices.SortFunc(c, func(a, b typoCandidate) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		if df[a.term] != df[b.term] {
			return df[b.term] - df[a.term]
		}
		return strings.Compare(a.term, b.term)
	})
}
