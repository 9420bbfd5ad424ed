package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

// wecomDesk is the whole desk configured for a fake WeCom.
type wecomDesk struct {
	*app
	fake   *wecomfake.Server
	client *http.Client // follows no redirect: each step is looked at
}

func startWeComDesk(t *testing.T, dbPath string, extra ...string) *wecomDesk {
	t.Helper()
	fake := wecomfake.Start(wecomfake.DemoOptions())
	t.Cleanup(fake.Close)
	// The public URL must be known before the desk starts: take a free port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := func(k string) string {
		if k == "SERVICEDESK_WECOM_SECRET" {
			return wecomfake.DemoSecret
		}
		return ""
	}
	args := append([]string{
		"--addr", addr, "--public-url", "http://" + addr, "--dev",
		"--wecom-corp-id", wecomfake.DemoCorpID, "--wecom-agent-id", fmt.Sprint(wecomfake.DemoAgentID),
		"--wecom-api-base", fake.URL, "--wecom-oauth-base", fake.URL, "--wecom-sso-base", fake.URL,
	}, extra...)
	a := startAppEnv(t, env, dbPath, args...)
	a.url = "http://" + addr
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &wecomDesk{app: a, fake: fake, client: client}
}

// get fetches u and returns the response, its Location and body.
func (d *wecomDesk) get(t *testing.T, u string) (*http.Response, string, string) {
	t.Helper()
	resp, err := d.client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	return resp, resp.Header.Get("Location"), body.String()
}

// signIn runs a sign-in from its start URL through the fake (which logs
// in as whoever SetAutoLogin named) and returns where the desk finally
// sends the browser.
func (d *wecomDesk) signIn(t *testing.T, start string) (status int, location, body string) {
	t.Helper()
	u := d.url + start
	for range 6 {
		resp, loc, body := d.get(t, u)
		if resp.StatusCode != http.StatusFound {
			return resp.StatusCode, "", body
		}
		if strings.HasPrefix(loc, "/h5/") || strings.HasPrefix(loc, "/agent/") {
			return resp.StatusCode, loc, body
		}
		next, err := resp.Request.URL.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		u = next.String()
	}
	t.Fatalf("sign-in from %s never ended", start)
	return 0, "", ""
}

// startState starts a sign-in and returns the state and redirect_uri the
// desk sent to WeCom, as a browser would carry them.
func (d *wecomDesk) startState(t *testing.T, start string) (state, redirect string) {
	t.Helper()
	resp, loc, _ := d.get(t, d.url+start)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("state"), u.Query().Get("redirect_uri")
}

// exchange trades a landing URL's ticket for its session.
func (d *wecomDesk) exchange(t *testing.T, landing string) (int, map[string]any) {
	t.Helper()
	u, err := url.Parse(landing)
	if err != nil {
		t.Fatal(err)
	}
	frag, _ := url.ParseQuery(u.Fragment)
	return d.post("/api/auth/ticket", "", map[string]string{"ticket": frag.Get("ticket")})
}

func TestWeComEmployeeSignIn(t *testing.T) {
	d := startWeComDesk(t, filepath.Join(t.TempDir(), "desk.db"))
	d.fake.SetAutoLogin("zhangsan")

	status, landing, body := d.signIn(t, "/auth/wecom/h5?next=/c/cv_0123456789abcdef")
	if status != http.StatusFound || !strings.HasPrefix(landing, "/h5/#") {
		t.Fatalf("sign-in ended %d at %q: %s", status, landing, body)
	}
	if !strings.Contains(landing, "next=%2Fc%2Fcv_0123456789abcdef") || strings.Contains(landing, "token") && !strings.Contains(landing, "ticket=") {
		t.Fatalf("landing %q lost the deep link or carries a token", landing)
	}
	code, sess := d.exchange(t, landing)
	if code != http.StatusOK || sess["role"] != "employee" || sess["id"] != "zhangsan" || sess["name"] != "张三" || sess["token"] == "" {
		t.Fatalf("exchange: %d %v", code, sess)
	}
	if code, _ := d.exchange(t, landing); code != http.StatusUnauthorized {
		t.Fatalf("a ticket worked twice: %d", code)
	}
	// Signing in again the same day: the profile read an hour ago serves.
	reads := d.fake.Calls("/cgi-bin/user/get")
	if status, again, body := d.signIn(t, "/auth/wecom/h5"); status != http.StatusFound {
		t.Fatalf("second sign-in ended %d at %q: %s", status, again, body)
	} else if code, s2 := d.exchange(t, again); code != http.StatusOK || s2["name"] != "张三" {
		t.Fatalf("second exchange: %d %v", code, s2)
	}
	if n := d.fake.Calls("/cgi-bin/user/get"); n != reads {
		t.Errorf("the second sign-in read the profile again (%d reads, was %d); at most daily", n, reads)
	}
	token := sess["token"].(string)
	// Exactly the token the mock login issues: it opens the socket and the API.
	ws := d.dial("/ws/h5/zhangsan", []string{"bearer." + token})
	pingPong(t, ws)
	status, conv := d.post("/api/h5/conversations", token, map[string]string{"subject": "VPN 连不上", "body": "在家连不上", "client_msg_id": "w1"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, conv)
	}
	// The profile from the directory is what agents see.
	agentTok, _ := d.loginAgent("demo", "demo")
	req, _ := http.NewRequest(http.MethodGet, d.url+"/api/agents/queue", nil)
	req.Header.Set("Authorization", "Bearer "+agentTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var queue struct {
		Conversations []struct {
			EmployeeName string `json:"employee_name"`
		} `json:"conversations"`
	}
	json.NewDecoder(resp.Body).Decode(&queue)
	resp.Body.Close()
	if len(queue.Conversations) != 1 || queue.Conversations[0].EmployeeName != "张三" {
		t.Errorf("queue %+v, want 张三's conversation", queue)
	}
	// And beside the conversation: who they are, from the directory.
	req, _ = http.NewRequest(http.MethodGet, d.url+"/api/employees/zhangsan", nil)
	req.Header.Set("Authorization", "Bearer "+agentTok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var emp struct {
		Name, Department, Position string
		Conversations              []map[string]any
	}
	json.NewDecoder(resp.Body).Decode(&emp)
	resp.Body.Close()
	if emp.Name != "张三" || emp.Department != "示例科技有限公司/市场中心/华东销售部" || emp.Position != "销售经理" || len(emp.Conversations) != 1 {
		t.Errorf("employee view %+v", emp)
	}
	for _, secret := range []string{token, wecomfake.DemoSecret} {
		if strings.Contains(d.stderr.String(), secret) {
			t.Fatal("a token or the WeCom secret reached the log")
		}
	}
	for _, tok := range d.fake.IssuedTokens() {
		if strings.Contains(d.stderr.String(), tok) {
			t.Fatal("a WeCom access token reached the log")
		}
	}
}

func TestWeComAgentSignIn(t *testing.T) {
	db := filepath.Join(t.TempDir(), "desk.db")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"agent", "add", "--db", db, "--username", "lisi", "--name", "李四", "--wecom-userid", "lisi"},
		noEnv, strings.NewReader("a-long-password\n"), &out, &out); err != nil {
		t.Fatalf("agent add: %v\n%s", err, out.String())
	}
	d := startWeComDesk(t, db)

	d.fake.SetAutoLogin("lisi")
	status, landing, body := d.signIn(t, "/auth/wecom/agent")
	if status != http.StatusFound || !strings.HasPrefix(landing, "/agent/#") {
		t.Fatalf("sign-in ended %d at %q: %s", status, landing, body)
	}
	code, sess := d.exchange(t, landing)
	if code != http.StatusOK || sess["role"] != "agent" || sess["name"] != "李四" {
		t.Fatalf("exchange: %d %v", code, sess)
	}
	ws := d.dial("/ws/"+sess["id"].(string), []string{"bearer." + sess["token"].(string)})
	pingPong(t, ws)

	// A member with no agent account is told so, and gets nothing.
	d.fake.SetAutoLogin("wangwu")
	if status, _, body := d.signIn(t, "/auth/wecom/agent"); status != http.StatusForbidden || !strings.Contains(body, "没有坐席权限") {
		t.Fatalf("unbound member: %d %s", status, body)
	}
}

// TestWeComAgentsFromADepartment: with --wecom-agent-department, members of
// the IT department get an agent account at their first sign-in.
func TestWeComAgentsFromADepartment(t *testing.T) {
	d := startWeComDesk(t, filepath.Join(t.TempDir(), "desk.db"), "--wecom-agent-department", "2")
	d.fake.SetAutoLogin("lisi") // 信息技术部 (2)
	status, landing, body := d.signIn(t, "/auth/wecom/agent")
	if status != http.StatusFound {
		t.Fatalf("IT member: %d %s", status, body)
	}
	if code, sess := d.exchange(t, landing); code != http.StatusOK || sess["name"] != "李四" {
		t.Fatalf("exchange: %d %v", code, sess)
	}
	d.fake.SetAutoLogin("wangwu") // 财务部
	if status, _, _ := d.signIn(t, "/auth/wecom/agent"); status != http.StatusForbidden {
		t.Fatalf("finance member became an agent: %d", status)
	}
}

// TestWeComBadInput: every way a callback can be wrong is a clear refusal
// with nothing stored and no token issued.
func TestWeComBadInput(t *testing.T) {
	d := startWeComDesk(t, filepath.Join(t.TempDir(), "desk.db"))
	callback := func(redirect string, q url.Values) (int, string, string) {
		u, err := url.Parse(redirect)
		if err != nil {
			t.Fatal(err)
		}
		v := u.Query()
		for k, vs := range q {
			v[k] = vs
		}
		u.RawQuery = v.Encode()
		resp, loc, body := d.get(t, u.String())
		return resp.StatusCode, loc, body
	}

	t.Run("forged state", func(t *testing.T) {
		_, redirect := d.startState(t, "/auth/wecom/h5")
		status, _, body := callback(redirect, url.Values{"state": {"FORGED0STATE"}, "code": {d.fake.IssueCode("zhangsan")}})
		if status != http.StatusBadRequest || !strings.Contains(body, "登录链接无效") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("replayed state", func(t *testing.T) {
		state, redirect := d.startState(t, "/auth/wecom/h5")
		if status, _, _ := callback(redirect, url.Values{"state": {state}, "code": {d.fake.IssueCode("zhangsan")}}); status != http.StatusFound {
			t.Fatalf("first use: %d", status)
		}
		if status, _, _ := callback(redirect, url.Values{"state": {state}, "code": {d.fake.IssueCode("zhangsan")}}); status != http.StatusBadRequest {
			t.Fatalf("replay: %d", status)
		}
	})
	t.Run("no code", func(t *testing.T) {
		state, redirect := d.startState(t, "/auth/wecom/h5")
		if status, _, body := callback(redirect, url.Values{"state": {state}}); status != http.StatusUnauthorized || !strings.Contains(body, "未完成企业微信授权") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("not a member", func(t *testing.T) {
		state, redirect := d.startState(t, "/auth/wecom/h5")
		status, _, body := callback(redirect, url.Values{"state": {state}, "code": {d.fake.IssueOutsiderCode("o_wechat_guest")}})
		if status != http.StatusForbidden || !strings.Contains(body, "仅限本企业成员") {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("a used code restarts the login once", func(t *testing.T) {
		code := d.fake.IssueCode("zhangsan")
		state, redirect := d.startState(t, "/auth/wecom/h5")
		if status, _, _ := callback(redirect, url.Values{"state": {state}, "code": {code}}); status != http.StatusFound {
			t.Fatalf("first use: %d", status)
		}
		state, redirect = d.startState(t, "/auth/wecom/h5")
		status, loc, _ := callback(redirect, url.Values{"state": {state}, "code": {code}})
		if status != http.StatusFound || !strings.HasPrefix(loc, d.fake.URL) || !strings.Contains(loc, "retried%3D1") {
			t.Fatalf("a used code: %d to %q, want one more trip to WeCom", status, loc)
		}
		// Coming back with a bad code again: no second loop.
		u, _ := url.Parse(loc)
		redirect = u.Query().Get("redirect_uri")
		status, _, body := callback(redirect, url.Values{"state": {u.Query().Get("state")}, "code": {code}})
		if status != http.StatusUnauthorized {
			t.Fatalf("second bad code: %d %s", status, body)
		}
	})
	t.Run("an open redirect is refused", func(t *testing.T) {
		_, loc, _ := d.get(t, d.url+"/auth/wecom/h5?next="+url.QueryEscape("//evil.example/x"))
		if strings.Contains(loc, "evil.example") {
			t.Fatalf("next to another host kept: %q", loc)
		}
	})
	t.Run("configuration error names the setting", func(t *testing.T) {
		state, redirect := d.startState(t, "/auth/wecom/h5")
		d.fake.FailNext("/cgi-bin/auth/getuserinfo", 60020, 1)
		status, _, body := callback(redirect, url.Values{"state": {state}, "code": {d.fake.IssueCode("zhangsan")}})
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "尚未配置好") {
			t.Fatalf("%d %s", status, body)
		}
		if !strings.Contains(d.stderr.String(), "WeCom sign-in misconfigured") || !strings.Contains(d.stderr.String(), "setting=") {
			t.Fatalf("no log line naming the setting:\n%s", d.stderr.String())
		}
	})
	t.Run("a ticket that does not exist", func(t *testing.T) {
		if code, _ := d.post("/api/auth/ticket", "", map[string]string{"ticket": "NOPE"}); code != http.StatusUnauthorized {
			t.Fatalf("%d", code)
		}
	})
}

// TestWeComUnreachableEmployee: a card WeCom refuses with 81013 (the
// member left, or is out of the app's range) stops cards to them, and the
// console says so beside their conversations.
func TestWeComUnreachableEmployee(t *testing.T) {
	d := startWeComDesk(t, filepath.Join(t.TempDir(), "desk.db"), "--wecom-notify-delay", "1s")
	d.fake.SetAutoLogin("zhangsan")
	_, landing, _ := d.signIn(t, "/auth/wecom/h5")
	code, sess := d.exchange(t, landing)
	if code != http.StatusOK {
		t.Fatalf("exchange: %d %v", code, sess)
	}
	status, conv := d.post("/api/h5/conversations", sess["token"].(string), map[string]string{"subject": "VPN", "body": "连不上", "client_msg_id": "u1"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, conv)
	}
	agentTok, _ := d.loginAgent("demo", "demo")
	id := conv["id"].(string)
	if status, m := d.post("/api/conversations/"+id+"/claim", agentTok, nil); status != http.StatusOK {
		t.Fatalf("claim: %d %v", status, m)
	}
	d.fake.FailNext("/cgi-bin/message/send", 81013, 1)
	if status, m := d.post("/api/conversations/"+id+"/messages", agentTok, map[string]string{"body": "请重启试试"}); status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("reply: %d %v", status, m)
	}
	deadline := time.Now().Add(20 * time.Second) // the card's 1 s delay and the sender's 5 s round
	for {
		req, _ := http.NewRequest(http.MethodGet, d.url+"/api/employees/zhangsan", nil)
		req.Header.Set("Authorization", "Bearer "+agentTok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Unreachable bool }
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v.Unreachable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the employee WeCom refused a card to (81013) is not shown as unreachable; cards %d; log:\n%s", d.fake.Calls("/cgi-bin/message/send"), d.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := d.fake.MessagesTo("zhangsan"); n != 0 {
		t.Errorf("zhangsan got %d cards although WeCom refused them", n)
	}
}

// TestWeComQueueCardWhenNobodyIsOnline: an employee asking while no agent
// is online is a card to the agents bound to WeCom.
func TestWeComQueueCardWhenNobodyIsOnline(t *testing.T) {
	db := filepath.Join(t.TempDir(), "desk.db")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"agent", "add", "--db", db, "--username", "lisi", "--name", "李四", "--wecom-userid", "lisi"},
		noEnv, strings.NewReader("a-long-password\n"), &out, &out); err != nil {
		t.Fatalf("agent add: %v\n%s", err, out.String())
	}
	d := startWeComDesk(t, db, "--wecom-notify-delay", "1s")
	token := d.employee("wangwu")
	if status, m := d.post("/api/h5/conversations", token, map[string]string{"subject": "打印机脱机", "body": "三楼", "client_msg_id": "q1"}); status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, m)
	}
	deadline := time.Now().Add(20 * time.Second) // the card's 1 s delay and the sender's 5 s round
	for d.fake.MessagesTo("lisi") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no card to the WeCom-bound agent for a conversation queued with nobody online; log:\n%s", d.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m := d.fake.Messages(); !strings.Contains(m[0].Description, "排队") {
		t.Errorf("the card: %+v", m[0])
	}
}
