package kbsearch

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newIndex(t testing.TB, arts ...Article) *Index {
	t.Helper()
	x, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arts {
		if err := x.Put(a); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func topIDs(rs []Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestSegmentMixedText(t *testing.T) {
	s, err := segmenter()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   string
		want []string
	}{
		{"vpn连不上", []string{"vpn", "连不上"}},
		{"Outlook收不到邮件！", []string{"outlook", "收不到", "邮件"}},
		{"打印机 脱机", []string{"打印机", "脱机"}},
		{"ＶＰＮ连不上", []string{"vpn", "连不上"}}, // full-width letters from an input method
		{"Wi-Fi密码", []string{"wifi", "密码"}},
		{"win10蓝屏", []string{"win", "10", "蓝屏"}},
		{"请问怎么安装Office365呢", []string{"安装", "office", "365"}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			var got []string
			for _, w := range queryWords(s, c.in) {
				got = append(got, w.text)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("queryWords(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	// Documents are cut in search mode: the shorter words inside a long
	// one are indexed too, and a hyphenated word whole and in parts.
	got := indexTerms(s, "网络打印机不支持Wi-Fi")
	for _, w := range []string{"网络", "打印", "打印机", "wifi", "wi", "fi"} {
		if !slices.Contains(got, w) {
			t.Errorf("indexTerms lacks %q: %q", w, got)
		}
	}
}

func TestMarkdownStripped(t *testing.T) {
	md := "## 步骤\n1. 打开 **软件中心**，见 [下载页](https://it.example.com/x?y=1)\n\n```\nipconfig /all\n```\n| 列 | 值 |\n|---|---|\n> 注意 `vpn`"
	got := plainText(md)
	want := "步骤\n打开 软件中心，见 下载页\nipconfig /all\n列   值\n注意 vpn"
	if got != want {
		t.Errorf("plainText = %q, want %q", got, want)
	}
	x := newIndex(t, Article{ID: "a", Title: "下载", Body: md})
	if rs := x.Search("example", Options{}); len(rs) != 0 {
		t.Errorf("a link's URL was indexed: %v", topIDs(rs))
	}
}

func TestSynonymsAtRunTime(t *testing.T) {
	x := newIndex(t,
		Article{ID: "vpn", Title: "VPN 客户端安装", Body: "在软件中心安装 GlobalProtect。"},
		Article{ID: "wifi", Title: "无线网连不上", Body: "请连接 Corp 网络。"},
		Article{ID: "mail", Title: "手机邮件设置", Body: "添加 Exchange 账户。"},
	)
	if rs := x.Search("虚拟专网", Options{}); len(rs) != 0 {
		t.Fatalf("found %v before synonyms were set", topIDs(rs))
	}
	if err := x.SetSynonyms([][]string{{"VPN", "虚拟专网"}, {"wifi", "无线网"}, {"邮箱", "邮件"}}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{"虚拟专网": "vpn", "wifi 连不上": "wifi", "手机邮箱": "mail"} {
		if rs := x.Search(q, Options{}); len(rs) == 0 || rs[0].ID != want {
			t.Errorf("Search(%q) = %v, want %s first", q, topIDs(rs), want)
		}
	}
	// An exact match outranks a synonym.
	x.Put(Article{ID: "vpn2", Title: "虚拟专网 客户端安装", Body: "在软件中心安装 GlobalProtect。"})
	if rs := x.Search("虚拟专网", Options{}); len(rs) != 2 || rs[0].ID != "vpn2" {
		t.Errorf("Search(虚拟专网) = %v, want vpn2 then vpn", topIDs(rs))
	}
	if got := x.Synonyms(); len(got) != 3 || got[0][1] != "虚拟专网" {
		t.Errorf("Synonyms() = %q", got)
	}
	if err := x.SetSynonyms(nil); err != nil {
		t.Fatal(err)
	}
	if rs := x.Search("无线网", Options{}); len(rs) != 1 || rs[0].ID != "wifi" {
		t.Errorf("after clearing synonyms: %v", topIDs(rs))
	}
	if err := x.SetSynonyms([][]string{{"vpn", "VPN"}}); err == nil {
		t.Error("a group of one distinct word was accepted")
	}
}

func TestTypoTolerance(t *testing.T) {
	x := newIndex(t,
		Article{ID: "outlook", Title: "Outlook 收不到邮件", Body: "检查脱机工作状态。"},
		Article{ID: "vpn", Title: "VPN 连不上", Body: "检查网关地址。"},
		Article{ID: "gp", Title: "GlobalProtect 安装", Body: "在软件中心安装。"},
	)
	cases := []struct {
		q    string
		want string // "" for nothing found
	}{
		{"outlok", "outlook"},  // one deletion
		{"outlokk", "outlook"}, // one substitution
		{"otulook", "outlook"}, // neighbours swapped
		{"globalprotct", "gp"}, // 12 letters: one edit
		{"glbalprotct", "gp"},  // two edits
		{"vnp", ""},            // three letters: no typo allowed
		{"outl", ""},           // not a prefix search
		{"olutkoo", ""},        // too far
	}
	for _, c := range cases {
		rs := x.Search(c.q, Options{})
		switch {
		case c.want == "" && len(rs) != 0:
			t.Errorf("Search(%q) = %v, want nothing", c.q, topIDs(rs))
		case c.want != "" && (len(rs) == 0 || rs[0].ID != c.want):
			t.Errorf("Search(%q) = %v, want %s", c.q, topIDs(rs), c.want)
		}
	}
	// The word as typed beats a neighbour one edit away.
	x.Put(Article{ID: "outlok", Title: "outlok", Body: "拼错的文章"})
	if rs := x.Search("outlok", Options{}); len(rs) == 0 || rs[0].ID != "outlok" {
		t.Errorf("Search(outlok) = %v", topIDs(rs))
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b    string
		k, want int
	}{
		{"outlook", "outlook", 1, 0}, {"outlok", "outlook", 1, 1}, {"otulook", "outlook", 1, 1},
		{"outlook", "lookout", 2, 3}, {"abc", "", 5, 3},
	} {
		if got := editDistance(c.a, c.b, c.k); got != c.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", c.a, c.b, c.k, got, c.want)
		}
	}
}

func TestPutReplacesAndDeleteRemoves(t *testing.T) {
	x := newIndex(t,
		Article{ID: "1", Title: "打印机脱机", Body: "取消勾选脱机使用打印机。"},
		Article{ID: "2", Title: "打印机卡纸", Body: "打开前盖取出纸张。"},
	)
	if err := x.Put(Article{Title: "无 ID"}); err != ErrEmptyID {
		t.Errorf("Put without id: %v", err)
	}
	if got := topIDs(x.Search("打印机", Options{})); len(got) != 2 {
		t.Fatalf("Search(打印机) = %v", got)
	}
	if !x.Delete("1") || x.Delete("1") {
		t.Fatal("Delete reported wrongly")
	}
	if got := topIDs(x.Search("脱机", Options{})); len(got) != 0 {
		t.Errorf("deleted article found: %v", got)
	}
	x.Put(Article{ID: "2", Title: "复印机卡纸", Body: "打开侧盖。"})
	if got := topIDs(x.Search("打印机", Options{})); len(got) != 0 {
		t.Errorf("replaced text still found: %v", got)
	}
	if got := topIDs(x.Search("复印机", Options{})); !slices.Equal(got, []string{"2"}) {
		t.Errorf("Search(复印机) = %v", got)
	}
	// A slot freed by Delete is reused without leaking the old postings.
	x.Put(Article{ID: "3", Title: "投影仪", Body: "投屏码"})
	if x.Len() != 2 || len(x.postings["脱机"]) != 0 {
		t.Errorf("Len = %d, postings[脱机] = %v", x.Len(), x.postings["脱机"])
	}
	if !x.Delete("2") || !x.Delete("3") || x.Len() != 0 || len(x.postings) != 0 || len(x.latin) != 0 || x.totalLen != [numFields]int64{} {
		t.Errorf("empty index keeps state: %d postings, %d latin, lengths %v", len(x.postings), len(x.latin), x.totalLen)
	}
	if rs := x.Search("投影仪", Options{}); rs != nil {
		t.Errorf("empty index found %v", topIDs(rs))
	}
}

func TestCategoryFilterAndLimit(t *testing.T) {
	x := corpusIndex(t)
	all := x.Search("密码", Options{Limit: 50})
	cats := map[string]bool{}
	for _, r := range all {
		cats[r.Category] = true
	}
	if len(cats) < 3 {
		t.Fatalf("密码 should be in several categories, got %v", cats)
	}
	rs := x.Search("密码", Options{Category: "网络", Limit: 50})
	if len(rs) == 0 {
		t.Fatal("nothing in 网络")
	}
	for _, r := range rs {
		if r.Category != "网络" {
			t.Errorf("%s is in %s", r.ID, r.Category)
		}
	}
	if rs := x.Search("密码", Options{Limit: 2}); len(rs) != 2 {
		t.Errorf("Limit 2 gave %d", len(rs))
	}
	if rs := x.Search("密码", Options{}); len(rs) != DefaultLimit {
		t.Errorf("default limit gave %d", len(rs))
	}
	if rs := x.Search("？！。 的", Options{}); len(rs) != 0 {
		t.Errorf("punctuation found %v", topIDs(rs))
	}
}

func TestSnippetShowsTheMatch(t *testing.T) {
	x := corpusIndex(t)
	rs := x.Search("outlook 脱机工作", Options{Limit: 1})
	if len(rs) != 1 || rs[0].ID != "kb-17" {
		t.Fatalf("got %v", topIDs(rs))
	}
	r := rs[0]
	if n := len([]rune(r.Snippet)); n > snippetLen+2 || !strings.Contains(r.Snippet, "脱机工作") {
		t.Errorf("snippet (%d runes) %q", n, r.Snippet)
	}
	if len(r.Highlights) == 0 {
		t.Fatal("no highlights")
	}
	for _, h := range r.Highlights {
		m := strings.ToLower(r.Snippet[h.Start:h.End])
		if !strings.Contains(m, "outlook") && !strings.Contains(m, "脱机") && !strings.Contains(m, "工作") && !strings.Contains(m, "邮件") { // 邮件: Outlook's synonym "邮件客户端"
			t.Errorf("highlight %q is no match", m)
		}
	}
	if r.Score <= 0 {
		t.Errorf("score %v", r.Score)
	}
}

// TestConcurrentUse runs searches, puts, deletes and synonym changes at
// once; run it with -race.
func TestConcurrentUse(t *testing.T) {
	x := corpusIndex(t)
	arts := loadCorpus(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				x.Search([]string{"vpn连不上", "打印机 脱机", "outlok 收不到邮件", "wifi 密码"}[(g+i)%4], Options{})
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			a := arts[i%len(arts)]
			a.ID = fmt.Sprintf("copy-%d", i%7)
			x.Put(a)
			if i%3 == 0 {
				x.Delete(a.ID)
			}
		}
	})
	wg.Go(func() {
		for range 20 {
			x.SetSynonyms(DefaultSynonyms)
			x.Synonyms()
			x.Len()
		}
	})
	wg.Wait()
	if n := x.Len(); n < len(arts) || n > len(arts)+7 {
		t.Errorf("Len = %d", n)
	}
}

// The groups SetSynonymsSoon is applying are the groups in force for
// anyone who asks, at once: the synonyms API read none while they loaded.
func TestSynonymsSoonAnswerAtOnce(t *testing.T) {
	x, err := New()
	if err != nil {
		t.Fatal(err)
	}
	x.SetSynonymsSoon(DefaultSynonyms)
	if got := x.Synonyms(); len(got) != len(DefaultSynonyms) {
		t.Fatalf("Synonyms right after SetSynonymsSoon: %d groups, want %d", len(got), len(DefaultSynonyms))
	}
}
