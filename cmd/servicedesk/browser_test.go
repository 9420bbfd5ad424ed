package main

// The browser end-to-end suite: the real server (run, as main starts it)
// and the real pages in headless Chromium, driven with chromedp. The pages
// are found through the DOM contract they share with these tests
// (data-testid, ids and data-* attributes), never through their layout.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	connectedJS = `document.querySelector('#conn-state')?.dataset.state === 'connected'`
	// noReloadJS is set once a page is signed in; if the page ever reloads
	// (to "reconnect" or to show news) it is gone.
	setNoReloadJS   = `window.__servicedeskNoReload = true`
	checkNoReloadJS = `window.__servicedeskNoReload === true`
	// xss is a message a user could type; it must show as these characters.
	xss = `<script>alert(1)</script><img src=x onerror=alert(2)>`
)

// TestBrowserPagesHTTP checks what the pages are served with: a CSP that
// forbids inline script, and / sending people to the agent console.
func TestBrowserPagesHTTP(t *testing.T) {
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev")
	for _, path := range []string{"/agent/", "/h5/"} {
		resp, err := http.Get(a.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: Content-Security-Policy %q, want script-src 'self' and nothing unsafe", path, csp)
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(a.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/agent/" {
		t.Errorf("GET /: %d Location %q, want a redirect to /agent/", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestBrowserLanguage: both pages open in Chinese, the toggle switches what
// a user sees to English, the choice survives a reload, and / lands on the
// agent console.
func TestBrowserLanguage(t *testing.T) {
	browser := startBrowser(t)
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev")

	agent := openTab(t, browser, "agent", 1366, 850, false)
	agent.navigate(t, a.url+"/")
	agent.waitUntil(t, "the redirect from / to the console", `location.pathname === '/agent/'`)
	checkLanguageToggle(t, agent)

	emp := openTab(t, browser, "employee", 390, 844, true)
	emp.navigate(t, a.url+"/h5/")
	checkLanguageToggle(t, emp)
}

// visibleCJKJS lists the visible texts (and placeholders) with Chinese
// characters, outside the language toggle, which may name 中文 in English.
const visibleCJKJS = `(() => {
	const cjk = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/, out = [];
	const shown = e => e.checkVisibility({visibilityProperty: true, opacityProperty: true}) && !e.closest('#lang-toggle');
	const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n; (n = w.nextNode());) {
		const p = n.parentElement;
		if (p && !p.closest('script, style') && cjk.test(n.nodeValue) && shown(p)) out.push(n.nodeValue.trim());
	}
	for (const e of document.querySelectorAll('[placeholder]')) {
		if (cjk.test(e.placeholder) && shown(e)) out.push('placeholder ' + e.placeholder);
	}
	return out;
})()`

func checkLanguageToggle(t *testing.T, tb *tab) {
	t.Helper()
	tb.waitVisible(t, "#lang-toggle")
	tb.waitUntil(t, "Chinese by default", `document.documentElement.lang === 'zh-CN'`)
	if zh := evalJS[[]string](t, tb, visibleCJKJS); len(zh) == 0 {
		t.Errorf("%s: no Chinese text visible by default", tb.name)
	}
	tb.click(t, "#lang-toggle")
	english := func(what string) {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for {
			lang := evalJS[string](t, tb, `document.documentElement.lang`)
			left := evalJS[[]string](t, tb, visibleCJKJS)
			if strings.HasPrefix(lang, "en") && len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s: <html lang=%q>, still in Chinese: %q", tb.name, what, lang, left)
			}
			time.Sleep(pollEvery)
		}
	}
	english("after the toggle")
	tb.navigate(t, evalJS[string](t, tb, `location.href`))
	english("after a reload (the choice is kept)")
	tb.click(t, "#lang-toggle")
	tb.waitUntil(t, "back to Chinese", `document.documentElement.lang === 'zh-CN'`)
}

// TestBrowserDesk is the desk as its two kinds of users meet it, in two
// browser contexts: an employee on a phone asks for help, an agent at a
// desk answers, a colleague is invited, the server restarts under them.
func TestBrowserDesk(t *testing.T) {
	started := time.Now()
	s := newDeskScenario(t, startBrowser(t))
	for _, step := range []struct {
		name string
		run  func()
	}{
		{"the agent signs in to the console (a wrong password first)", s.agentSignsIn},
		{"the employee signs in and asks for help", s.employeeAsks},
		{"the conversation appears in the agent's queue, live", s.queueShowsItLive},
		{"the agent claims it", s.agentClaims},
		{"typing shows on the other side", s.typingShows},
		{"a private note stays with the agents", s.agentAddsNote},
		{"messages go both ways; the employee never sees the note", s.messagesBothWays},
		{"a second agent is invited and the employee sees them join", s.colleagueJoins},
		{"a message with markup shows as text", s.markupShowsAsText},
		{"the pages' own text switches to English and back", s.languageToggles},
		{"the server restarts mid-conversation; a message is written while it is down", s.serverRestarts},
		{"screenshots", s.screenshots},
	} {
		t.Logf("── %s (at %.1fs)", step.name, time.Since(started).Seconds())
		step.run()
	}
	for _, tb := range []*tab{s.emp, s.agent} {
		if d := tb.dialogsOpened(); len(d) > 0 {
			t.Errorf("%s: JavaScript dialogs opened: %q", tb.name, d)
		}
		if d := tb.duplicatesSeen(t); len(d) > 0 {
			t.Errorf("%s: at some moment these messages were shown twice: %q", tb.name, d)
		}
		if errs := tb.pageErrors(); len(errs) > 0 {
			t.Logf("%s page logged %d errors (a restart logs refused connections):\n  %s", tb.name, len(errs), strings.Join(errs, "\n  "))
		}
	}
}

// deskScenario is what TestBrowserDesk's steps share.
type deskScenario struct {
	t          *testing.T
	srv        *app
	db         string
	args       []string // the server's flags, the same for the restart
	emp, agent *tab
	browser    context.Context
	wangID     string   // the colleague who gets invited
	convID     string   // the employee's conversation
	want       []string // its message bodies, in order, as both pages must show them
}

func newDeskScenario(t *testing.T, browser context.Context, flags ...string) *deskScenario {
	s := &deskScenario{t: t, db: filepath.Join(t.TempDir(), "desk.db"), browser: browser}
	s.wangID = addAgent(t, s.db, "wanggong", "王工", "wanggong-password")
	// A fixed address, and the embedded default (tokens in the SQLite
	// file): the restart brings the server back where the pages look for
	// it, and their tokens still work, as on a single-node desk.
	s.args = append([]string{"--addr", freeAddr(t), "--dev"}, flags...)
	s.srv = startApp(t, s.db, s.args...)
	s.emp = openTab(t, browser, "employee", 390, 844, true)
	s.agent = openTab(t, browser, "agent", 1366, 850, false)
	return s
}

// item selects the conversation's entry in one of the lists.
func (s *deskScenario) item(testid string) string {
	return fmt.Sprintf(`[data-testid=%s][data-conversation-id=%s]`, testid, jsString(s.convID))
}

// say sends body from one page with the Enter key; both pages must then
// show the whole conversation, the sender's copy stored (seq) and sent.
func (s *deskScenario) say(from *tab, body string) { s.finish(from, body, body) }

// finish types the rest of a message into the composer and sends it with
// Enter; full is the whole message.
func (s *deskScenario) finish(from *tab, rest, full string) {
	s.t.Helper()
	from.typeText(s.t, "#composer-input", rest)
	from.pressEnter(s.t)
	s.want = append(s.want, full)
	s.emp.waitMessages(s.t, s.want)
	s.agent.waitMessages(s.t, s.want)
}

func (s *deskScenario) agentSignsIn() {
	t, agent := s.t, s.agent
	agent.navigate(t, s.srv.url+"/agent/")
	agent.typeText(t, "#login-username", "demo")
	agent.typeText(t, "#login-password", "not-the-password")
	agent.click(t, "#login-submit")
	agent.waitVisible(t, "#login-error")
	if strings.TrimSpace(agent.text(t, "#login-error")) == "" {
		t.Errorf("agent: #login-error is visible but says nothing")
	}
	agent.clearField(t, "#login-password")
	agent.typeText(t, "#login-password", "demo")
	agent.click(t, "#login-submit")
	agent.waitUntil(t, "the console connected", connectedJS)
	evalJS[bool](t, agent, setNoReloadJS)
	agent.watchMessages(t)
}

const deskSubject, deskFirstMessage = "VPN 连不上", "在家连不上公司 VPN，提示证书错误"

func (s *deskScenario) employeeAsks() {
	t, emp := s.t, s.emp
	emp.navigate(t, s.srv.url+"/h5/")
	emp.typeText(t, "#login-employee-id", "zhangsan")
	emp.typeText(t, "#login-name", "张三")
	emp.click(t, "#login-submit")
	emp.waitUntil(t, "the page connected", connectedJS)
	evalJS[bool](t, emp, setNoReloadJS)
	emp.watchMessages(t)
	emp.click(t, "#new-conversation")
	emp.typeText(t, "#new-subject", deskSubject)
	emp.choose(t, "#new-category", "network")
	emp.typeText(t, "#new-body", deskFirstMessage)
	emp.click(t, "#new-submit")
	// Where published articles match, the page offers them first: this
	// employee still needs a person.
	const offered = `!document.querySelector('[data-testid=deflect]').hidden`
	emp.waitUntil(t, "the request sent, or articles offered", `document.querySelector('#conv-status')?.dataset.status === 'queued' || `+offered)
	if evalJS[bool](t, emp, offered) {
		emp.click(t, "#deflect-human")
	}
	emp.waitUntil(t, "the conversation queued", `document.querySelector('#conv-status')?.dataset.status === 'queued'`)
	emp.waitVisible(t, "#queue-position")
	if got := emp.text(t, "#queue-position"); !strings.Contains(got, "排队第 1 位") {
		t.Errorf("employee: #queue-position says %q, want 排队第 1 位…", got)
	}
	s.want = []string{deskFirstMessage}
	emp.waitMessages(t, s.want)
}

func (s *deskScenario) queueShowsItLive() {
	t, agent := s.t, s.agent
	queued := fmt.Sprintf(`[...document.querySelectorAll('[data-testid=queue-item]')].find(e => e.textContent.includes(%s))`, jsString(deskSubject))
	agent.waitUntil(t, "the new conversation in the queue", queued)
	s.convID = evalJS[string](t, agent, queued+`.dataset.conversationId ?? ''`)
	if !strings.HasPrefix(s.convID, "cv_") {
		t.Fatalf("agent: the queue item has data-conversation-id %q", s.convID)
	}
	if wait := strings.TrimSpace(agent.text(t, s.item("queue-item")+" .wait")); wait == "" {
		t.Errorf("agent: the queue item shows no wait time")
	}
	agent.waitUntil(t, "the console not reloaded", checkNoReloadJS)
}

func (s *deskScenario) agentClaims() {
	t, agent, emp := s.t, s.agent, s.emp
	agent.click(t, s.item("queue-item")+" [data-testid=claim]")
	agent.waitCount(t, s.item("queue-item"), 0)
	agent.click(t, "#tab-mine")
	agent.click(t, s.item("mine-item"))
	agent.waitUntil(t, "the conversation open", `document.querySelector('#conv-status')?.dataset.status === 'open'`)
	agent.waitMessages(t, s.want)
	emp.waitUntil(t, "the claim shown", `document.querySelector('[data-testid=system][data-type="conversation.claimed"]')`)
	emp.waitUntil(t, "the conversation open", `document.querySelector('#conv-status')?.dataset.status === 'open'`)
	emp.waitUntil(t, "#queue-position hidden", "!"+visibleJS("#queue-position"))
}

// typingShows uses the first keystrokes in each composer: the pages send at
// most one typing frame per 2 s, so this is where it must show at once.
func (s *deskScenario) typingShows() {
	t, agent, emp := s.t, s.agent, s.emp
	emp.typeText(t, "#composer-input", "用的是 GlobalProtect")
	agent.waitVisible(t, "#typing")
	if got := agent.text(t, "#typing"); !strings.Contains(got, "张三") {
		t.Errorf("agent: #typing says %q, want it to name 张三", got)
	}
	s.finish(emp, "，昨天还好好的", "用的是 GlobalProtect，昨天还好好的")
	agent.typeText(t, "#composer-input", "收到")
	emp.waitVisible(t, "#typing")
	if got := emp.text(t, "#typing"); !strings.Contains(got, "Demo Agent") {
		t.Errorf("employee: #typing says %q, want it to name Demo Agent", got)
	}
	s.finish(agent, "，我看一下证书", "收到，我看一下证书")
}

const deskNote = "用户证书已过期，AD 里续签后让他重新导入"

func (s *deskScenario) agentAddsNote() {
	t, agent := s.t, s.agent
	agent.typeText(t, "#note-input", deskNote)
	agent.click(t, "#note-send")
	agent.waitUntil(t, "the note in the history", fmt.Sprintf(
		`[...document.querySelectorAll('[data-testid=note]')].some(e => e.querySelector('.body')?.textContent === %s)`, jsString(deskNote)))
}

func (s *deskScenario) messagesBothWays() {
	t := s.t
	s.say(s.agent, "请把报错截图发我一下")
	s.say(s.emp, "截图已经发到群里了")
	// Events arrive in order, so the employee has passed the note's seq.
	if n := s.emp.count(t, "[data-testid=note]"); n != 0 || strings.Contains(evalJS[string](t, s.emp, `document.body.textContent`), deskNote) {
		t.Errorf("employee: the private note is on the page (%d note elements)", n)
	}
}

func (s *deskScenario) colleagueJoins() {
	t, agent, emp := s.t, s.agent, s.emp
	agent.choose(t, "#invite-select", s.wangID)
	agent.click(t, "#invite-submit")
	joined := `[...document.querySelectorAll('[data-testid=system][data-type="participant.joined"]')].some(e => e.textContent.includes('王工'))`
	participant := fmt.Sprintf(`document.querySelector(%s)`,
		jsString(fmt.Sprintf(`#participants [data-testid=participant][data-id=%s][data-role=agent]`, jsString(s.wangID))))
	emp.waitUntil(t, "a line saying 王工 joined", joined)
	emp.waitUntil(t, "王工 among the participants", participant)
	agent.waitUntil(t, "王工 among the participants", participant)
}

func (s *deskScenario) markupShowsAsText() {
	t := s.t
	for _, tb := range []*tab{s.emp, s.agent} {
		tb.waitUntil(t, "#typing hidden once nobody types", "!"+visibleJS("#typing"))
	}
	s.say(s.emp, xss) // waits for the .body text to be exactly xss on both pages
	for _, tb := range []*tab{s.emp, s.agent} {
		n := evalJS[int](t, tb, `(() => { const list = document.querySelector('[data-testid=message]').parentElement;
			return list.querySelectorAll('script, img').length + document.querySelectorAll('img[src="x"]').length; })()`)
		if n != 0 {
			t.Errorf("%s: %d <script>/<img> elements came from a message", tb.name, n)
		}
		if d := tb.dialogsOpened(); len(d) > 0 {
			t.Errorf("%s: the message opened dialogs: %q", tb.name, d)
		}
	}
}

// languageToggles checks the signed-in pages' chrome (TestBrowserLanguage
// covers the sign-in screens in full).
func (s *deskScenario) languageToggles() {
	t := s.t
	han := regexp.MustCompile(`\p{Han}`)
	for _, tb := range []*tab{s.agent, s.emp} {
		tb.click(t, "#lang-toggle")
		tb.waitUntil(t, "English", `document.documentElement.lang.startsWith('en')`)
		for _, sel := range []string{"#conn-state", "#tab-queue", "#tab-mine", "#tab-resolved", "#composer-send", "#conv-status"} {
			if tb.count(t, sel) == 0 {
				continue // the other page's control
			}
			if got := tb.text(t, sel); han.MatchString(got) {
				t.Errorf("%s: %s says %q in English", tb.name, sel, got)
			}
		}
		tb.click(t, "#lang-toggle")
		tb.waitUntil(t, "Chinese", `document.documentElement.lang === 'zh-CN'`)
	}
}

func (s *deskScenario) serverRestarts() {
	t, emp, agent := s.t, s.emp, s.agent
	base := s.srv.url
	if err := s.srv.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, tb := range []*tab{emp, agent} {
		tb.waitUntil(t, "#conn-state reconnecting", `document.querySelector('#conn-state')?.dataset.state === 'reconnecting'`)
	}
	const offline = "服务器重启的时候发的这一条"
	emp.typeText(t, "#composer-input", offline)
	emp.pressEnter(t)
	shown := fmt.Sprintf(`[...document.querySelectorAll('[data-testid=message]')].filter(e => e.querySelector('.body')?.textContent === %s)`, jsString(offline))
	emp.waitUntil(t, "the offline message shown once, sending", shown+`.map(e => e.dataset.status).join() === 'sending'`)

	s.srv = startApp(t, s.db, s.args...)
	if s.srv.url != base {
		t.Fatalf("restarted on %s, want %s", s.srv.url, base)
	}
	for _, tb := range []*tab{emp, agent} {
		tb.waitUntilWithin(t, 30*time.Second, "#conn-state connected again", connectedJS)
	}
	s.want = append(s.want, offline)
	for _, tb := range []*tab{emp, agent} {
		tb.waitMessages(t, s.want)
		tb.waitUntil(t, "no reload", checkNoReloadJS)
	}
	if h := emp.statusHistory(t, offline); strings.Join(h, " → ") != "sending → sent" {
		t.Errorf("employee: the message written offline went %q, want sending → sent", h)
	}
	s.say(agent, "恢复了，收到你的消息")
	s.say(emp, "好的，谢谢")
}

// screenshots saves each page as a user sees it at the end: the employee's
// chat and list on a phone, the agent's conversation and queue on a desktop.
func (s *deskScenario) screenshots() {
	t, emp, agent := s.t, s.emp, s.agent
	dir := *screenshotDir
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []*tab{emp, agent} { // still everything exactly once
		tb.waitMessages(t, s.want)
	}
	// The conversation on the agent's screen has been read: no unread count.
	agent.waitUntil(t, "no unread count on the open conversation", "!"+visibleJS(s.item("mine-item")+" .unread"))
	for _, tb := range []*tab{emp, agent} { // notices fade by themselves; let them, for clean pictures
		tb.waitUntil(t, "the notices gone", `!document.querySelector('#toasts')?.children.length`)
	}
	shots := []string{emp.screenshot(t, dir, "employee-chat"), agent.screenshot(t, dir, "agent-conversation")}

	// A second employee asks, so the queue has something to show.
	status, m := s.srv.post("/api/h5/mock-login", "", map[string]string{"employee_id": "lisi", "name": "李四"})
	if status != http.StatusOK {
		t.Fatalf("mock login: %d %v", status, m)
	}
	status, m = s.srv.post("/api/h5/conversations", m["token"].(string), map[string]string{
		"subject": "新电脑装不上 Office", "category": "software", "body": "提示许可证已用完", "client_msg_id": "lisi-1"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, m)
	}
	agent.click(t, "#tab-queue")
	agent.waitVisible(t, fmt.Sprintf(`[data-testid=queue-item][data-conversation-id=%s]`, jsString(m["id"].(string))))
	emp.click(t, "#back")
	emp.waitVisible(t, s.item("conv-item"))
	shots = append(shots, agent.screenshot(t, dir, "agent-queue"), emp.screenshot(t, dir, "employee-list"))
	for _, path := range shots {
		t.Logf("screenshot %s", path)
	}
}

// addAgent creates an agent account the way an operator does, with
// `servicedesk agent add`, and returns its id.
func addAgent(t *testing.T, db, username, name, password string) string {
	t.Helper()
	var out, errs bytes.Buffer
	err := run(t.Context(), []string{"agent", "add", "--username", username, "--name", name, "--db", db}, noEnv,
		strings.NewReader(password+"\n"), &out, &errs)
	if err != nil {
		t.Fatalf("agent add: %v\n%s", err, errs.String())
	}
	m := regexp.MustCompile(`id (\S+)\)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("agent add printed %q", out.String())
	}
	return m[1]
}
