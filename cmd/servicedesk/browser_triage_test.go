package main

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestBrowserTriage: the reference number shows on both sides; the agent
// sets priority and a tag (the employee sees neither) and waits for the
// employee's answer, which opens the conversation again; the employee
// withdraws the request after asking to be sure.
func TestBrowserTriage(t *testing.T) {
	s := newDeskScenario(t, startBrowser(t))
	s.agentSignsIn()
	s.employeeAsks()
	s.queueShowsItLive()
	s.agentClaims()
	agent, emp := s.agent, s.emp

	ref := emp.text(t, "[data-testid=ref]")
	if !regexp.MustCompile(`^IT-\d{4}-\d{6}$`).MatchString(ref) {
		t.Fatalf("employee: reference %q", ref)
	}
	agent.waitUntil(t, "the reference in the console", `document.querySelector('#conv-meta').textContent.includes(`+jsString(ref)+`)`)

	agent.choose(t, "#priority-select", "urgent")
	agent.waitUntil(t, "urgent in the list", visibleJS(s.item("mine-item")+" [data-testid=priority]"))
	agent.typeText(t, "#tag-input", "VPN")
	agent.pressEnter(t)
	agent.waitUntil(t, "the tag shown", `[...document.querySelectorAll('[data-testid=tag]')].some(e => e.textContent.startsWith('VPN'))`)
	agent.waitUntil(t, "the change in the history", `[...document.querySelectorAll('[data-testid=system][data-type="conversation.updated"]')].length === 2`)

	s.say(agent, "请问是公司电脑还是自己的电脑？")
	agent.click(t, "#pending")
	agent.waitUntil(t, "pending in the console", `document.querySelector('#conv-status')?.dataset.status === 'pending'`)
	emp.waitUntil(t, "the employee told they are awaited", visibleJS("#pending-hint"))
	if evalJS[bool](t, emp, `document.body.innerText.includes('紧急') || !!document.querySelector('[data-type="conversation.updated"]')`) {
		t.Error("the employee sees the desk's triage")
	}
	s.say(emp, "公司的 ThinkPad")
	agent.waitUntil(t, "open again after the answer", `document.querySelector('#conv-status')?.dataset.status === 'open'`)
	emp.waitUntil(t, "the banner gone", "!"+visibleJS("#pending-hint"))

	emp.click(t, "#withdraw")
	emp.waitUntil(t, "asked first", `document.querySelector('#confirm-dialog').open`)
	emp.click(t, "#confirm-ok")
	emp.waitUntil(t, "withdrawn", `document.querySelector('#conv-status')?.dataset.status === 'resolved'`)
	agent.waitUntil(t, "the console sees it closed", `document.querySelector('#conv-status')?.dataset.status === 'resolved' &&
		document.querySelector('[data-testid=system][data-type="conversation.withdrawn"]')`)
}

// TestBrowserRating: after the agent resolves, the employee rates with
// stars and a comment; the console shows it.
func TestBrowserRating(t *testing.T) {
	s := newDeskScenario(t, startBrowser(t))
	s.agentSignsIn()
	s.employeeAsks()
	s.queueShowsItLive()
	s.agentClaims()
	agent, emp := s.agent, s.emp
	s.say(agent, "证书已续签，请重新连接")
	agent.click(t, "#resolve")
	agent.waitUntil(t, "asked first", `document.querySelector('#confirm-dialog').open`)
	agent.click(t, "#confirm-ok")
	emp.waitUntil(t, "asked for a rating", visibleJS("[data-testid=rate-card]"))
	emp.click(t, "[data-testid=rate-star][data-score='4']")
	emp.typeText(t, "#rate-comment", "很快就好了")
	emp.click(t, "#rate-submit")
	emp.waitUntil(t, "the rating recorded", visibleJS("[data-testid=rate-done]")+` && document.querySelector('#rate-summary').textContent.includes('★★★★☆')`)
	agent.waitUntil(t, "the console shows the rating", `document.querySelector('#conv-info').textContent.includes('★★★★☆ 很快就好了')`)
	agent.waitUntil(t, "and the line in the history", `document.querySelector('[data-testid=system][data-type="conversation.rated"]')`)
}

// TestBrowserOutOfHours: with business hours set and the desk closed, the
// employee is told at once when it opens.
func TestBrowserOutOfHours(t *testing.T) {
	browser := startBrowser(t)
	hours := "mon-sun 13:00-14:00"
	if h := time.Now().In(time.FixedZone("CST", 8*3600)).Hour(); h >= 12 && h < 15 {
		hours = "mon-sun 01:00-02:00"
	}
	a := startApp(t, filepath.Join(t.TempDir(), "desk.db"), "--dev", "--business-hours", hours)
	emp := openTab(t, browser, "employee", 390, 844, true)
	emp.navigate(t, a.url+"/h5/")
	emp.typeText(t, "#login-employee-id", "zhangsan")
	emp.typeText(t, "#login-name", "张三")
	emp.click(t, "#login-submit")
	emp.waitUntil(t, "signed in", connectedJS)
	emp.click(t, "#new-conversation")
	emp.typeText(t, "#new-subject", "打印机脱机")
	emp.typeText(t, "#new-body", "三楼打印机")
	emp.click(t, "#new-submit")
	emp.waitUntil(t, "told when the desk opens", `[...document.querySelectorAll('[data-testid=system][data-type="conversation.notice"]')].some(e => e.textContent.includes('非工作时间') && e.textContent.includes('上班'))`)
}
