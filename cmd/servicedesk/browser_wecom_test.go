package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
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
	agent := openTab(t, browser, "agent", 1366, 850, false)
	agent.navigate(t, a.url+"/agent/")
	agent.waitVisible(t, "#login-form")
	if evalJS[bool](t, agent, visibleJS("#login-dev")) || evalJS[bool](t, agent, visibleJS("#login-wecom")) {
		t.Error("the console shows the demo hint or WeCom sign-in without --dev and WeCom")
	}
}
