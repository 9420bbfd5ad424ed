package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowserWeComSignIn: both pages sign in through WeCom (the fake, with
// its member picked at once as in WeCom's own browser), the employee lands
// in the conversation a card linked to, and no token shows in the address.
func TestBrowserWeComSignIn(t *testing.T) {
	browser := startBrowser(t)
	db := filepath.Join(t.TempDir(), "desk.db")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"agent", "add", "--db", db, "--username", "lisi", "--name", "李四", "--wecom-userid", "lisi"},
		noEnv, strings.NewReader("a-long-password\n"), &out, &out); err != nil {
		t.Fatalf("agent add: %v\n%s", err, out.String())
	}
	d := startWeComDesk(t, db)

	d.fake.SetAutoLogin("zhangsan")
	emp := openTab(t, browser, "employee", 390, 844, true)
	emp.navigate(t, d.url+"/h5/")
	emp.waitVisible(t, "#login-wecom")
	emp.click(t, "#login-wecom")
	emp.waitUntil(t, "signed in through WeCom", connectedJS)
	if href := evalJS[string](t, emp, `location.href`); strings.Contains(href, "ticket") || strings.Contains(href, "token") {
		t.Fatalf("the address keeps the sign-in: %s", href)
	}
	token := evalJS[string](t, emp, `JSON.parse(sessionStorage.getItem('servicedesk.h5.session')).token`)
	status, conv := d.post("/api/h5/conversations", token, map[string]string{"subject": "打印机脱机", "body": "三楼打印机", "client_msg_id": "b1"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, conv)
	}
	// A card's deep link, opened in a fresh tab: straight into the conversation.
	card := openTab(t, browser, "employee from a card", 390, 844, true)
	card.navigate(t, d.url+"/auth/wecom/h5?next=/c/"+conv["id"].(string))
	card.waitUntil(t, "the linked conversation open", `document.body.dataset.screen === 'chat' && location.hash === '#/c/`+conv["id"].(string)+`'`)

	d.fake.SetAutoLogin("lisi")
	agent := openTab(t, browser, "agent", 1366, 850, false)
	agent.navigate(t, d.url+"/agent/")
	agent.waitVisible(t, "#login-wecom")
	agent.click(t, "#login-wecom")
	agent.waitUntil(t, "the console signed in through WeCom", connectedJS)

	// Beside the conversation: who the employee is, from the directory, and
	// their other conversation, which opens with a click.
	status, other := d.post("/api/h5/conversations", token, map[string]string{"subject": "邮箱收不到", "body": "手机上收不到邮件", "client_msg_id": "b2"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, other)
	}
	first := fmt.Sprintf(`[data-testid=queue-item][data-conversation-id=%s]`, jsString(conv["id"].(string)))
	agent.waitVisible(t, first)
	agent.click(t, first)
	agent.waitUntil(t, "the employee panel", visibleJS("[data-testid=employee-panel]")+
		` && document.querySelector('#employee-department').textContent === '示例科技有限公司/市场中心/华东销售部'`+
		` && document.querySelector('#employee-position').textContent === '销售经理'`+
		` && document.querySelector('#employee-name').textContent.includes('张三')`)
	history := fmt.Sprintf(`[data-testid=history-item][data-conversation-id=%s]`, jsString(other["id"].(string)))
	agent.waitVisible(t, history)
	if evalJS[bool](t, agent, visibleJS("[data-testid=employee-unreachable]")) {
		t.Error("a reachable employee is shown as unreachable")
	}
	agent.click(t, history)
	agent.waitUntil(t, "the earlier conversation open", `document.querySelector('#conv-subject').textContent === '邮箱收不到'`)
	if *screenshotDir != "" {
		t.Log("screenshot", agent.screenshot(t, *screenshotDir, "agent-employee-panel"))
	}
	for _, tb := range []*tab{emp, card, agent} {
		if errs := tb.pageErrors(); len(errs) > 0 {
			t.Errorf("%s: page errors %v", tb.name, errs)
		}
	}
}

// TestBrowserSignInWithoutDev: without --dev the employee page offers no
// dev form and says to open it from WeCom, and the console shows no demo
// account hint.
func TestBrowserSignInWithoutDev(t *testing.T) {
	browser := startBrowser(t)
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"))
	emp := openTab(t, browser, "employee", 390, 844, true)
	emp.navigate(t, a.url+"/h5/")
	emp.waitVisible(t, "#login-wecom-note")
	if evalJS[bool](t, emp, visibleJS("#login-form")) {
		t.Error("the dev sign-in form shows without --dev")
	}
	// Signing in, the language chip sits under the form, not alone in an
	// otherwise empty top bar.
	if !evalJS[bool](t, emp, `document.querySelector('#view-login').contains(document.querySelector('#lang-toggle')) && document.querySelector('#topbar').hidden`) {
		t.Error("the sign-in screen shows the language chip in the top bar")
	}
	// Touch targets a thumb can hit: 44×44 px at least.
	if small := evalJS[[]string](t, emp, `[...document.querySelectorAll('#lang-toggle, #back')].map(e => {
		document.querySelector('#topbar').hidden = false;
		e.hidden = false; const r = e.getBoundingClientRect(); return r.width < 44 || r.height < 44 ? e.id + ' ' + r.width + 'x' + r.height : ''
	}).filter(Boolean)`); len(small) > 0 {
		t.Errorf("touch targets under 44×44: %v", small)
	}
	agent := openTab(t, browser, "agent", 1366, 850, false)
	agent.navigate(t, a.url+"/agent/")
	agent.waitVisible(t, "#login-form")
	if evalJS[bool](t, agent, visibleJS("#login-dev")) || evalJS[bool](t, agent, visibleJS("#login-wecom")) {
		t.Error("the console shows the demo hint or WeCom sign-in without --dev and WeCom")
	}
}

// TestBrowserSignInAgain: an employee whose token is revoked ("登录已过期")
// and who signs in again in the same tab sees the other side's messages
// once each, and the signed-out page polled nothing meanwhile (its old
// poller used to outlive the sign-out and run on with the new token).
func TestBrowserSignInAgain(t *testing.T) {
	s := newDeskScenario(t, startBrowser(t))
	s.agentSignsIn()
	s.employeeAsks()
	s.queueShowsItLive()
	s.agentClaims()
	s.say(s.agent, "请先重启电脑")

	emp := s.emp
	token := evalJS[string](t, emp, `JSON.parse(sessionStorage.getItem('servicedesk.h5.session')).token`)
	evalJS[bool](t, emp, `(() => { window.__eventPolls = 0; const f = window.fetch;
		window.fetch = (u, ...a) => { if (String(u).includes('/events')) window.__eventPolls++; return f(u, ...a); }; return true; })()`)
	if status, _ := s.srv.post("/api/logout", token, nil); status != http.StatusNoContent {
		t.Fatalf("revoke: %d", status)
	}
	emp.waitVisible(t, "#login-form")
	time.Sleep(4 * time.Second) // more than a poll round
	if n := evalJS[int](t, emp, `window.__eventPolls`); n != 0 {
		t.Errorf("the signed-out page polled %d times", n)
	}
	emp.clearField(t, "#login-employee-id")
	emp.clearField(t, "#login-name")
	emp.typeText(t, "#login-employee-id", "zhangsan")
	emp.typeText(t, "#login-name", "张三")
	emp.click(t, "#login-submit")
	emp.waitUntil(t, "signed in again", connectedJS)
	emp.navigate(t, s.srv.url+"/h5/#/c/"+s.convID)
	emp.waitUntil(t, "the conversation open again", connectedJS+` && document.body.dataset.screen === 'chat'`)
	emp.watchMessages(t)
	s.say(s.agent, "重启后好了吗？")
	s.say(s.agent, "再试一次 VPN")
	if d := emp.duplicatesSeen(t); len(d) > 0 {
		t.Errorf("after signing in again these messages showed twice: %q", d)
	}

	// Scrolled up, a new message is not on screen: a marker offers it and
	// it is not marked read until the view reaches it.
	evalJS[bool](t, emp, `(() => { const sc = document.querySelector('#chat-scroll'); sc.style.height = '80px'; sc.style.flex = 'none'; return true; })()`)
	time.Sleep(300 * time.Millisecond) // the page keeps a view at the bottom when it is resized; scroll up after
	evalJS[bool](t, emp, `(() => { document.querySelector('#chat-scroll').scrollTop = 0; return true; })()`)
	emp.waitUntil(t, "scrolled up", `document.querySelector('#chat-scroll').scrollTop === 0`)
	time.Sleep(200 * time.Millisecond)
	s.agent.typeText(t, "#composer-input", "看到了吗")
	s.agent.pressEnter(t)
	emp.waitUntil(t, "the new-messages marker", visibleJS("[data-testid=new-messages]"))
	emp.click(t, "[data-testid=new-messages]")
	emp.waitUntil(t, "the marker gone at the bottom", "!"+visibleJS("[data-testid=new-messages]"))
	s.want = append(s.want, "看到了吗")
	evalJS[bool](t, emp, `(() => { const sc = document.querySelector('#chat-scroll'); sc.style.height = ''; sc.style.flex = ''; return true; })()`)

	// A message over the limit is refused before sending, with a reason,
	// and what was typed stays.
	long := strings.Repeat("长", 1400) // 4,200 bytes of UTF-8
	evalJS[bool](t, emp, `(() => { const i = document.querySelector('#composer-input'); i.value = `+jsString(long)+`;
		i.dispatchEvent(new Event('input')); return true; })()`)
	emp.waitUntil(t, "the counter says too long", `document.querySelector('[data-testid=composer-count]')?.classList.contains('over')`)
	emp.pressEnter(t)
	if n := evalJS[int](t, emp, `document.querySelector('#composer-input').value.length`); n != 1400 {
		t.Errorf("the typed text was not kept: %d characters left", n)
	}
	evalJS[bool](t, emp, `(() => { const i = document.querySelector('#composer-input'); i.value = ''; i.dispatchEvent(new Event('input')); return true; })()`)

	// A colleague invited in hears of it wherever they are: a toast, and a
	// mark in the tab's title.
	colleague := openTab(t, s.browser, "colleague", 1366, 850, false)
	colleague.navigate(t, s.srv.url+"/agent/")
	colleague.typeText(t, "#login-username", "wanggong")
	colleague.typeText(t, "#login-password", "wanggong-password")
	colleague.click(t, "#login-submit")
	colleague.waitUntil(t, "the colleague's console connected", connectedJS)
	s.agent.choose(t, "#invite-select", s.wangID)
	s.agent.click(t, "#invite-submit")
	colleague.waitUntil(t, "a toast saying they were invited", `[...document.querySelectorAll('#toasts .toast')].some(e => e.textContent.includes('邀请你'))`)
	colleague.waitUntil(t, "the title marked", `document.title.startsWith('★1')`)

	// Handing over: the agent transfers it to the colleague. It stays
	// findable under 已移交 and their open view stays live.
	s.agent.choose(t, "#transfer-select", s.wangID)
	s.agent.click(t, "#transfer-submit")
	s.agent.click(t, "#tab-mine")
	s.agent.waitUntil(t, "the conversation listed as handed over", visibleJS(s.item("former-item")))
	s.agent.waitUntil(t, "the view shows it is no longer theirs", `document.querySelector('#resolve').hidden || document.querySelector('#resolve').disabled`)
	s.say(emp, "现在是王工在处理吗？") // both pages must show it, the handed-over view too
	colleague.click(t, "#tab-mine")
	colleague.click(t, s.item("mine-item"))
	colleague.waitUntil(t, "the colleague has it open", `document.querySelector('#conv-status')?.dataset.status === 'open'`)

	// Resolving asks first; cancelling changes nothing.
	agent := colleague
	agent.click(t, "#resolve")
	agent.waitUntil(t, "the confirmation shown", `document.querySelector('#confirm-dialog').open`)
	agent.click(t, "#confirm-cancel")
	agent.waitUntil(t, "the confirmation gone", `!document.querySelector('#confirm-dialog').open`)
	if st := evalJS[string](t, agent, `document.querySelector('#conv-status')?.dataset.status`); st != "open" {
		t.Fatalf("status after cancelling: %q", st)
	}
	agent.click(t, "#resolve")
	agent.waitUntil(t, "the confirmation shown again", `document.querySelector('#confirm-dialog').open`)
	agent.click(t, "#confirm-ok")
	agent.waitUntil(t, "resolved", `document.querySelector('#conv-status')?.dataset.status === 'resolved'`)
	emp.waitUntil(t, "the employee sees it resolved", `document.querySelector('#conv-status')?.dataset.status === 'resolved'`)

	// A message the server refuses says why, in the page's language: one
	// written before the conversation was resolved, sent after it was.
	evalJS[bool](t, agent, `(() => { const id = JSON.parse(sessionStorage.getItem('servicedesk.agent.session')).id;
		sessionStorage.setItem('servicedesk.agent.outbox.' + id, JSON.stringify([{conversation_id: `+jsString(s.convID)+`,
			client_msg_id: 'late-1', body: '还有问题吗？', status: 'sending', created_at: new Date().toISOString()}])); return true; })()`)
	agent.navigate(t, s.srv.url+"/agent/")
	agent.waitUntil(t, "the console connected again", connectedJS)
	agent.click(t, "#tab-resolved")
	agent.click(t, s.item("resolved-item"))
	agent.waitUntil(t, "the refusal shown with its reason", `[...document.querySelectorAll('[data-testid=send-error]')].some(e => e.textContent.includes('会话已结束'))`)
}
