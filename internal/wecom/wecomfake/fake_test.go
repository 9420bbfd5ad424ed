package wecomfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/wecom"
	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

func get(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestShapes checks the fake answers with WeCom's field names.
func TestShapes(t *testing.T) {
	s := wecomfake.Start(wecomfake.DemoOptions())
	defer s.Close()
	tok := get(t, s.URL+"/cgi-bin/gettoken?corpid="+wecomfake.DemoCorpID+"&corpsecret="+wecomfake.DemoSecret)
	if tok["errcode"] != 0.0 || tok["errmsg"] != "ok" || tok["expires_in"] != 7200.0 || tok["access_token"] == "" {
		t.Fatalf("gettoken = %v", tok)
	}
	at := tok["access_token"].(string)
	u := get(t, s.URL+"/cgi-bin/user/get?access_token="+at+"&userid=zhangsan")
	for _, k := range []string{"errcode", "errmsg", "userid", "name", "department", "main_department", "position", "status"} {
		if _, ok := u[k]; !ok {
			t.Errorf("user/get lacks %q: %v", k, u)
		}
	}
	if _, ok := u["mobile"]; ok {
		t.Error("user/get returns mobile, which self-built apps no longer receive")
	}
	d := get(t, s.URL+"/cgi-bin/department/get?access_token="+at+"&id=5")
	dept, _ := d["department"].(map[string]any)
	if dept["name"] != "华东销售部" || dept["parentid"] != 4.0 {
		t.Fatalf("department/get = %v", d)
	}
	info := get(t, s.URL+"/cgi-bin/auth/getuserinfo?access_token="+at+"&code="+s.IssueOutsiderCode("o1"))
	if info["openid"] != "o1" || info["external_userid"] == nil || info["userid"] != nil {
		t.Fatalf("getuserinfo for an outsider = %v", info)
	}
	for url, want := range map[string]float64{
		"/cgi-bin/user/get?userid=lisi":                            41001,
		"/cgi-bin/user/get?access_token=nope&userid=lisi":          40014,
		"/cgi-bin/gettoken?corpid=" + wecomfake.DemoCorpID:         40001,
		"/cgi-bin/gettoken?corpid=x&corpsecret=y":                  40013,
		"/cgi-bin/auth/getuserinfo?access_token=" + at + "&code=x": 40029,
	} {
		if m := get(t, s.URL+url); m["errcode"] != want || !strings.Contains(m["errmsg"].(string), "more info at") {
			t.Errorf("%s = %v, want errcode %v", url, m, want)
		}
	}
}

func TestMessagesBeyondThirtyPerMinuteAreDroppedSilently(t *testing.T) {
	s := wecomfake.Start(wecomfake.DemoOptions())
	defer s.Close()
	c, err := wecom.New(wecom.Config{CorpID: wecomfake.DemoCorpID, AgentID: wecomfake.DemoAgentID, Secret: wecomfake.DemoSecret, APIBase: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	for i := range wecomfake.MessagesPerMinute + 1 {
		card := wecom.TextCard{ToUser: "lisi", Title: "新排队", Description: strings.Repeat("x", i+1), URL: "https://desk.example/console/"}
		if _, err := c.SendTextCard(t.Context(), card); err != nil {
			t.Fatal(err)
		}
	}
	if n, d := s.MessagesTo("lisi"), s.Dropped("lisi"); n != 30 || d != 1 {
		t.Fatalf("delivered %d, dropped %d; want 30 and 1", n, d)
	}
}

func TestRunServesTheDemoCorpUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncWriter{}
	done := make(chan error, 1)
	go func() { done <- wecomfake.Run(ctx, "127.0.0.1:0", out, nil) }()
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if line, _, ok := strings.Cut(out.String(), "\n"); ok {
			base = strings.TrimPrefix(line, "fake WeCom on ")
		}
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("Run printed %q", out.String())
	}
	for _, want := range []string{"--wecom-corp-id " + wecomfake.DemoCorpID, "--wecom-api-base " + base, "SERVICEDESK_WECOM_SECRET=", "zhangsan(张三)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Run's output lacks %q:\n%s", want, out.String())
		}
	}
	if m := get(t, base+"/cgi-bin/gettoken?corpid="+wecomfake.DemoCorpID+"&corpsecret="+wecomfake.DemoSecret); m["errcode"] != 0.0 {
		t.Fatalf("gettoken on the demo = %v", m)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

var _ io.Writer = (*syncWriter)(nil)
