package kbsearch

import (
	"fmt"
	"strings"
)

// DefaultSynonyms is a starting set for an IT service desk in Chinese:
// the names people use for the same thing, and the colloquial ways of
// saying that it does not work. An admin edits them; the desk seeds the
// index with these until then.
var DefaultSynonyms = [][]string{
	{"vpn", "虚拟专网", "远程接入"},
	{"wifi", "无线网", "无线网络", "无线", "wlan"},
	{"邮箱", "邮件", "mail", "email", "电子邮件"},
	{"outlook", "邮件客户端"},
	{"密码", "口令", "password"},
	{"重置", "找回", "修改", "改"},
	{"忘记密码", "忘了密码", "密码忘了", "重置密码", "找回密码"},
	{"连不上", "连不了", "连接不上", "无法连接", "连接失败", "连接", "上不了网", "上不去"},
	{"收不到", "收不了", "接收不到", "无法接收", "没收到"},
	{"发不出", "发不出去", "无法发送", "发送失败"},
	{"打不开", "无法打开", "进不去", "打开"},
	{"登不上", "登录不上", "登不进", "无法登录", "登录失败", "登录"},
	{"装不上", "装不了", "无法安装", "安装失败", "安装"},
	{"开不了机", "无法开机", "不能开机", "开机"},
	{"打印机", "打印", "printer"},
	{"脱机", "离线", "offline"},
	{"手机", "移动端", "iphone", "安卓", "android", "ios"},
	{"笔记本", "笔记本电脑", "电脑", "laptop", "thinkpad"},
	{"许可证", "授权", "激活", "license", "许可"},
	{"office", "word", "excel", "ppt", "powerpoint"},
	{"账号", "账户", "帐号", "帐户", "用户名"},
	{"锁定", "被锁", "锁住", "冻结"},
	{"慢", "卡顿", "卡"},
	{"共享盘", "网盘", "共享文件夹", "nas"},
	{"企业微信", "企微", "wecom"},
	{"验证码", "动态口令", "令牌", "双因素", "mfa", "otp"},
	{"蓝屏", "死机", "崩溃"},
	{"会议室", "投影仪", "投屏"},
	{"软件", "程序", "应用", "app"},
}

// SetSynonyms replaces the synonym groups. Each group lists words and
// phrases that mean the same ("VPN", "虚拟专网"); a query that contains
// one also finds articles that use another, slightly below an exact match.
// A phrase may span several words of the segmenter. Documents need no
// reindexing: synonyms are applied to queries.
func (x *Index) SetSynonyms(groups [][]string) error {
	return x.setSynonyms(groups, x.synGen.Add(1))
}

// SetSynonymsSoon is SetSynonyms in the background, for groups known to
// be valid (the defaults) while the dictionary may still be loading: a
// SetSynonyms called meanwhile wins over it.
func (x *Index) SetSynonymsSoon(groups [][]string) {
	gen := x.synGen.Add(1)
	x.synSoon.Add(1)
	go func() {
		defer x.synSoon.Done()
		x.setSynonyms(groups, gen)
	}()
}

func (x *Index) setSynonyms(groups [][]string, gen int64) error {
	m := map[string][][]string{}
	var kept [][]string
	for gi, g := range groups {
		var members [][]string
		seen := map[string]bool{}
		for _, phrase := range g {
			var words []string
			for _, w := range queryWords(x.seg(), phrase) {
				words = append(words, w.text)
			}
			key := strings.Join(words, " ")
			if len(words) == 0 || seen[key] {
				continue
			}
			seen[key] = true
			members = append(members, words)
		}
		if len(members) < 2 {
			if len(g) > 0 {
				return fmt.Errorf("kbsearch: synonym group %d (%q): fewer than two distinct words", gi+1, g)
			}
			continue
		}
		for _, mem := range members {
			key := strings.Join(mem, " ")
			m[key] = append(m[key], members...)
		}
		kept = append(kept, append([]string(nil), g...))
	}
	x.mu.Lock()
	if x.synGen.Load() == gen { // nobody set newer ones meanwhile
		x.synonyms = m
		x.synText = kept
	}
	x.mu.Unlock()
	return nil
}

// Synonyms returns the synonym groups in force, as they were given. Like
// a search, it waits for the defaults SetSynonymsSoon is still applying:
// before that it would answer none.
func (x *Index) Synonyms() [][]string {
	x.synSoon.Wait()
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([][]string, len(x.synText))
	for i, g := range x.synText {
		out[i] = append([]string(nil), g...)
	}
	return out
}

// maxSynonymWords bounds the phrases looked for in a query.
const maxSynonymWords = 4
