package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// vpnArticle is Markdown of every kind the renderer knows, a link it must
// refuse and markup it must show as text.
const vpnArticle = "## 先试试这三步\n" +
	"1. 退出并重新打开 **GlobalProtect**\n" +
	"2. 检查系统时间是否正确\n" +
	"3. 重新导入证书：`vpn-cert.p12`\n\n" +
	"> 在家使用时请先连上家里的 Wi-Fi。\n\n" +
	"更多说明见 [VPN 手册](https://it.example.com/vpn)，不要点 [这个](javascript:window.pwned=3)。\n\n" +
	`<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">`

// TestBrowserKB is the knowledge base as an employee meets it on the phone
// page: 常见问题 from the home screen, a category, a search, an article
// rendered from Markdown and rated once; a link to an article (?article=),
// signed in already and not yet; and the articles offered while writing a
// request: "解决了" makes no request and counts a deflection, "还是需要人工"
// makes it with the articles, which the agent then sees beside it.
func TestBrowserKB(t *testing.T) {
	s := newDeskScenario(t, startBrowser(t))
	a, emp := s.srv, s.emp
	admin, _ := a.loginAgent("demo", "demo") // --dev's demo agent is an admin
	vpn := kbPublish(t, a, admin, "VPN 连不上怎么办", "network", vpnArticle, true)
	password := kbPublish(t, a, admin, "忘记密码如何重置", "account", "打开 **自助服务门户**，点击「忘记密码」，按短信验证码重置。", true)
	printer := kbPublish(t, a, admin, "打印机脱机处理", "hardware", "1. 检查打印机电源和网线\n2. 在电脑上删除打印机后重新添加", true)
	kbPublish(t, a, admin, "交换机配置说明", "network", "只给 IT 看的草稿", false)

	started := time.Now()
	step := func(name string) { t.Logf("── %s (at %.1fs)", name, time.Since(started).Seconds()) }
	titles := func(selector string) string {
		return fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.querySelector('.kb-item-title').textContent).join('|')`, jsString(selector))
	}

	step("the employee opens 常见问题 from the home screen")
	kbSignIn(t, emp, a.url+"/h5/", "zhangsan", "张三")
	emp.click(t, "[data-testid=faq-entry]")
	emp.waitUntil(t, "the categories holding articles, with their counts", `[...document.querySelectorAll('[data-testid=kb-category]')]
		.map(e => e.dataset.category + ':' + e.querySelector('.faq-cat-count')?.textContent).sort().join() === 'account:1 篇,hardware:1 篇,network:1 篇'`)
	emp.waitUntil(t, "the latest articles", titles("#faq-latest [data-testid=kb-item]")+` === '打印机脱机处理|忘记密码如何重置|VPN 连不上怎么办'`)
	shots := []string{kbScreenshot(t, emp, "employee-kb-faq")}

	step("a category, then an article rendered from its Markdown")
	emp.click(t, "[data-testid=kb-category][data-category=network]")
	emp.waitUntil(t, "the network articles, the draft not among them", visibleJS("#faq-category-list")+` && `+titles("#faq-category-list [data-testid=kb-item]")+` === 'VPN 连不上怎么办'`)
	if got := emp.text(t, "#faq-category-title"); got != "网络与 VPN" {
		t.Errorf("the category is called %q", got)
	}
	emp.click(t, fmt.Sprintf("#faq-category-list [data-testid=kb-item][data-id=%s]", jsString(vpn)))
	emp.waitUntil(t, "the article", `document.querySelector('#article-title').textContent === 'VPN 连不上怎么办'`)
	body := "document.querySelector('#article-body')"
	for what, expr := range map[string]string{
		"a heading":          body + `.querySelector('h4')?.textContent === '先试试这三步'`,
		"a numbered list":    body + `.querySelectorAll('ol li').length === 3`,
		"bold":               body + `.querySelector('strong')?.textContent === 'GlobalProtect'`,
		"code":               body + `.querySelector('code')?.textContent === 'vpn-cert.p12'`,
		"a quote":            body + `.querySelector('blockquote')?.textContent.includes('Wi-Fi')`,
		"the https link":     body + `.querySelector('a[href="https://it.example.com/vpn"]')?.textContent === 'VPN 手册'`,
		"no javascript link": `![...` + body + `.querySelectorAll('a')].some(a => !a.href.startsWith('https:'))`,
		"markup as text":     body + `.textContent.includes('<script>window.pwned = 1</script>') && !` + body + `.querySelector('script, img')`,
	} {
		if !evalJS[bool](t, emp, expr) {
			t.Errorf("the article shows no %s (%s)", what, expr)
		}
	}
	if evalJS[bool](t, emp, `window.pwned !== undefined`) {
		t.Error("the article's markup ran")
	}

	step("rated once per reading")
	emp.click(t, "[data-testid=kb-helped]")
	emp.waitVisible(t, "[data-testid=kb-thanks]")
	emp.waitUntil(t, "no second rating", "!"+visibleJS("[data-testid=kb-helped]")+" && !"+visibleJS("[data-testid=kb-not-helped]"))
	if art := kbGet(t, a, admin, "/api/kb/articles/"+vpn); art["helped"] != 1.0 || art["not_helped"] != 0.0 || art["views"] != 1.0 {
		t.Errorf("after one reading rated helpful the article counts views %v, helped %v, not helped %v", art["views"], art["helped"], art["not_helped"])
	}
	shots = append(shots, kbScreenshot(t, emp, "employee-kb-article"))

	step("back to the category, back to the FAQ, a search")
	emp.click(t, "#back")
	emp.waitVisible(t, "#faq-category-list [data-testid=kb-item]")
	emp.click(t, "#back")
	emp.waitVisible(t, "[data-testid=kb-category]")
	emp.typeText(t, "#faq-search", "忘记密码")
	emp.waitUntil(t, "the search's results", visibleJS("[data-testid=kb-results]")+` && `+titles("[data-testid=kb-result]")+` === '忘记密码如何重置'`)
	emp.waitUntil(t, "the match highlighted", `[...document.querySelectorAll('[data-testid=kb-result] mark')].some(m => '忘记密码'.includes(m.textContent))`)
	shots = append(shots, kbScreenshot(t, emp, "employee-kb-search"))
	emp.click(t, fmt.Sprintf("[data-testid=kb-result][data-id=%s]", jsString(password)))
	emp.waitUntil(t, "the article", `document.querySelector('#article-title').textContent === '忘记密码如何重置'`)
	emp.click(t, "[data-testid=kb-not-helped]")
	emp.waitVisible(t, "[data-testid=kb-thanks]")
	emp.waitVisible(t, "#article-ask-btn") // not helped: asking IT is one tap away
	emp.click(t, "#back")
	emp.waitUntil(t, "the search kept", visibleJS("[data-testid=kb-result]")+` && document.querySelector('#faq-search').value === '忘记密码'`)
	emp.clearField(t, "#faq-search")
	emp.typeText(t, "#faq-search", "交换机")
	emp.waitUntil(t, "a draft is not found", visibleJS("#faq-empty")+` && !`+visibleJS("[data-testid=kb-results]"))
	emp.clearField(t, "#faq-search")
	emp.waitVisible(t, "[data-testid=kb-category]")

	step("the FAQ in English")
	emp.click(t, "#lang-toggle")
	emp.waitUntil(t, "English", `document.querySelector('#faq-search').placeholder.startsWith('Search') &&
		document.querySelector('[data-testid=kb-category][data-category=network] .faq-cat-name').textContent === 'Network & VPN' &&
		document.querySelector('#page-title').textContent === 'FAQ'`)
	emp.click(t, "#lang-toggle")
	emp.waitUntil(t, "Chinese again", `document.querySelector('#page-title').textContent === '常见问题'`)

	step("a link to an article opens it, signed in or not yet")
	emp.navigate(t, a.url+"/h5/?article="+url.QueryEscape(printer))
	emp.waitUntil(t, "the linked article", `document.querySelector('#article-title').textContent === '打印机脱机处理' && location.hash === '#/kb/a/`+printer+`'`)
	emp.click(t, "#back")
	emp.waitVisible(t, "[data-testid=kb-category]") // nothing behind it: up to the FAQ
	emp.click(t, "#back")
	emp.waitVisible(t, "#new-conversation")
	evalJS[bool](t, emp, setNoReloadJS) // from here on, the page never reloads
	other := openTab(t, s.browser, "colleague", 390, 844, true)
	other.navigate(t, a.url+"/h5/?article="+url.QueryEscape(printer))
	other.waitVisible(t, "#login-employee-id")
	other.typeText(t, "#login-employee-id", "wangwu")
	other.typeText(t, "#login-name", "王五")
	other.click(t, "#login-submit")
	other.waitUntil(t, "the linked article after signing in", `document.querySelector('#article-title').textContent === '打印机脱机处理'`)

	step("a request the articles answer: 解决了 makes none")
	empToken := evalJS[string](t, emp, `JSON.parse(sessionStorage.getItem('servicedesk.h5.session')).token`)
	emp.click(t, "#new-conversation")
	emp.typeText(t, "#new-subject", "打印机脱机了")
	emp.waitUntil(t, "the matching article offered as they type", fmt.Sprintf(`document.querySelector('[data-testid=kb-suggestion][data-id=%s]')`, jsString(printer)))
	emp.typeText(t, "#new-body", "三楼的打印机一直显示脱机")
	shots = append(shots, kbScreenshot(t, emp, "employee-kb-suggestions"))
	emp.click(t, "#new-submit")
	emp.waitVisible(t, "[data-testid=deflect]")
	if got := evalJS[string](t, emp, titles("[data-testid=deflect-article]")); !strings.Contains(got, "打印机脱机处理") {
		t.Errorf("the question lists %q", got)
	}
	shots = append(shots, kbScreenshot(t, emp, "employee-kb-deflect"))
	emp.click(t, "#deflect-solved")
	emp.waitVisible(t, "#new-conversation")
	emp.waitUntil(t, "a friendly word", `document.querySelector('#toasts').textContent.includes('解决')`)
	if n := kbConversations(t, a, empToken); n != 0 {
		t.Errorf("解决了 made %d conversations", n)
	}
	kbWaitStats(t, a, admin, 1, 1)

	step("a request they still need a person for: 还是需要人工 makes it, with the articles")
	emp.click(t, "#new-conversation")
	emp.waitUntil(t, "a fresh form", `document.querySelector('#new-subject').value === '' && !document.querySelector('[data-testid=kb-suggestion]')`)
	emp.typeText(t, "#new-subject", deskSubject)
	emp.choose(t, "#new-category", "network")
	emp.typeText(t, "#new-body", deskFirstMessage)
	suggested := fmt.Sprintf("[data-testid=kb-suggestion][data-id=%s]", jsString(vpn))
	emp.click(t, suggested)
	emp.waitUntil(t, "the offered article", `document.querySelector('#article-title').textContent === 'VPN 连不上怎么办'`)
	emp.click(t, "#back")
	emp.waitUntil(t, "the request as it was written", `document.querySelector('#new-subject').value === `+jsString(deskSubject))
	emp.click(t, "#new-submit")
	emp.waitVisible(t, "[data-testid=deflect]")
	emp.click(t, "#deflect-human")
	emp.waitUntil(t, "the conversation queued", `document.querySelector('#conv-status')?.dataset.status === 'queued'`)
	s.want = []string{deskFirstMessage}
	emp.waitMessages(t, s.want)
	if n := kbConversations(t, a, empToken); n != 1 {
		t.Errorf("还是需要人工 left %d conversations, want 1", n)
	}
	kbWaitStats(t, a, admin, 2, 1)
	emp.waitUntil(t, "the page never reloaded", checkNoReloadJS)

	step("the agent sees the articles beside the conversation")
	s.agentSignsIn()
	s.queueShowsItLive()
	s.agentClaims()
	s.agent.waitUntil(t, "the articles the employee was offered", visibleJS("#kb-seen-block")+
		` && [...document.querySelectorAll('#kb-seen li')].some(e => e.textContent === 'VPN 连不上怎么办')`)
	if got := evalJS[string](t, s.agent, `document.querySelector('#kb-seen').textContent`); strings.Contains(got, "打印机") || strings.Contains(got, "忘记密码") {
		t.Errorf("the console lists articles from before the request: %q", got)
	}

	for _, tb := range []*tab{emp, other, s.agent} {
		if d := tb.dialogsOpened(); len(d) > 0 {
			t.Errorf("%s: JavaScript dialogs opened: %q", tb.name, d)
		}
	}
	for _, path := range shots {
		t.Logf("screenshot %s", path)
	}
}

// kbPublish writes an article as the admin, and publishes it unless
// draft is wanted; it returns its id.
func kbPublish(t *testing.T, a *app, admin, title, category, body string, publish bool) string {
	t.Helper()
	status, m := a.post("/api/kb/articles", admin, map[string]any{"title": title, "body": body, "category": category, "tags": []string{}})
	if status != http.StatusCreated {
		t.Fatalf("create article %q: %d %v", title, status, m)
	}
	id, _ := m["id"].(string)
	if publish {
		if status, m := a.post("/api/kb/articles/"+id+"/publish", admin, map[string]any{}); status != http.StatusOK {
			t.Fatalf("publish %q: %d %v", title, status, m)
		}
	}
	return id
}

// kbSignIn signs an employee in on the page's dev form.
func kbSignIn(t *testing.T, tb *tab, pageURL, id, name string) {
	t.Helper()
	tb.navigate(t, pageURL)
	tb.typeText(t, "#login-employee-id", id)
	tb.typeText(t, "#login-name", name)
	tb.click(t, "#login-submit")
	tb.waitUntil(t, "signed in", connectedJS)
}

func kbGet(t *testing.T, a *app, token, path string) map[string]any {
	t.Helper()
	status, m := a.getJSON(path, token)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, status, m)
	}
	return m
}

// kbConversations counts the employee's conversations.
func kbConversations(t *testing.T, a *app, token string) int {
	t.Helper()
	list, _ := kbGet(t, a, token, "/api/h5/conversations")["conversations"].([]any)
	return len(list)
}

// kbWaitStats waits until the admin's figures count the deflections (the
// page records them without waiting for the answer).
func kbWaitStats(t *testing.T, a *app, admin string, deflections, resolved float64) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		st := kbGet(t, a, admin, "/api/kb/stats")
		if st["deflections"] == deflections && st["resolved"] == resolved {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the figures say %v deflections, %v resolved; want %v and %v", st["deflections"], st["resolved"], deflections, resolved)
		}
		time.Sleep(pollEvery)
	}
}

// kbScreenshot keeps what the phone shows, in -screenshots or the test's
// temp dir.
func kbScreenshot(t *testing.T, tb *tab, name string) string {
	t.Helper()
	dir := *screenshotDir
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return tb.screenshot(t, dir, name)
}
