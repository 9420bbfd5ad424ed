package search

import "testing"

func TestTermsAndQueries(t *testing.T) {
	if got := Terms("打印机 Offline了，VPN-2 连不上!", "IT-2026-000123"); got != "打 印 机 offline 了 vpn 2 连 不 上 it 2026 000123" {
		t.Errorf("Terms = %q", got)
	}
	cases := []struct{ in, fts, ts string }{
		{"打印机", `"打 印 机"`, `('打' <-> '印' <-> '机')`},
		{"网", `"网"`, `'网'`},
		{"vpn连不上", `"vpn" AND "连 不 上"`, `'vpn' & ('连' <-> '不' <-> '上')`},
		{"邮箱 手机 收不到", `"邮 箱" AND "手 机" AND "收 不 到"`, `('邮' <-> '箱') & ('手' <-> '机') & ('收' <-> '不' <-> '到')`},
		{"global", `"global"*`, `'global':*`},
		{"IT-2026-000123", `"it" AND "2026" AND "000123"*`, `'it' & '2026' & '000123':*`},
		{`"; DROP TABLE x; --`, `"drop" AND "table" AND "x"*`, `'drop' & 'table' & 'x':*`},
	}
	for _, c := range cases {
		q, ok := Parse(c.in)
		if !ok || q.FTS5() != c.fts || q.TSQuery() != c.ts {
			t.Errorf("Parse(%q): %q / %q, want %q / %q", c.in, q.FTS5(), q.TSQuery(), c.fts, c.ts)
		}
	}
	if _, ok := Parse(" ,。!  "); ok {
		t.Error("punctuation alone was a query")
	}
}

func TestHighlight(t *testing.T) {
	q, _ := Parse("vpn连不上")
	s, ok := q.Highlight("早上好。昨天在家用 VPN 连不上公司网络，提示证书错误，今天还是一样", 5)
	if !ok || s.Text != "…天在家用 VPN 连不上公…" || string([]rune(s.Text)[s.Start:s.End]) != "VPN" {
		t.Errorf("snippet %+v", s)
	}
	q, _ = Parse("证书")
	s, _ = q.Highlight("证书过期", 10)
	if s.Text != "证书过期" || s.Start != 0 || s.End != 2 {
		t.Errorf("snippet at the start %+v", s)
	}
}
