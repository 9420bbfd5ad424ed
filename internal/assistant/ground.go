package assistant

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Answer is a model's answer after Ground.
type Answer struct {
	Text      string
	Citations []string // IDs of the articles cited by a valid [n], in order of first citation
	// Unknown: the model said it does not know, or cited nothing. The desk
	// offers 转人工 prominently rather than presenting Text as an answer.
	Unknown bool
	// Removed counts what Ground took out: citation markers naming no
	// article, and links, addresses and numbers found in no article.
	Removed int
}

// What replaces a link, an address or a number found in no article. The
// desk's users read Chinese; the brackets show that something was cut.
const (
	removedLink   = "[链接已移除]"
	removedEmail  = "[邮箱已移除]"
	removedNumber = "[号码已移除]"
)

// groundRe finds, leftmost first, what Ground checks: a Markdown link, a
// citation ([1], [1, 2], 【1】), a URL, an e-mail address, and a run of
// seven or more digits (a phone number, possibly with spaces or dashes).
var groundRe = regexp.MustCompile(
	`\[([^\[\]\n]{0,200})\]\(\s*((?i:https?://|www\.|mailto:)[^()\s]+)\s*\)` +
		`|[\[【［]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]` +
		`|((?i:https?://|www\.)[^\s<>"'()（）\[\]【】{}，。；：！？、]+)` +
		`|([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)` +
		`|(\+?\d(?:[\- ]?\d){6,})`)

// markerRe matches unknownMarker as models write it back, spaces and
// case varying.
var markerRe = regexp.MustCompile(`(?i)\[\[\s*unknown\s*\]\]`)

var citeSep = regexp.MustCompile(`[,，、]`)

// unknownPhrases are how models say they do not know, beside the marker
// they were asked for. Matched in lower case.
var unknownPhrases = []string{
	"不知道", "无法回答", "无法确定", "没有找到相关", "未找到相关", "没有涵盖", "未涵盖",
	"don't know", "do not know", "not covered", "cannot answer", "can't answer",
}

// Ground checks a model's answer against the articles its prompt held
// (the same slice, in the same order): it keeps citation markers [n] that
// name one of them and removes the others, replaces every URL, e-mail
// address and phone-like number that appears in no article, and reports
// whether the answer is a "don't know".
func Ground(answer string, articles []Article) Answer {
	g := grounder{articles: articles, allowed: allowedIn(articles)}
	text := markerRe.ReplaceAllString(answer, "")
	unknown := len(text) != len(answer)
	text = strings.TrimSpace(g.rewrite(text))
	lower := strings.ToLower(text)
	for _, p := range unknownPhrases {
		if strings.Contains(lower, p) {
			unknown = true
		}
	}
	return Answer{Text: text, Citations: g.cited, Unknown: unknown || len(g.cited) == 0, Removed: g.removed}
}

type grounder struct {
	articles []Article
	allowed  allowed
	cited    []string
	removed  int
}

func (g *grounder) rewrite(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range groundRe.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(s[last:m[0]])
		last = m[1]
		whole := s[m[0]:m[1]]
		group := func(i int) string { return s[m[2*i]:m[2*i+1]] }
		switch {
		case m[2] >= 0: // Markdown link
			if g.allowed.url(group(2)) {
				b.WriteString("[" + g.rewrite(group(1)) + "](" + group(2) + ")")
			} else {
				g.removed++
				// The link text may be the invented URL itself.
				b.WriteString(g.rewrite(group(1)))
			}
		case m[6] >= 0:
			b.WriteString(g.cite(group(3)))
		case m[8] >= 0:
			u, trail := trimURL(group(4))
			if g.allowed.url(u) {
				b.WriteString(u)
			} else {
				g.removed++
				b.WriteString(removedLink)
			}
			b.WriteString(trail)
		case m[10] >= 0:
			if g.allowed.emails[strings.ToLower(whole)] {
				b.WriteString(whole)
			} else {
				g.removed++
				b.WriteString(removedEmail)
			}
		default:
			if g.allowed.number(whole) {
				b.WriteString(whole)
			} else {
				g.removed++
				b.WriteString(removedNumber)
			}
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

// cite rewrites the numbers of one citation marker as [n][m], keeping
// those that name an article.
func (g *grounder) cite(nums string) string {
	var b strings.Builder
	for _, f := range citeSep.Split(nums, -1) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > len(g.articles) {
			g.removed++
			continue
		}
		b.WriteString("[" + strconv.Itoa(n) + "]")
		if id := g.articles[n-1].ID; !slices.Contains(g.cited, id) {
			g.cited = append(g.cited, id)
		}
	}
	return b.String()
}

// trimURL splits off punctuation that ends a sentence rather than the URL.
func trimURL(u string) (string, string) {
	t := strings.TrimRight(u, ".,;:!?'\"")
	return t, u[len(t):]
}

// allowed is what the articles contain.
type allowed struct {
	urls    map[string]bool
	emails  map[string]bool
	numbers string // every digit run of the articles, "|"-separated
}

func allowedIn(articles []Article) allowed {
	a := allowed{urls: map[string]bool{}, emails: map[string]bool{}}
	var nums strings.Builder
	for _, art := range articles {
		for _, s := range []string{art.URL, art.Title, art.Body} {
			for _, m := range groundRe.FindAllStringSubmatch(s, -1) {
				switch {
				case m[2] != "":
					a.urls[normURL(m[2])] = true
				case m[4] != "":
					u, _ := trimURL(m[4])
					a.urls[normURL(u)] = true
				case m[5] != "":
					a.emails[strings.ToLower(m[5])] = true
				case m[6] != "":
					nums.WriteString("|" + digits(m[6]))
				}
			}
		}
		if art.URL != "" {
			a.urls[normURL(art.URL)] = true
		}
	}
	a.numbers = nums.String() + "|"
	return a
}

func (a allowed) url(u string) bool { return a.urls[normURL(u)] }

// number allows a digit run that is, or is part of, one in the articles.
func (a allowed) number(s string) bool {
	return strings.Contains(a.numbers, digits(s))
}

func normURL(u string) string {
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(u)), "/")
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
