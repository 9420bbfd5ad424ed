package kbsearch

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/go-ego/gse"
)

// Article is what the index knows of a knowledge-base article.
type Article struct {
	ID       string
	Title    string
	Body     string // Markdown
	Tags     []string
	Category string
}

// The fields scored apart, and their weights in BM25F: a word in the
// title or a tag says what the article is about; the body only mentions it.
const (
	fieldTitle = iota
	fieldTags
	fieldBody
	numFields
)

var fieldWeight = [numFields]float64{fieldTitle: 3, fieldTags: 2, fieldBody: 1}

// posting: the term frequencies of one term in one document, per field.
type posting struct {
	doc int32
	tf  [numFields]uint16
}

type document struct {
	id, title, plain, category string
	tags                       []string
	len                        [numFields]int32
	terms                      []string // distinct, to remove its postings on delete
	live                       bool
}

// Index is an in-memory full-text index of articles. It is safe for
// concurrent use: searches share a read lock, and Put and Delete take the
// write lock only for the time it takes to link the analysed article in.
type Index struct {
	mu       sync.RWMutex
	docs     []document
	free     []int32
	byID     map[string]int32
	postings map[string][]posting
	latin    map[string]int // Latin terms and their document frequency, for typo matching
	totalLen [numFields]int64
	live     int
	synonyms map[string][][]string // each analysed word to the other members of its groups
	synText  [][]string            // as the admin gave them
	synGen   atomic.Int64          // the latest SetSynonyms call
	synSoon  sync.WaitGroup        // SetSynonymsSoon under way: searches wait for it
}

// ErrEmptyID is returned by Put for an article without an ID.
var ErrEmptyID = errors.New("kbsearch: article has no id")

// New returns an empty index at once. The first call in a process starts
// loading the Chinese dictionary in the background (about half a second,
// many more under the race detector); the first analysis waits for it, so
// a node starts listening without waiting for its knowledge base.
func New() (*Index, error) {
	go segmenter()
	return &Index{
		byID:     map[string]int32{},
		postings: map[string][]posting{},
		latin:    map[string]int{},
		synonyms: map[string][][]string{},
	}, nil
}

// Len reports the number of articles in the index.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// analysed is an article cut into terms, done before taking the lock.
type analysed struct {
	doc document
	tf  map[string]*[numFields]uint16
}

func (x *Index) analyse(a Article) analysed {
	plain := plainText(a.Body)
	d := document{id: a.ID, title: a.Title, plain: plain, category: a.Category, tags: append([]string(nil), a.Tags...), live: true}
	tf := map[string]*[numFields]uint16{}
	count := func(f int, text string) {
		for _, t := range indexTerms(x.seg(), text) {
			c := tf[t]
			if c == nil {
				c = new([numFields]uint16)
				tf[t] = c
			}
			if c[f] < 1<<16-1 {
				c[f]++
			}
			d.len[f]++
		}
	}
	count(fieldTitle, a.Title)
	for _, tag := range a.Tags {
		count(fieldTags, tag)
	}
	count(fieldBody, plain)
	d.terms = make([]string, 0, len(tf))
	for t := range tf {
		d.terms = append(d.terms, t)
	}
	return analysed{d, tf}
}

// Put adds an article, or replaces the one with the same ID.
func (x *Index) Put(a Article) error {
	if a.ID == "" {
		return ErrEmptyID
	}
	an := x.analyse(a)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(a.ID)
	var slot int32
	if n := len(x.free); n > 0 {
		slot = x.free[n-1]
		x.free = x.free[:n-1]
		x.docs[slot] = an.doc
	} else {
		slot = int32(len(x.docs))
		x.docs = append(x.docs, an.doc)
	}
	x.byID[a.ID] = slot
	for t, c := range an.tf {
		x.postings[t] = append(x.postings[t], posting{doc: slot, tf: *c})
		if isLatinTerm(t) {
			x.latin[t]++
		}
	}
	for f := range numFields {
		x.totalLen[f] += int64(an.doc.len[f])
	}
	x.live++
	return nil
}

// Delete removes the article with the given ID; it reports whether there was one.
func (x *Index) Delete(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.remove(id)
}

// remove unlinks a document; the caller holds the write lock. Postings
// are unordered, so a posting is swapped out rather than shifted.
func (x *Index) remove(id string) bool {
	slot, ok := x.byID[id]
	if !ok {
		return false
	}
	d := &x.docs[slot]
	for _, t := range d.terms {
		ps := x.postings[t]
		for i := range ps {
			if ps[i].doc == slot {
				ps[i] = ps[len(ps)-1]
				ps = ps[:len(ps)-1]
				break
			}
		}
		if len(ps) == 0 {
			delete(x.postings, t)
		} else {
			x.postings[t] = ps
		}
		if isLatinTerm(t) {
			if x.latin[t]--; x.latin[t] <= 0 {
				delete(x.latin, t)
			}
		}
	}
	for f := range numFields {
		x.totalLen[f] -= int64(d.len[f])
	}
	*d = document{}
	x.free = append(x.free, slot)
	delete(x.byID, id)
	x.live--
	return true
}

// isLatinTerm: a term that typo matching applies to; it is not worth it
// for numbers or Chinese, where one changed character is another word.
func isLatinTerm(t string) bool {
	letters := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z':
			letters++
		case c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return letters > 0
}

// seg is the shared segmenter, once its dictionary has loaded. The
// dictionary is embedded, so failing to load it is a broken build: the
// error is reported once and the segmenter cuts without a dictionary.
func (x *Index) seg() *gse.Segmenter {
	s, err := segmenter()
	if err != nil {
		segErrOnce.Do(func() { fmt.Fprintf(os.Stderr, "kbsearch: load dictionary: %v\n", err) })
	}
	return s
}

var segErrOnce sync.Once
