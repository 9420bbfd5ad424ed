package main

import (
	"strings"
	"testing"
)

// TestBrowserCannedReplies: the demo agent (an admin in dev mode) writes
// a shared canned reply in the 快捷回复 dialog, then answers by typing "/"
// and choosing it with the keyboard; its variables are filled in.
func TestBrowserCannedReplies(t *testing.T) {
	s := newDeskScenario(t, startBrowser(t))
	s.agentSignsIn()
	s.employeeAsks()
	s.queueShowsItLive()
	s.agentClaims()
	agent := s.agent

	agent.click(t, "#canned-open")
	agent.waitUntil(t, "the dialog open", `document.querySelector('#canned-dialog').open`)
	agent.waitUntil(t, "shared allowed for an admin", `!document.querySelector('#canned-scope-shared').disabled`)
	agent.typeText(t, "#canned-title", "VPN 证书过期")
	agent.typeText(t, "#canned-body", "{{employee.name}}，您好：证书过期了，请按步骤重新导入。工单 {{conversation.ref}}，{{agent.name}}")
	agent.choose(t, "#canned-scope", "shared")
	agent.click(t, "#canned-submit")
	agent.waitUntil(t, "the reply listed", `[...document.querySelectorAll('[data-testid=canned-row]')].some(e => e.textContent.includes('VPN 证书过期'))`)
	agent.click(t, "#canned-close")

	agent.typeText(t, "#composer-input", "/证书")
	agent.waitUntil(t, "the picker offering it", `document.querySelectorAll('[data-testid=canned-option]').length === 1`)
	agent.pressEnter(t) // picks, does not send
	ref := s.emp.text(t, "[data-testid=ref]")
	want := "张三，您好：证书过期了，请按步骤重新导入。工单 " + ref + "，Demo Agent"
	agent.waitUntil(t, "the reply filled in", `document.querySelector('#composer-input').value === `+jsString(want))
	if n := len(agent.messages(t)); n != len(s.want) {
		t.Fatalf("Enter in the picker sent something: %d messages", n)
	}
	agent.pressEnter(t)
	s.want = append(s.want, want)
	s.emp.waitMessages(t, s.want)
	if strings.Contains(want, "{{") {
		t.Error("a variable was left unfilled")
	}
}

// TestBrowserSearch: the agent finds the conversation by two Chinese
// characters of a message, sees the match marked, and opens it.
func TestBrowserSearch(t *testing.T) {
	s := newDeskScenario(t, startBrowser(t))
	s.agentSignsIn()
	s.employeeAsks()
	s.queueShowsItLive()
	s.agentClaims()
	agent := s.agent
	agent.click(t, "#tab-queue") // leave the conversation's list for the search
	agent.typeText(t, "#search-input", "证书")
	agent.pressEnter(t)
	result := `[data-testid=search-result][data-conversation-id=` + jsString(s.convID) + `]`
	agent.waitUntil(t, "the message found, the match marked", `[...document.querySelectorAll(`+jsString(result+" mark")+`)].some(m => m.textContent === '证书')`)
	agent.click(t, result)
	agent.waitUntil(t, "the conversation open", `document.querySelector('#conv-status')?.dataset.status === 'open'`)
	agent.click(t, "#search-clear")
	agent.waitUntil(t, "the lists back", "!"+visibleJS("[data-testid=search-results]")+" && "+visibleJS("#tab-queue"))
}
