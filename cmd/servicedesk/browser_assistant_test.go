package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/servicedesk/servicedesk/internal/assistant/assistantfake"
)

const assistantKey = "sk-browser-assistant-key-0123456789"

// TestBrowserAssistant is the AI assistant as agents meet it in the
// console, against a fake OpenAI-compatible model: a new request the
// assistant answered shows, live, under 智能助手处理中; opened, it is read
// only, with the assistant's answer and the article it cites; 接手 takes
// it over; 起草回复 streams a draft into the reply box (cancelled, it puts
// back what was typed; finished, it stays to be edited and is not sent;
// failed, a toast says so); 助手记录 shows each exchange and its prompt;
// a request handed over reads 已转人工 in the history; and the admin's
// per-category switch saves assistant_off without losing business hours.
func TestBrowserAssistant(t *testing.T) {
	browser := startBrowser(t)
	fake := assistantfake.New(assistantKey)
	t.Cleanup(fake.Close)
	env := func(k string) string {
		if k == "SERVICEDESK_LLM_API_KEY" {
			return assistantKey
		}
		return ""
	}
	a := startAppEnv(t, env, filepath.Join(t.TempDir(), "desk.db"), "--dev",
		"--llm-base-url", fake.BaseURL(), "--llm-model", "test")
	admin, _ := a.loginAgent("demo", "demo")
	const title = "VPN 连不上怎么办"
	article := kbPublish(t, a, admin, title, "network", "打开「设置」，重新连接 VPN。", true)

	started := time.Now()
	step := func(name string) { t.Logf("── %s (at %.1fs)", name, time.Since(started).Seconds()) }

	step("the console, signed in before the request comes")
	agent := openTab(t, browser, "agent", 1366, 850, false)
	agent.navigate(t, a.url+"/agent/")
	agent.typeText(t, "#login-username", "demo")
	agent.typeText(t, "#login-password", "demo")
	agent.click(t, "#login-submit")
	agent.waitUntil(t, "the console connected", connectedJS)
	evalJS[bool](t, agent, setNoReloadJS)
	agent.waitUntil(t, "the assistant's list, empty", visibleJS("[data-testid=bot-section]")+" && "+visibleJS("#empty-bot"))

	step("an employee asks; the assistant answers first")
	const body = "在家连不上公司 VPN，提示证书错误"
	conv := assistantAsk(t, a, "zhangsan", "VPN 连不上", body, "network")
	item := fmt.Sprintf("[data-testid=bot-item][data-conversation-id=%s]", jsString(conv))
	agent.waitUntil(t, "the request under 智能助手处理中, live", visibleJS(item))
	agent.waitUntil(t, "answered, live", fmt.Sprintf(`document.querySelector(%s)?.textContent === '已回答'`, jsString(item+" [data-testid=bot-state]")))
	if n := agent.count(t, fmt.Sprintf("[data-testid=queue-item][data-conversation-id=%s]", jsString(conv))); n != 0 {
		t.Errorf("the assistant's conversation is in the queue too")
	}

	step("opened: read only, the answer and its article")
	agent.click(t, item)
	agent.waitUntil(t, "the status", `document.querySelector('#conv-status')?.dataset.status === 'bot' && document.querySelector('#conv-status').textContent === '智能助手处理中'`)
	botMsg := "[data-testid=message][data-sender-type=bot]"
	agent.waitVisible(t, botMsg)
	if got := agent.text(t, botMsg+" .msg-name"); got != "智能助手" {
		t.Errorf("the bot message is signed %q", got)
	}
	chip := fmt.Sprintf("%s [data-testid=article-chip][data-id=%s]", botMsg, jsString(article))
	agent.waitVisible(t, chip)
	if got := agent.text(t, chip); got != title {
		t.Errorf("the article chip says %q, want %q", got, title)
	}
	if href := evalJS[string](t, agent, fmt.Sprintf(`document.querySelector(%s).getAttribute('href')`, jsString(chip))); href != "/h5/?article="+article {
		t.Errorf("the article chip links to %q", href)
	}
	if got := agent.text(t, "#claim-current"); got != "接手" {
		t.Errorf("the take-over button says %q", got)
	}
	agent.waitUntil(t, "read only, no draft", `document.querySelector('#composer-input').disabled && `+visibleJS("#composer-hint")+` && !`+visibleJS("#composer-draft"))
	agent.click(t, "#lang-toggle")
	agent.waitUntil(t, "the status and the sender in English", `document.querySelector('#conv-status').textContent === 'With the assistant' &&
		document.querySelector('[data-testid=message][data-sender-type=bot] .msg-name').textContent === 'Assistant' &&
		document.querySelector('#claim-current').textContent === 'Take over'`)
	agent.click(t, "#lang-toggle")
	agent.waitUntil(t, "Chinese again", `document.querySelector('#conv-status').textContent === '智能助手处理中'`)
	shots := []string{kbScreenshot(t, agent, "agent-assistant-bot-conversation")}

	step("接手")
	agent.click(t, "#claim-current")
	agent.waitUntil(t, "taken over", `document.querySelector('#conv-status')?.dataset.status === 'open' && !document.querySelector('#composer-input').disabled`)
	agent.waitCount(t, item, 0)
	agent.waitVisible(t, "#composer-draft")

	step("起草回复, cancelled while it streams: what was typed comes back")
	agent.typeText(t, "#composer-input", "我先看看")
	fake.Push(assistantfake.Stall("您好，", "请先"))
	agent.click(t, "#composer-draft")
	agent.waitUntil(t, "the draft streaming into the read-only box", `(() => { const e = document.querySelector('#composer-input');
		return e.readOnly && e.value === '您好，请先'; })()`+` && `+visibleJS("#composer-draft-cancel"))
	evalJS[chromedp.Void](t, agent, `document.querySelector('#composer-input').focus()`)
	agent.pressEnter(t) // Enter in a box being drafted sends nothing
	agent.click(t, "#composer-draft-cancel")
	agent.waitUntil(t, "what was typed, editable again", `(() => { const e = document.querySelector('#composer-input');
		return !e.readOnly && e.value === '我先看看'; })()`+` && `+visibleJS("#composer-draft"))

	step("起草回复 to the end: the draft stays in the box, not sent")
	fake.Push(assistantfake.Stream("您好，", "请打开「设置」，", "重新连接 VPN。[1]"))
	agent.click(t, "#composer-draft")
	agent.waitUntil(t, "the whole draft, editable, with the cited article's link", fmt.Sprintf(`(() => { const e = document.querySelector('#composer-input');
		return !e.readOnly && e.value.startsWith('您好，请打开「设置」，重新连接 VPN。') && e.value.includes(%s); })()`, jsString("/h5/?article="+article)))
	agent.waitUntil(t, "a word that it is a draft", `document.querySelector('#toasts').textContent.includes('草稿已填入回复框')`)
	shots = append(shots, kbScreenshot(t, agent, "agent-assistant-draft"))
	if n := agent.count(t, "[data-testid=message][data-sender-type=agent]"); n != 0 {
		t.Errorf("the draft was sent (%d agent messages)", n)
	}

	step("起草回复 when the model fails: a toast, the box as it was")
	agent.clearField(t, "#composer-input")
	agent.typeText(t, "#composer-input", "保留这段")
	fake.Push(assistantfake.ServerError())
	agent.click(t, "#composer-draft")
	agent.waitUntil(t, "the failure said", `document.querySelector('#toasts').textContent.includes('起草失败')`)
	agent.waitUntil(t, "the box as it was", `(() => { const e = document.querySelector('#composer-input'); return !e.readOnly && e.value === '保留这段'; })()`)

	step("助手记录: every exchange, with its prompt")
	agent.click(t, "#assistant-review")
	agent.waitUntil(t, "the exchanges", `document.querySelector('#assistant-dialog').open && document.querySelectorAll('[data-testid=assistant-exchange]').length === 4`)
	kinds := evalJS[[]string](t, agent, `[...document.querySelectorAll('[data-testid=assistant-exchange]')].map(e => e.dataset.kind + ':' + e.dataset.outcome)`)
	if !slices.Contains(kinds, "answer:answered") || !slices.Contains(kinds, "draft:answered") || !slices.Contains(kinds, "draft:failed") {
		t.Errorf("the exchanges listed: %q", kinds)
	}
	answer := "[data-testid=assistant-exchange][data-kind=answer]"
	agent.click(t, answer+" [data-testid=assistant-prompt] summary")
	agent.waitUntil(t, "the prompt, as text", fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.textContent.includes(%s)) &&
		[...document.querySelectorAll(%s)].some(e => e.textContent.includes(%s))`,
		jsString(answer+" .prompt-text"), jsString(body), jsString(answer+" .prompt-text"), jsString(title)))
	shots = append(shots, kbScreenshot(t, agent, "agent-assistant-exchanges"))
	agent.click(t, "#assistant-close")

	step("a request handed over reads 已转人工 in the history")
	agent.click(t, "#tab-queue") // 接手 went to 我的会话
	other := assistantAsk(t, a, "lisi", "VPN 又断了", "VPN 每隔十分钟断一次", "network")
	otherItem := fmt.Sprintf("[data-testid=bot-item][data-conversation-id=%s]", jsString(other))
	agent.waitUntil(t, "the second request answered", visibleJS(otherItem)+fmt.Sprintf(` && document.querySelector(%s)?.textContent === '已回答'`, jsString(otherItem+" [data-testid=bot-state]")))
	if status, m := a.post("/api/conversations/"+other+"/handover", a.employee("lisi"), nil); status != http.StatusOK {
		t.Fatalf("转人工: %d %v", status, m)
	}
	queued := fmt.Sprintf("[data-testid=queue-item][data-conversation-id=%s]", jsString(other))
	agent.waitUntil(t, "in the queue, out of the assistant's list", visibleJS(queued)+` && !document.querySelector(`+jsString(otherItem)+`)`)
	agent.click(t, queued)
	agent.waitUntil(t, "the hand-over line", `[...document.querySelectorAll('[data-testid=system][data-type="conversation.handed_over"]')].some(e => e.textContent.includes('已转人工：员工要求人工服务'))`)

	step("the admin's switch per category")
	agent.click(t, "#admin-open")
	agent.click(t, "[data-admin-tab=assistant]")
	box := `#assistant-categories input[value="account"]`
	agent.waitUntil(t, "every category on", fmt.Sprintf(`document.querySelector(%s)?.checked === true`, jsString(box)))
	agent.click(t, box)
	agent.click(t, "#assistant-submit")
	assistantWaitOff(t, a, admin, "account")
	agent.click(t, "[data-admin-tab=hours]")
	agent.waitUntil(t, "the hours form", `document.querySelector('#hours-zone').value !== ''`)
	agent.typeText(t, "#hours-holidays", "2026-10-01")
	agent.click(t, "#hours-submit")
	deadline := time.Now().Add(waitTimeout)
	for {
		if h, _ := kbGet(t, a, admin, "/api/settings")["holidays"].([]any); len(h) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holiday was not saved")
		}
		time.Sleep(pollEvery)
	}
	assistantWaitOff(t, a, admin, "account") // saving business hours kept the switch
	if c := assistantCreate(t, a, "wangwu", "忘记密码", "账号被锁定了", "account"); c["status"] != "queued" {
		t.Errorf("a request in a category the assistant is off for starts %v", c["status"])
	}

	if d := agent.dialogsOpened(); len(d) > 0 {
		t.Errorf("JavaScript dialogs opened: %q", d)
	}
	if errs := agent.pageErrors(); len(errs) > 0 {
		t.Errorf("the console logged errors:\n  %s", strings.Join(errs, "\n  "))
	}
	for _, path := range shots {
		t.Logf("screenshot %s", path)
	}
}

// TestBrowserAssistantOff: on a desk without a model, nothing of the
// assistant shows in the console.
func TestBrowserAssistantOff(t *testing.T) {
	browser := startBrowser(t)
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev")
	conv := assistantCreate(t, a, "zhangsan", "VPN 连不上", "在家连不上公司 VPN", "network")
	if conv["status"] != "queued" {
		t.Fatalf("without a model a request starts %v", conv["status"])
	}
	agent := openTab(t, browser, "agent", 1366, 850, false)
	agent.navigate(t, a.url+"/agent/")
	agent.typeText(t, "#login-username", "demo")
	agent.typeText(t, "#login-password", "demo")
	agent.click(t, "#login-submit")
	agent.waitUntil(t, "the console connected", connectedJS)
	queued := fmt.Sprintf("[data-testid=queue-item][data-conversation-id=%s]", jsString(conv["id"].(string)))
	agent.click(t, queued+" [data-testid=claim]")
	agent.waitUntil(t, "the conversation open", `document.querySelector('#conv-status')?.dataset.status === 'open' && !document.querySelector('#composer-input').disabled`)
	agent.click(t, "#admin-open")
	agent.waitUntil(t, "the admin dialog", `document.querySelector('#admin-dialog').open`)
	for _, sel := range []string{"[data-testid=bot-section]", "#composer-draft", "#composer-draft-cancel", "[data-testid=assistant-block]", "[data-admin-tab=assistant]"} {
		if evalJS[bool](t, agent, visibleJS(sel)) {
			t.Errorf("%s shows on a desk without an assistant", sel)
		}
	}
	if evalJS[bool](t, agent, `[...document.querySelectorAll('#all-status option')].some(o => o.value === 'bot' && !o.hidden)`) {
		t.Error("the all-list offers the status bot")
	}
}

// assistantCreate files an employee's request through the API (the dev
// login) and returns the conversation.
func assistantCreate(t *testing.T, a *app, employee, subject, body, category string) map[string]any {
	t.Helper()
	status, c := a.post("/api/h5/conversations", a.employee(employee), map[string]string{"subject": subject, "body": body, "category": category})
	if status != http.StatusCreated {
		t.Fatalf("request %q: %d %v", subject, status, c)
	}
	return c
}

// assistantAsk files a request the assistant answers first and returns
// its id.
func assistantAsk(t *testing.T, a *app, employee, subject, body, category string) string {
	t.Helper()
	c := assistantCreate(t, a, employee, subject, body, category)
	if c["status"] != "bot" {
		t.Fatalf("request %q starts %v, want bot", subject, c["status"])
	}
	return c["id"].(string)
}

// assistantWaitOff waits until the stored settings switch the assistant
// off for exactly these categories.
func assistantWaitOff(t *testing.T, a *app, admin string, keys ...string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var got []string
		list, _ := kbGet(t, a, admin, "/api/settings")["assistant_off"].([]any)
		for _, k := range list {
			got = append(got, fmt.Sprint(k))
		}
		if slices.Equal(got, keys) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("assistant_off is %q, want %q", got, keys)
		}
		time.Sleep(pollEvery)
	}
}
