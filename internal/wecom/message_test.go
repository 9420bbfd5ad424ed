package wecom_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wecom"
)

func card(to, title string) wecom.TextCard {
	return wecom.TextCard{
		ToUser: to, Title: title,
		Description: `<div class="gray">2026-12-04</div><div class="normal">李四 replied: 请重启一下电脑再试</div>`,
		URL:         "https://desk.example/h5/c/42", ButtonText: "查看",
	}
}

func TestSendTextCard(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	id, err := c.SendTextCard(t.Context(), card("zhangsan", "IT 服务台有新回复"))
	if err != nil || id == "" {
		t.Fatalf("SendTextCard = %q, %v", id, err)
	}
	got := s.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages delivered, want 1", len(got))
	}
	m := got[0]
	if m.ToUser != "zhangsan" || m.MsgType != "textcard" || m.AgentID != 1000002 || m.Title != "IT 服务台有新回复" ||
		m.URL != "https://desk.example/h5/c/42" || m.BtnTxt != "查看" || !strings.Contains(m.Description, "请重启") {
		t.Fatalf("delivered %+v", m)
	}
	if m.EnableDuplicateCheck != 1 || m.DuplicateCheckInterval != 1800 {
		t.Fatalf("duplicate check %d/%d, want on with WeCom's default 1800 s", m.EnableDuplicateCheck, m.DuplicateCheckInterval)
	}
}

func TestSendTextCardDuplicateCheck(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	same := card("zhangsan", "同一张卡片")
	for range 2 { // a retried send after a lost answer, say
		if _, err := c.SendTextCard(t.Context(), same); err != nil {
			t.Fatal(err)
		}
	}
	if n, d := s.MessagesTo("zhangsan"), s.Deduplicated(); n != 1 || d != 1 {
		t.Fatalf("delivered %d, deduplicated %d; want 1 and 1", n, d)
	}
	off := card("zhangsan", "检查关闭")
	off.DuplicateWindow = -1
	for range 2 {
		if _, err := c.SendTextCard(t.Context(), off); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.MessagesTo("zhangsan"); n != 3 {
		t.Fatalf("delivered %d, want 3 with the check off for the second card", n)
	}
	long := card("zhangsan", "窗口")
	long.DuplicateWindow = 24 * time.Hour
	if _, err := c.SendTextCard(t.Context(), long); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); m[len(m)-1].DuplicateCheckInterval != 4*3600 {
		t.Fatalf("interval %d, want WeCom's 4-hour maximum", m[len(m)-1].DuplicateCheckInterval)
	}
}

func TestSendTextCardToSomeoneGoneIsDistinct(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	for _, to := range []string{"sunqi" /* outside the visible range */, "zhouba" /* left */, "nobody"} {
		_, err := c.SendTextCard(t.Context(), card(to, "x"))
		if !errors.Is(err, wecom.ErrRecipientGone) || desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("send to %s = %v, want ErrRecipientGone (not_found)", to, err)
		}
		if _, ok := wecom.AsConfigError(err); ok {
			t.Errorf("send to %s is a configuration error; it is about one person", to)
		}
	}
	if n := s.Calls(pathSend); n != 3 {
		t.Fatalf("message/send called %d times, want 3: 81013 is not retried", n)
	}
}

func TestSendTextCardRateLimited(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	s.SetRateLimited(true)
	_, err := c.SendTextCard(t.Context(), card("lisi", "x"))
	if !errors.Is(err, wecom.ErrRateLimited) || desk.ErrorCode(err) != desk.ERateLimited {
		t.Fatalf("send while rate limited = %v", err)
	}
	s.SetRateLimited(false)
	if _, err := c.SendTextCard(t.Context(), card("lisi", "x")); err != nil {
		t.Fatal(err)
	}
}

func TestSendTextCardFitsWeComLimits(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	long := card("lisi", strings.Repeat("标题", 100))
	long.Description = strings.Repeat("长", 400)
	if _, err := c.SendTextCard(t.Context(), long); err != nil {
		t.Fatal(err)
	}
	m := s.Messages()[0]
	if len(m.Title) > 128 || len(m.Description) > 512 || !utf8.ValidString(m.Title) || !utf8.ValidString(m.Description) {
		t.Fatalf("title %d bytes, description %d bytes, valid %v/%v", len(m.Title), len(m.Description), utf8.ValidString(m.Title), utf8.ValidString(m.Description))
	}
	for name, bad := range map[string]wecom.TextCard{
		"no recipient":   {Title: "t", Description: "d", URL: "https://x"},
		"two recipients": {ToUser: "a|b", Title: "t", Description: "d", URL: "https://x"},
		"everyone":       {ToUser: "@all", Title: "t", Description: "d", URL: "https://x"},
		"no url":         {ToUser: "lisi", Title: "t", Description: "d"},
	} {
		if _, err := c.SendTextCard(t.Context(), bad); desk.ErrorCode(err) != desk.EInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}
