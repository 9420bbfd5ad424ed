package kbsearch

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
)

// Options narrow a search.
type Options struct {
	// Category, when set, keeps only the articles of that category.
	Category string
	// Limit is the most results returned; 0 means DefaultLimit.
	Limit int
}

// DefaultLimit is the number of results when Options.Limit is 0: about
// what fits beside a conversation in the agent console.
const DefaultLimit = 10

// Result is one article found, best first.
type Result struct {
	ID       string
	Title    string
	Category string
	Score    float64
	// Snippet is a short piece of the body around the best match, with
	// "…" where it was cut; Highlights are the byte ranges of Snippet
	// that matched the query.
	Snippet    string
	Highlights []Span
}

// Span is a byte range [Start, End) of a string.
type Span struct{ Start, End int }

// BM25 parameters: the usual values, which suit articles of a few hundred
// words with short titles.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// How much a word counts when matched other than as typed.
const (
	weightExact   = 1.0
	weightSynonym = 0.85
	weightSubword = 0.5 // "打印" for "打印机"
	weightTypo1   = 0.7 // one edit away
	weightTypo2   = 0.5 // two edits away
)

// alternative is a way of matching a unit of the query: all of its terms,
// averaged, so that a two-word synonym weighs as much as a one-word one.
type alternative struct {
	terms  []string
	weight float64
}

// unit is one thing the person asked about; an article scores for it by
// its best alternative only, so that "VPN" and "虚拟专网" in the same
// article are not counted twice.
type unit struct {
	alts []alternative
}

// scratch holds the per-document accumulators of one search, reused
// between searches since they are as long as the index.
type scratch struct {
	alt, unit, total []float64
	matched          []uint16 // units matched per document, for coordination
	altT, unitT      []int32
	totalT           []int32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (s *scratch) size(n int) {
	if cap(s.alt) < n {
		s.alt = make([]float64, n)
		s.unit = make([]float64, n)
		s.total = make([]float64, n)
		s.matched = make([]uint16, n)
	}
	s.alt, s.unit, s.total, s.matched = s.alt[:n], s.unit[:n], s.total[:n], s.matched[:n]
	s.altT, s.unitT, s.totalT = s.altT[:0], s.unitT[:0], s.totalT[:0]
}

// Search returns the articles that best match the query, ranked by BM25F
// over title, tags and body.
func (x *Index) Search(query string, opts Options) []Result {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	x.synSoon.Wait() // the default synonyms, while the dictionary loads
	words := queryWords(x.seg(), query)
	if len(words) == 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.live == 0 {
		return nil
	}
	units := x.plan(words)

	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	s.size(len(x.docs))
	var avg [numFields]float64
	for f := range numFields {
		avg[f] = math.Max(1, float64(x.totalLen[f])/float64(x.live))
	}
	for _, u := range units {
		for _, a := range u.alts {
			for _, t := range a.terms {
				ps := x.postings[t]
				if len(ps) == 0 {
					continue
				}
				idf := math.Log(1 + (float64(x.live)-float64(len(ps))+0.5)/(float64(len(ps))+0.5))
				for _, p := range ps {
					d := &x.docs[p.doc]
					var tf float64
					for f := range numFields {
						if p.tf[f] > 0 {
							tf += fieldWeight[f] * float64(p.tf[f]) / (1 - bm25B + bm25B*float64(d.len[f])/avg[f])
						}
					}
					if s.alt[p.doc] == 0 {
						s.altT = append(s.altT, p.doc)
					}
					s.alt[p.doc] += idf * tf / (bm25K1 + tf) / float64(len(a.terms))
				}
			}
			for _, doc := range s.altT {
				v := a.weight * s.alt[doc]
				s.alt[doc] = 0
				if s.unit[doc] == 0 {
					s.unitT = append(s.unitT, doc)
				}
				s.unit[doc] = max(s.unit[doc], v)
			}
			s.altT = s.altT[:0]
		}
		for _, doc := range s.unitT {
			if s.total[doc] == 0 {
				s.totalT = append(s.totalT, doc)
			}
			s.total[doc] += s.unit[doc]
			s.unit[doc] = 0
			s.matched[doc]++
		}
		s.unitT = s.unitT[:0]
	}

	type hit struct {
		doc   int32
		score float64
	}
	hits := make([]hit, 0, len(s.totalT))
	for _, doc := range s.totalT {
		sc, m := s.total[doc], s.matched[doc]
		s.total[doc], s.matched[doc] = 0, 0
		if opts.Category != "" && x.docs[doc].category != opts.Category {
			continue
		}
		// Coordination: an article that answers every part of the
		// question beats one that answers a single part very well.
		sc *= 0.5 + 0.5*float64(m)/float64(len(units))
		hits = append(hits, hit{doc, sc})
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(x.docs[a.doc].id, x.docs[b.doc].id)
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]Result, len(hits))
	for i, h := range hits {
		d := &x.docs[h.doc]
		snip, hl := x.snippet(d.plain, units)
		out[i] = Result{ID: d.id, Title: d.title, Category: d.category, Score: h.score, Snippet: snip, Highlights: hl}
	}
	return out
}

// plan turns the words of a query into units: a run of words that is a
// synonym phrase becomes one unit matched by any phrase of its groups;
// any other word is matched as typed, by the dictionary words inside it,
// or, for a Latin word the index lacks, by the indexed words a typo away.
// The caller holds the read lock.
func (x *Index) plan(words []queryWord) []unit {
	var units []unit
	for i := 0; i < len(words); {
		n := 0
		for k := min(maxSynonymWords, len(words)-i); k >= 1; k-- {
			key := make([]string, k)
			for j := range k {
				key[j] = words[i+j].text
			}
			if groups, ok := x.synonyms[strings.Join(key, " ")]; ok {
				n = k
				u := unit{alts: []alternative{{terms: key, weight: weightExact}}}
				for _, g := range groups {
					if !slices.Equal(g, key) {
						u.alts = append(u.alts, alternative{terms: g, weight: weightSynonym})
					}
				}
				if k == 1 {
					u.alts = append(u.alts, x.wordAlternatives(words[i])[1:]...)
				}
				units = append(units, u)
				break
			}
		}
		if n == 0 {
			units = append(units, unit{alts: x.wordAlternatives(words[i])})
			n = 1
		}
		i += n
	}
	return units
}

// wordAlternatives: the word itself first, then its weaker matches.
func (x *Index) wordAlternatives(w queryWord) []alternative {
	alts := []alternative{{terms: []string{w.text}, weight: weightExact}}
	for _, s := range w.subs {
		alts = append(alts, alternative{terms: []string{s}, weight: weightSubword})
	}
	if !w.latin && len(x.postings[w.text]) == 0 && len(w.subs) == 0 {
		// A colloquial word the articles never use ("好卡", "太慢") may
		// still hold one that they do ("卡", "慢"), or its synonyms.
		for _, r := range w.text {
			c := string(r)
			if stopWords[c] {
				continue
			}
			alts = append(alts, alternative{terms: []string{c}, weight: weightSubword})
			for _, g := range x.synonyms[c] {
				if len(g) != 1 || g[0] != c {
					alts = append(alts, alternative{terms: g, weight: weightSubword * weightSynonym})
				}
			}
		}
	}
	if w.latin && x.latin[w.text] == 0 {
		for _, c := range x.typoCandidates(w.text) {
			wt := weightTypo1
			if c.dist == 2 {
				wt = weightTypo2
			}
			alts = append(alts, alternative{terms: []string{c.term}, weight: wt})
			// A typo that becomes a synonym phrase should find its group too.
			for _, g := range x.synonyms[c.term] {
				if len(g) != 1 || g[0] != c.term {
					alts = append(alts, alternative{terms: g, weight: wt * weightSynonym})
				}
			}
		}
	}
	return alts
}
