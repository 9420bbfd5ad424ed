package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/search"
)

// BenchSearch measures search over a desk of SERVICEDESK_BENCH_SEARCH_DOCS
// messages (1,000,000 by default) in 10,000 conversations, written as IT
// conversations are (built from a few hundred Chinese and English phrases,
// so common words match hundreds of thousands of messages and rare ones a
// few). Each sub-benchmark is one query, as an admin (every conversation)
// and as an agent (the queue and their own).
func BenchSearch(b *testing.B, db desk.ConversationStore) {
	docs := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SERVICEDESK_BENCH_SEARCH_DOCS")); err == nil && v > 0 {
		docs = v
	}
	const convs = 10_000
	// A store kept from an earlier run (pgtest.OpenKept) is searched as it
	// is: seeding is minutes, a query milliseconds.
	if s, ok := db.(interface {
		SearchIndexEmpty(context.Context) (bool, error)
	}); ok {
		if empty, err := s.SearchIndexEmpty(b.Context()); err != nil {
			b.Fatal(err)
		} else if !empty {
			b.Logf("searching the messages already there")
			docs = 0
		}
	}
	if docs > 0 {
		start := time.Now()
		seedSearch(b, db, convs, docs)
		b.Logf("seeded %d messages in %d conversations in %v", docs, convs, time.Since(start).Round(time.Second))
	}
	queries := []string{"打", "打印", "打印机", "打印机 脱机", "vpn连不上", "邮箱 手机 收不到", "global", "证书过期", "蓝屏", "0x80070005"}
	for _, who := range []struct{ name, agent string }{{"admin", ""}, {"agent", "agt_07"}} {
		for _, text := range queries {
			q, _ := search.Parse(text)
			sq := desk.SearchQuery{FTS: q.FTS5(), TS: q.TSQuery(), AgentID: who.agent, Limit: 20}
			b.Run(who.name+"/"+text, func(b *testing.B) {
				hits := 0
				for b.Loop() {
					h, err := db.Search(b.Context(), sq)
					if err != nil {
						b.Fatal(err)
					}
					hits = len(h)
				}
				b.ReportMetric(float64(hits), "hits")
			})
		}
	}
}

var benchPhrases = strings.Fields(`打印机 脱机 卡纸 无法 打印 邮箱 手机 收不到 邮件 密码 过期 重置 账号 锁定 VPN 连不上
证书 错误 网络 很慢 无线 WiFi 断开 电脑 蓝屏 重启 以后 还是 不行 软件 安装 失败 权限 不足 共享 文件夹 访问 拒绝
会议室 投影 没有 信号 显示器 黑屏 键盘 鼠标 失灵 GlobalProtect Outlook Teams 企业微信 登录 提示 0x80070005
请 帮忙 看一下 谢谢 已经 试过 远程 协助 今天 上午 下午 明天 一直 偶尔 经常 公司 家里 出差 酒店`)

func seedSearch(b *testing.B, db desk.ConversationStore, convs, docs int) {
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(7, 11))
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	perConv := docs / convs
	const convsPerTx = 100
	for first := 0; first < convs; first += convsPerTx {
		err := db.Update(ctx, func(tx desk.ConversationTx) error {
			for i := first; i < min(first+convsPerTx, convs); i++ {
				id := fmt.Sprintf("cv_bench%011d", i)
				at := t0.Add(time.Duration(i) * time.Minute)
				c := desk.Conversation{ID: id, EmployeeID: fmt.Sprintf("emp_%04d", i%1000), Subject: "s", Category: "other",
					Status: desk.StatusResolved, AssigneeID: fmt.Sprintf("agt_%02d", i%50), CreatedAt: at, UpdatedAt: at, ResolvedAt: &at,
					Priority: "normal", Type: "incident"}
				if err := tx.CreateConversation(ctx, c); err != nil {
					return err
				}
				if err := tx.SaveParticipant(ctx, id, desk.Participant{Role: desk.RoleAgent, ID: c.AssigneeID, Active: true, JoinedAt: at}); err != nil {
					return err
				}
				for seq := 1; seq <= perConv; seq++ {
					words := make([]string, 6+rng.IntN(10))
					for w := range words {
						words[w] = benchPhrases[rng.IntN(len(benchPhrases))]
					}
					if err := tx.Index(ctx, id, int64(seq), search.Terms(strings.Join(words, ""))); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
