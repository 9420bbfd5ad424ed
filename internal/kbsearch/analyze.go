package kbsearch

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"

	"github.com/go-ego/gse"
)

var (
	//go:embed dict/zh.txt
	zhDict string
	//go:embed dict/it.txt
	itDict string
)

// The segmenter is shared by every index of the process: its dictionary
// costs about 35 MB and half a second to load, and gse only reads it once
// loaded, so concurrent Cut calls are safe.
var (
	segOnce sync.Once
	seg     gse.Segmenter
	segErr  error
)

func segmenter() (*gse.Segmenter, error) {
	segOnce.Do(func() {
		seg.SkipLog = true
		segErr = seg.LoadDictStr(zhDict + "\n" + itDict)
	})
	return &seg, segErr
}

// stopWords are dropped from documents and queries: particles and the
// question words people wrap around the few words that matter ("请问…怎么办").
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`的 了 吗 呢 吧 啊 呀 哦 嘛 么 是 在 和 与 及 或 就 都 也 还 又 很 把 被 让 给 对 从 到 我 你 他 她 它 我们 你们 他们 我的 这 那 这个 那个 有 没 没有 请问 请 问下 问一下 一下 怎么 怎么办 怎样 怎么样 如何 为什么 为啥 咋 咋办 什么 啥 哪里 哪儿 能 可以 会 要 想 需要 帮忙 帮我 麻烦 谢谢 一直 总是 老是 突然 今天 现在 刚才 已经 之后 然后 时候 这样 那样 一个 不 上 下 中 里 个 些 得 地 着 过 the a an to of is are and or in on for my i can how do does why what with`) {
		m[w] = true
	}
	return m
}()

// fold maps a rune to the form terms are compared in: lower case, and
// full-width ASCII (typed by Chinese input methods) as plain ASCII.
// It maps one rune to one rune so that offsets in folded text are
// offsets in the original, which snippets rely on.
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		r -= 0xFEE0
	case r == 0x3000:
		r = ' '
	}
	return unicode.ToLower(r)
}

// isCJK: scripts written without spaces between words, which the
// segmenter cuts into words.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// run is a stretch of text of one kind: CJK, or Latin letters and digits
// (which may be joined by single hyphens or dots, as in "wi-fi", "v2.3").
type run struct {
	text string
	cjk  bool
}

func runs(text string) []run {
	var out []run
	var b strings.Builder
	cjk := false
	flush := func() {
		if b.Len() > 0 {
			out = append(out, run{b.String(), cjk})
			b.Reset()
		}
	}
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := fold(rs[i])
		switch {
		case isCJK(r):
			if !cjk {
				flush()
			}
			cjk = true
			b.WriteRune(r)
		case isWordRune(r):
			if cjk {
				flush()
			}
			cjk = false
			b.WriteRune(r)
		case (r == '-' || r == '.' || r == '_') && !cjk && b.Len() > 0 && i+1 < len(rs) && isWordRune(fold(rs[i+1])) && !isCJK(fold(rs[i+1])):
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// latinParts splits "wi-fi" into "wi" and "fi", and "win10" into "win"
// and "10", so that a query written either way meets the document.
func latinParts(w string) []string {
	var out []string
	start := 0
	rs := []rune(w)
	for i := 1; i <= len(rs); i++ {
		if i == len(rs) || !isWordRune(rs[i]) || (unicode.IsDigit(rs[i]) != unicode.IsDigit(rs[i-1]) && isWordRune(rs[i-1])) {
			if start < i {
				if p := string(rs[start:i]); isWordRune(rs[start]) {
					out = append(out, p)
				}
			}
			start = i
			if i < len(rs) && !isWordRune(rs[i]) {
				start = i + 1
			}
		}
	}
	return out
}

// joined is a hyphenated word without its hyphens: "wi-fi" is "wifi".
func joined(w string) string {
	return strings.NewReplacer("-", "", ".", "", "_", "").Replace(w)
}

// indexTerms turns a field into the terms it is indexed under. Chinese is
// cut in search mode, so that "打印机" is found as "打印机" and "打印";
// a Latin word is indexed whole (hyphens dropped) and by its parts.
func indexTerms(s *gse.Segmenter, text string) []string {
	var out []string
	add := func(t string) {
		if t != "" && !stopWords[t] {
			out = append(out, t)
		}
	}
	for _, r := range runs(text) {
		if r.cjk {
			for _, w := range s.CutSearch(r.text, true) {
				add(w)
			}
			continue
		}
		parts := latinParts(r.text)
		j := joined(r.text)
		if len(parts) != 1 || parts[0] != j {
			add(j)
		}
		for _, p := range parts {
			add(p)
		}
	}
	return out
}

// queryWord is one word of a query in reading order, with the shorter
// dictionary words inside it ("打印" in "打印机"), which count for less.
type queryWord struct {
	text  string
	latin bool
	subs  []string
}

// queryWords cuts a query precisely (not in search mode): each word is
// one thing the person asked about, scored once however it is matched.
func queryWords(s *gse.Segmenter, text string) []queryWord {
	var out []queryWord
	for _, r := range runs(text) {
		if r.cjk {
			for _, w := range s.Cut(r.text, true) {
				qw := queryWord{text: w}
				if len([]rune(w)) >= 3 {
					for _, sub := range s.CutSearch(w, false) {
						if sub != w && len([]rune(sub)) >= 2 {
							qw.subs = append(qw.subs, sub)
						}
					}
				}
				out = append(out, qw)
			}
			continue
		}
		j := joined(r.text)
		parts := latinParts(r.text)
		if strings.ContainsAny(r.text, "-._") || len(parts) == 1 {
			out = append(out, queryWord{text: j, latin: true})
			continue
		}
		for _, p := range parts {
			out = append(out, queryWord{text: p, latin: true})
		}
	}
	kept := out[:0]
	for _, w := range out {
		if !stopWords[w.text] {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		return out
	}
	return kept
}
