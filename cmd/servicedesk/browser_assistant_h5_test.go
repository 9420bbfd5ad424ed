package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/servicedesk/servicedesk/internal/assistant/assistantfake"
)

// TestBrowserAssistantEmployee is the AI assistant as an employee meets
// it on the phone page, the model a fake OpenAI-compatible server: the
// articles offered first, 还是需要人工, then the assistant's answer citing
// the article under a banner with 转人工, which puts the request in the
// queue.
func TestBrowserAssistantEmployee(t *testing.T) {
	browser := startBrowser(t)
	const key = "sk-browser-test-key-0123456789"
	fake := assistantfake.New(key)
	t.Cleanup(fake.Close)
	fake.SetHandler(func(assistantfake.Request) assistantfake.Reply {
		return assistantfake.Stream("先退出并重新打开 GlobalProtect，", "再检查系统时间 [1]。")
	})
	env := func(k string) string {
		if k == "SERVICEDESK_LLM_API_KEY" {
			return key
		}
		return ""
	}
	a := startAppEnv(t, env, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--llm-base-url", fake.BaseURL(), "--llm-model", "qwen-plus")
	admin, _ := a.loginAgent("demo", "demo")
	kbPublish(t, a, admin, "VPN 连不上怎么办", "network", "1. 退出并重新打开 **GlobalProtect**\n2. 检查系统时间是否正确", true)

	emp := openTab(t, browser, "employee", 390, 844, true)
	kbSignIn(t, emp, a.url+"/h5/", "zhangsan", "张三")
	emp.click(t, "#new-conversation")
	emp.typeText(t, "#new-subject", "VPN 连不上")
	emp.choose(t, "#new-category", "network")
	emp.typeText(t, "#new-body", "在家连不上公司 VPN")
	emp.click(t, "#new-submit")
	emp.waitVisible(t, "[data-testid=deflect]")
	emp.click(t, "#deflect-human")

	emp.waitUntil(t, "the assistant's answer", `[...document.querySelectorAll('[data-testid=message][data-sender-type=bot]')].some(m => m.textContent.includes('GlobalProtect'))`)
	emp.waitVisible(t, "[data-testid=bot-hint]")
	if got := emp.text(t, "#conv-status"); got != "智能助手" {
		t.Errorf("status badge %q, want 智能助手", got)
	}
	if evalJS[bool](t, emp, visibleJS("#queue-position")) {
		t.Error("a queue position while the assistant answers")
	}
	if evalJS[bool](t, emp, visibleJS("#bot-stream")) {
		t.Error("the live answer still shows beside the stored one")
	}
	if reqs := fake.Requests(); len(reqs) != 1 || !strings.Contains(reqs[0].Messages[len(reqs[0].Messages)-1].Content, "在家连不上公司 VPN") {
		t.Fatalf("the model was asked %d times; the prompt holds the request: %v", len(reqs), reqs)
	}
	kbScreenshot(t, emp, "employee-assistant")

	emp.click(t, "#handover")
	emp.waitUntil(t, "queued after 转人工", `document.querySelector('#conv-status')?.dataset.status === 'queued'`)
	emp.waitVisible(t, "#queue-position")
	if evalJS[bool](t, emp, visibleJS("[data-testid=bot-hint]")) {
		t.Error("the 转人工 banner stays after the hand-off")
	}
	if errs := emp.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
