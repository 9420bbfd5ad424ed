package kbsearch

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// Pieces of help-desk articles, combined at random into a realistic
// knowledge base much larger than the hand-written corpus.
var (
	benchSubjects = [][2]string{ // subject, category
		{"VPN", "网络"}, {"GlobalProtect 客户端", "网络"}, {"公司无线网", "网络"}, {"Wi-Fi", "网络"}, {"有线网络", "网络"},
		{"内网系统", "网络"}, {"远程桌面", "网络"}, {"打印机", "打印"}, {"复印机", "打印"}, {"扫描仪", "打印"},
		{"Outlook", "邮件"}, {"公司邮箱", "邮件"}, {"手机邮件", "邮件"}, {"邮件签名", "邮件"}, {"共享日历", "邮件"},
		{"Office", "办公软件"}, {"Excel", "办公软件"}, {"Word 文档", "办公软件"}, {"OneDrive", "办公软件"}, {"PDF 阅读器", "办公软件"},
		{"笔记本电脑", "电脑硬件"}, {"显示器", "电脑硬件"}, {"扩展坞", "电脑硬件"}, {"键盘鼠标", "电脑硬件"}, {"蓝牙耳机", "电脑硬件"},
		{"域账号", "账号与密码"}, {"密码", "账号与密码"}, {"动态口令", "账号与密码"}, {"企业微信", "协作工具"}, {"会议室大屏", "协作工具"},
		{"视频会议", "协作工具"}, {"软件中心", "软件与权限"}, {"共享盘", "软件与权限"}, {"管理员权限", "软件与权限"}, {"杀毒软件", "安全"},
	}
	benchSymptoms = []string{
		"连不上", "无法连接", "收不到邮件", "发不出去", "显示脱机", "卡纸", "打不开", "蓝屏", "运行很慢", "提示许可证错误",
		"无法激活", "提示密码错误", "被锁定", "没有声音", "没有信号", "同步失败", "安装失败", "经常掉线", "证书过期", "登录不上",
		"没有权限", "无法识别", "闪退", "更新失败", "找不到",
	}
	benchContexts = []string{
		"在家办公时", "出差时", "在会议室里", "在手机上", "换了新电脑以后", "改了密码以后", "系统更新后", "早上开机后",
		"连接酒店网络时", "使用扩展坞时", "在 Mac 上", "在 Windows 11 上", "从外网访问时", "刚入职时",
	}
	benchSteps = []string{
		"先重启电脑后再试一次。", "检查网络连接是否正常，打开任意网站测试。", "在**软件中心**重新安装客户端。",
		"清除浏览器缓存后重新登录。", "确认使用的是域账号和最新的密码。", "更新驱动程序到最新版本。",
		"拔掉外接设备后再试。", "查看右下角的日期和时间是否正确。", "在 OA 提交申请，部门负责人审批后开通。",
		"截图错误提示，在服务台提交工单。", "退出程序后重新打开。", "把设备带到 IT 服务台现场处理。",
		"关闭省电模式并允许后台运行。", "删除旧的配置后重新添加。", "参见 [操作手册](https://it.example.com/manual)。",
		"检查是否开启了飞行模式。", "确认附件大小不超过 25 MB。", "取消勾选**脱机工作**。", "重新绑定动态口令。",
		"联系服务台电话 8000。",
	}
)

func benchArticles(n int) []Article {
	r := rand.New(rand.NewPCG(13, 2))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	arts := make([]Article, n)
	for i := range arts {
		subj := benchSubjects[r.IntN(len(benchSubjects))]
		other := benchSubjects[r.IntN(len(benchSubjects))]
		symptom := pick(benchSymptoms)
		var body strings.Builder
		fmt.Fprintf(&body, "## 现象\n%s%s%s，%s也可能%s。\n\n## 处理步骤\n", pick(benchContexts), subj[0], symptom, other[0], pick(benchSymptoms))
		for j := range 4 + r.IntN(8) {
			fmt.Fprintf(&body, "%d. %s\n", j+1, pick(benchSteps))
		}
		fmt.Fprintf(&body, "\n如果%s仍然%s，请联系服务台。\n", subj[0], symptom)
		arts[i] = Article{
			ID:       fmt.Sprintf("gen-%05d", i),
			Title:    subj[0] + symptom + "怎么办",
			Body:     body.String(),
			Tags:     []string{subj[0], other[0]},
			Category: subj[1],
		}
	}
	return arts
}

var benchQueries = []string{"vpn连不上", "打印机 脱机", "邮箱 手机 收不到", "wifi 密码", "outlook 收不到邮件", "outlok 收不到邮件", "电脑开不了机怎么办"}

var (
	benchOnce  sync.Once
	benchIndex *Index
)

func BenchmarkSearch10k(b *testing.B) {
	benchOnce.Do(func() {
		x, err := New()
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range benchArticles(10_000) {
			if err := x.Put(a); err != nil {
				b.Fatal(err)
			}
		}
		if err := x.SetSynonyms(DefaultSynonyms); err != nil {
			b.Fatal(err)
		}
		benchIndex = x
	})
	for _, q := range benchQueries {
		b.Run(q, func(b *testing.B) {
			var n int
			for b.Loop() {
				n = len(benchIndex.Search(q, Options{}))
			}
			if n == 0 {
				b.Fatalf("%q found nothing", q)
			}
		})
	}
}

// BenchmarkPut10k measures building the index of 10,000 articles, as the
// desk does at start-up from its store.
func BenchmarkPut10k(b *testing.B) {
	arts := benchArticles(10_000)
	if _, err := segmenter(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		x, _ := New()
		for _, a := range arts {
			x.Put(a)
		}
	}
}
