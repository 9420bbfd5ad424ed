package kbsearch

import (
	"regexp"
	"strings"
)

var (
	mdImage  = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLink   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	mdAuto   = regexp.MustCompile(`<(https?://[^>]+)>`)
	mdHTML   = regexp.MustCompile(`</?[a-zA-Z][^>]*>`)
	mdPrefix = regexp.MustCompile(`^\s*(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+|\|)`)
	mdRule   = regexp.MustCompile(`^\s*([-*_=]\s*){3,}$`)
	mdEmph   = regexp.MustCompile("(\\*{1,3}|_{2,3}|~~|`+)")
	mdTable  = regexp.MustCompile(`^[\s|:-]*-{3,}[\s|:-]*$`)
)

// plainText strips Markdown so that neither the index nor a snippet sees
// "**", "#" or a link's URL; the words of link texts, image descriptions,
// and code blocks stay, since people search for the commands they saw.
func plainText(md string) string {
	var b strings.Builder
	for line := range strings.Lines(md) {
		line = strings.TrimRight(line, "\r\n")
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") || mdRule.MatchString(t) || mdTable.MatchString(t) {
			continue
		}
		for {
			l := mdPrefix.ReplaceAllString(line, "")
			if l == line {
				break
			}
			line = l
		}
		line = mdImage.ReplaceAllString(line, "$1")
		line = mdLink.ReplaceAllString(line, "$1")
		line = mdAuto.ReplaceAllString(line, "$1")
		line = mdHTML.ReplaceAllString(line, "")
		line = mdEmph.ReplaceAllString(line, "")
		line = strings.ReplaceAll(line, "|", " ")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
	}
	return b.String()
}
