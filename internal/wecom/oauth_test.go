package wecom_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wecom"
)

func TestLoginURLs(t *testing.T) {
	c := newClient(t, wecom.Config{CorpID: "ww1234567890abcdef", AgentID: 1000002, Secret: "s"})
	redirect := "https://desk.example/h5/auth/callback?next=/h5/c/42"
	got := c.AuthorizeURL(redirect, "STATE2")
	want := "https://open.weixin.qq.com/connect/oauth2/authorize?appid=ww1234567890abcdef" +
		"&redirect_uri=https%3A%2F%2Fdesk.example%2Fh5%2Fauth%2Fcallback%3Fnext%3D%2Fh5%2Fc%2F42" +
		"&response_type=code&scope=snsapi_base&state=STATE2&agentid=1000002#wechat_redirect"
	if got != want {
		t.Fatalf("AuthorizeURL\n got %s\nwant %s", got, want)
	}
	got = c.SSOLoginURL("https://desk.example/console/auth/callback", "STATE3")
	want = "https://login.work.weixin.qq.com/wwlogin/sso/login?login_type=CorpApp&appid=ww1234567890abcdef&agentid=1000002" +
		"&redirect_uri=https%3A%2F%2Fdesk.example%2Fconsole%2Fauth%2Fcallback&state=STATE3"
	if got != want {
		t.Fatalf("SSOLoginURL\n got %s\nwant %s", got, want)
	}
}

func TestCodeExchange(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	ctx := t.Context()

	code := s.IssueCode("zhangsan")
	if id, err := c.UserID(ctx, code); err != nil || id != "zhangsan" {
		t.Fatalf("UserID = %q, %v", id, err)
	}
	t.Run("reused code", func(t *testing.T) {
		_, err := c.UserID(ctx, code)
		if !errors.Is(err, wecom.ErrCodeInvalid) || desk.ErrorCode(err) != desk.EUnauthorized {
			t.Fatalf("second exchange = %v, want ErrCodeInvalid", err)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		old := s.IssueCode("zhangsan")
		s.ExpireCodes()
		if _, err := c.UserID(ctx, old); !errors.Is(err, wecom.ErrCodeInvalid) {
			t.Fatalf("exchange after 5 minutes = %v, want ErrCodeInvalid", err)
		}
	})
	t.Run("made-up code", func(t *testing.T) {
		if _, err := c.UserID(ctx, "not-a-code"); !errors.Is(err, wecom.ErrCodeInvalid) {
			t.Fatalf("exchange = %v, want ErrCodeInvalid", err)
		}
	})
	t.Run("non-member", func(t *testing.T) {
		_, err := c.UserID(ctx, s.IssueOutsiderCode("o_guest"))
		if !errors.Is(err, wecom.ErrNotMember) || desk.ErrorCode(err) != desk.EForbidden {
			t.Fatalf("outsider = %v, want ErrNotMember (forbidden)", err)
		}
		if errors.Is(err, wecom.ErrCodeInvalid) {
			t.Fatal("a non-member must not look like a bad code: the caller would retry")
		}
	})
	t.Run("legacy UserId field", func(t *testing.T) {
		s.SetLegacyUserIDField(true)
		defer s.SetLegacyUserIDField(false)
		if id, err := c.UserID(ctx, s.IssueCode("wangwu")); err != nil || id != "wangwu" {
			t.Fatalf("UserID with UserId = %q, %v", id, err)
		}
	})
	t.Run("no code", func(t *testing.T) {
		before := s.Calls(pathInfo)
		for _, bad := range []string{"", strings.Repeat("x", 513)} {
			if _, err := c.UserID(ctx, bad); desk.ErrorCode(err) != desk.EInvalid {
				t.Fatalf("UserID(%d bytes) = %v, want invalid", len(bad), err)
			}
		}
		if s.Calls(pathInfo) != before {
			t.Fatal("a missing code reached WeCom")
		}
	})
}

var hrefOf = regexp.MustCompile(`href="([^"]+)" data-userid="zhangsan"`)

// TestLoginPagesRedirectBackWithCodeAndState walks both login pages of the
// fake as a browser would: open the URL the client built, pick a member,
// follow the redirect back to the desk with code and state.
func TestLoginPagesRedirectBackWithCodeAndState(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	browser := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	redirect := "https://desk.example/h5/auth/callback?next=%2Fh5%2Fc%2F42"
	for name, start := range map[string]string{
		"oauth": c.AuthorizeURL(redirect, "STATEXYZ"),
		"sso":   c.SSOLoginURL(redirect, "STATEXYZ"),
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := browser.Get(start)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := hrefOf.FindSubmatch(page)
			if resp.StatusCode != 200 || m == nil || !strings.Contains(string(page), "张三") {
				t.Fatalf("login page %d:\n%s", resp.StatusCode, page)
			}
			resp, err = browser.Get(s.URL + strings.ReplaceAll(string(m[1]), "&amp;", "&"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || err != nil {
				t.Fatalf("pick = %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			q := loc.Query()
			if loc.Host != "desk.example" || loc.Path != "/h5/auth/callback" || q.Get("next") != "/h5/c/42" || q.Get("state") != "STATEXYZ" {
				t.Fatalf("redirected to %s", loc)
			}
			if id, err := c.UserID(t.Context(), q.Get("code")); err != nil || id != "zhangsan" {
				t.Fatalf("exchange the page's code = %q, %v", id, err)
			}
		})
	}
	t.Run("untrusted redirect domain", func(t *testing.T) {
		s.SetTrustedDomain("desk.example")
		defer s.SetTrustedDomain("")
		resp, err := browser.Get(c.AuthorizeURL("https://evil.example/cb", "S"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("authorize to an untrusted domain = %d, want 400", resp.StatusCode)
		}
	})
}

func TestUserAndDepartments(t *testing.T) {
	s := startFake(t)
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	cfg := demoConfig(s.URL)
	cfg.Now = func() time.Time { return now }
	c := newClient(t, cfg)
	ctx := t.Context()

	u, err := c.User(ctx, "zhaoliu")
	if err != nil {
		t.Fatal(err)
	}
	if u.UserID != "zhaoliu" || u.Name != "赵六" || u.Position != "销售助理" || u.MainDepartment != 5 ||
		len(u.Department) != 2 || u.Status != wecom.MemberActive {
		t.Fatalf("User = %+v", u)
	}
	path, err := c.DepartmentPath(ctx, u.MainDepartment)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range path {
		names = append(names, d.Name)
	}
	if strings.Join(names, " / ") != "示例科技有限公司 / 市场中心 / 华东销售部" {
		t.Fatalf("DepartmentPath = %v", names)
	}
	calls := s.Calls(pathDept)
	if _, err := c.DepartmentPath(ctx, 5); err != nil || s.Calls(pathDept) != calls {
		t.Fatalf("a second look-up called WeCom (%d → %d): %v", calls, s.Calls(pathDept), err)
	}
	now = now.Add(wecom.DefaultDepartmentTTL + time.Second)
	if _, err := c.Department(ctx, 5); err != nil || s.Calls(pathDept) != calls+1 {
		t.Fatalf("after the TTL the department was not fetched again: %v", err)
	}
	if _, err := c.User(ctx, "nobody"); desk.ErrorCode(err) != desk.ENotFound {
		t.Fatalf("User(nobody) = %v", err)
	}
	if _, err := c.Department(ctx, 6); err == nil {
		t.Fatal("a department outside the visible range was returned")
	}
}

func TestAutoLoginRedirectsAtOnce(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	s.SetAutoLogin("wangwu")
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(c.SSOLoginURL("http://127.0.0.1:8000/console/auth/callback", "S1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "S1" {
		t.Fatalf("auto login = %d %s", resp.StatusCode, loc)
	}
	if id, err := c.UserID(t.Context(), loc.Query().Get("code")); err != nil || id != "wangwu" {
		t.Fatalf("UserID = %q, %v", id, err)
	}
}
