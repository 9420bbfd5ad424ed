package assistant

import (
	"slices"
	"testing"
)

func TestGround(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      string
		citations []string
		unknown   bool
		removed   int
	}{
		{
			name:      "valid citations kept, IDs in order",
			in:        "先重新连接 [1]，再重置密码 [2]。[1]",
			want:      "先重新连接 [1]，再重置密码 [2]。[1]",
			citations: []string{"kb-12", "kb-40"},
		},
		{
			name:      "citations naming no article removed",
			in:        "先重新连接 [1][3]，见 [0] 和 [12]。",
			want:      "先重新连接 [1]，见  和 。",
			citations: []string{"kb-12"},
			removed:   3,
		},
		{
			name:      "lists and full-width brackets normalised",
			in:        "见 [1, 2] 和 【2】 以及 [1，5]。",
			want:      "见 [1][2] 和 [2] 以及 [1]。",
			citations: []string{"kb-12", "kb-40"},
			removed:   1,
		},
		{
			name:      "links in the articles kept, with sentence punctuation",
			in:        "请访问 https://it.example.com/vpn. 或 https://IT.example.com/kb/12/ [1]",
			want:      "请访问 https://it.example.com/vpn. 或 https://IT.example.com/kb/12/ [1]",
			citations: []string{"kb-12"},
		},
		{
			name:      "invented links neutralised",
			in:        "下载 https://it.example.com/vpn-new.exe 或 www.evil.cn/fix，见 http://evil.example/?q=1 [1]",
			want:      "下载 " + removedLink + " 或 " + removedLink + "，见 " + removedLink + " [1]",
			citations: []string{"kb-12"},
			removed:   3,
		},
		{
			name:      "Markdown links: an invented one keeps its text only",
			in:        "[VPN 指南](https://it.example.com/kb/12) 和 [修复工具](https://evil.example/t) 以及 [https://evil.example/a](https://evil.example/a) [1]",
			want:      "[VPN 指南](https://it.example.com/kb/12) 和 修复工具 以及 " + removedLink + " [1]",
			citations: []string{"kb-12"},
			removed:   3,
		},
		{
			name:      "phone numbers and e-mail addresses must come from the articles",
			in:        "拨打 010-6688-1234 [2]，不要打 400-800-8888 或 13800138000，邮件 it@example.com。",
			want:      "拨打 010-6688-1234 [2]，不要打 " + removedNumber + " 或 " + removedNumber + "，邮件 " + removedEmail + "。",
			citations: []string{"kb-40"},
			removed:   3,
		},
		{
			name:    "the unknown marker is stripped and reported",
			in:      "[[UNKNOWN]] 抱歉，知识库里没有相关内容，你可以转人工。",
			want:    "抱歉，知识库里没有相关内容，你可以转人工。",
			unknown: true,
		},
		{
			name:      "a don't-know phrase is unknown even with a citation",
			in:        "我不知道如何解决，[1] 也没有提到。",
			want:      "我不知道如何解决，[1] 也没有提到。",
			citations: []string{"kb-12"},
			unknown:   true,
		},
		{
			name:    "no valid citation is unknown",
			in:      "重启电脑即可。[7]",
			want:    "重启电脑即可。",
			unknown: true,
			removed: 1,
		},
		{
			name:    "marker in another case and spacing",
			in:      "[[ unknown ]]I don't know.",
			want:    "I don't know.",
			unknown: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Ground(tt.in, vpnArticles)
			if got.Text != tt.want {
				t.Errorf("text\n got %q\nwant %q", got.Text, tt.want)
			}
			if !slices.Equal(got.Citations, tt.citations) {
				t.Errorf("citations %q, want %q", got.Citations, tt.citations)
			}
			if got.Unknown != tt.unknown {
				t.Errorf("unknown = %v, want %v", got.Unknown, tt.unknown)
			}
			if got.Removed != tt.removed {
				t.Errorf("removed = %d, want %d", got.Removed, tt.removed)
			}
		})
	}
}

func TestGroundWithoutArticles(t *testing.T) {
	got := Ground("请访问 https://it.example.com/vpn [1]", nil)
	if got.Text != "请访问 "+removedLink || !got.Unknown || len(got.Citations) != 0 {
		t.Errorf("got %+v", got)
	}
}
