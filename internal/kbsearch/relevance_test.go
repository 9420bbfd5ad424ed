package kbsearch

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// loadCorpus reads the fixed corpus of testdata: 60 articles of a Chinese
// IT service desk.
func loadCorpus(t testing.TB) []Article {
	t.Helper()
	b, err := os.ReadFile("testdata/articles.json")
	if err != nil {
		t.Fatal(err)
	}
	var arts []Article
	if err := json.Unmarshal(b, &arts); err != nil {
		t.Fatal(err)
	}
	return arts
}

func corpusIndex(t testing.TB) *Index {
	t.Helper()
	x, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range loadCorpus(t) {
		if err := x.Put(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.SetSynonyms(DefaultSynonyms); err != nil {
		t.Fatal(err)
	}
	return x
}

type judgedQuery struct{ query, want string }

func loadQueries(t *testing.T) []judgedQuery {
	t.Helper()
	f, err := os.Open("testdata/queries.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var qs []judgedQuery
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		q, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("queries.tsv: no tab in %q", line)
		}
		qs = append(qs, judgedQuery{q, want})
	}
	return qs
}

// The floors sit a little under what the engine achieves, so that a
// change which makes answers worse fails here.
const (
	floorP1 = 0.85
	floorP3 = 0.95
)

func TestRelevance(t *testing.T) {
	x := corpusIndex(t)
	qs := loadQueries(t)
	var at1, at3 int
	for _, q := range qs {
		rs := x.Search(q.query, Options{Limit: 3})
		rank := -1
		for i, r := range rs {
			if r.ID == q.want {
				rank = i
				break
			}
		}
		switch {
		case rank == 0:
			at1++
			at3++
		case rank > 0:
			at3++
			t.Logf("second or third: %q: want %s, got %s", q.query, q.want, ids(rs))
		default:
			t.Logf("missed: %q: want %s, got %s", q.query, q.want, ids(rs))
		}
	}
	p1, p3 := float64(at1)/float64(len(qs)), float64(at3)/float64(len(qs))
	t.Logf("%d queries, %d articles: precision@1 = %.3f, precision@3 = %.3f", len(qs), x.Len(), p1, p3)
	if p1 < floorP1 || p3 < floorP3 {
		t.Errorf("precision@1 = %.3f (floor %.2f), precision@3 = %.3f (floor %.2f)", p1, floorP1, p3, floorP3)
	}
}

func ids(rs []Result) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.ID+" "+r.Title)
	}
	return "[" + strings.Join(s, "; ") + "]"
}
