package wecom_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wecom"
	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

const (
	pathUser = "/cgi-bin/user/get"
	pathSend = "/cgi-bin/message/send"
	pathInfo = "/cgi-bin/auth/getuserinfo"
	pathDept = "/cgi-bin/department/get"
	pathTok  = "/cgi-bin/gettoken"
)

// startFake serves the demo corp on a loopback port for the test.
func startFake(t *testing.T) *wecomfake.Server {
	t.Helper()
	s := wecomfake.Start(wecomfake.DemoOptions())
	t.Cleanup(s.Close)
	return s
}

// demoConfig points a client at base with the demo app and short backoff
// so real-time tests stay fast.
func demoConfig(base string) wecom.Config {
	return wecom.Config{
		CorpID: wecomfake.DemoCorpID, AgentID: wecomfake.DemoAgentID, Secret: wecomfake.DemoSecret,
		APIBase: base, OAuthBase: base, SSOBase: base,
		RetryBase: time.Millisecond, RetryBudget: 50 * time.Millisecond,
	}
}

func newClient(t testing.TB, cfg wecom.Config) *wecom.Client {
	t.Helper()
	c, err := wecom.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// inBubble returns a fake and a client that reaches it without a network,
// for tests inside synctest.Test, with the client's default timings.
func inBubble(t *testing.T) (*wecomfake.Fake, *wecom.Client) {
	f := wecomfake.New(wecomfake.DemoOptions())
	cfg := demoConfig("http://wecom.fake")
	cfg.RetryBase, cfg.RetryBudget = 0, 0
	cfg.HTTPClient = &http.Client{Transport: f.Transport()}
	return f, newClient(t, cfg)
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	for name, cfg := range map[string]wecom.Config{
		"no corp id":  {AgentID: 1, Secret: "s"},
		"no agent id": {CorpID: "c", Secret: "s"},
		"no secret":   {CorpID: "c", AgentID: 1},
		"bad base":    {CorpID: "c", AgentID: 1, Secret: "s", APIBase: "qyapi.weixin.qq.com"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := wecom.New(cfg); desk.ErrorCode(err) != desk.EInvalid {
				t.Fatalf("New = %v, want an invalid error", err)
			}
		})
	}
}

func TestTokenIsCached(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	for range 3 {
		if _, err := c.User(t.Context(), "zhangsan"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.TokenCalls(); n != 1 {
		t.Fatalf("gettoken called %d times for 3 calls, want 1", n)
	}
}

func TestOneRefreshForFiftyConcurrentCallers(t *testing.T) {
	s := startFake(t)
	s.SetLatency(20 * time.Millisecond) // keep the refresh in flight while callers pile up
	c := newClient(t, demoConfig(s.URL))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			if _, err := c.User(t.Context(), "zhangsan"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.TokenCalls(); n != 1 {
		t.Fatalf("gettoken called %d times by 50 concurrent callers, want 1", n)
	}
}

func TestTokenRefetchedOnceWhenRejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reject func(*wecomfake.Server)
	}{
		{"expired mid-run (42001)", func(s *wecomfake.Server) { s.ExpireTokens() }},
		{"invalid (40014)", func(s *wecomfake.Server) { s.FailNext(pathUser, 40014, 1) }},
		{"expired (42001) injected", func(s *wecomfake.Server) { s.FailNext(pathUser, 42001, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startFake(t)
			c := newClient(t, demoConfig(s.URL))
			if _, err := c.User(t.Context(), "zhangsan"); err != nil {
				t.Fatal(err)
			}
			tc.reject(s)
			u, err := c.User(t.Context(), "zhangsan")
			if err != nil || u.Name != "张三" {
				t.Fatalf("User after the token was rejected = %+v, %v", u, err)
			}
			if n := s.TokenCalls(); n != 2 {
				t.Fatalf("gettoken called %d times, want 2 (one refetch)", n)
			}
			if n := s.Calls(pathUser); n != 3 {
				t.Fatalf("user/get called %d times, want 3 (ok, rejected, retried)", n)
			}
		})
	}
}

func TestTokenRejectedTwiceIsAnErrorNotALoop(t *testing.T) {
	s := startFake(t)
	c := newClient(t, demoConfig(s.URL))
	s.FailNext(pathUser, 42001, 10)
	_, err := c.User(t.Context(), "zhangsan")
	if !errors.Is(err, wecom.ErrTokenRejected) || desk.ErrorCode(err) != desk.EUnavailable {
		t.Fatalf("User = %v, want ErrTokenRejected as unavailable", err)
	}
	if tok, calls := s.TokenCalls(), s.Calls(pathUser); tok != 2 || calls != 2 {
		t.Fatalf("gettoken %d, user/get %d times; want 2 and 2", tok, calls)
	}
}

func TestTokenRenewedShortlyBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, c := inBubble(t)
		ctx := t.Context()
		if _, err := c.User(ctx, "lisi"); err != nil {
			t.Fatal(err)
		}
		// expires_in is 7,200 s and the margin 5 minutes.
		time.Sleep(7200*time.Second - wecom.DefaultTokenMargin - time.Second)
		if _, err := c.User(ctx, "lisi"); err != nil {
			t.Fatal(err)
		}
		if n := f.TokenCalls(); n != 1 {
			t.Fatalf("gettoken called %d times within the token's life, want 1", n)
		}
		time.Sleep(2 * time.Second)
		if _, err := c.User(ctx, "lisi"); err != nil {
			t.Fatal(err)
		}
		if n := f.TokenCalls(); n != 2 {
			t.Fatalf("gettoken called %d times after the margin, want 2", n)
		}
		if n := f.Calls(pathUser); n != 3 {
			t.Fatalf("user/get called %d times, want 3: no call ever used an expired token", n)
		}
	})
}

func TestBackoffOnBusyAndRateLimitsIsBoundedAndJittered(t *testing.T) {
	for _, tc := range []struct {
		errcode  int
		path     string
		wantCode string
		wantIs   error
	}{
		{-1, pathUser, desk.EUnavailable, nil},
		{45009, pathUser, desk.ERateLimited, wecom.ErrRateLimited},
		{45033, pathSend, desk.ERateLimited, wecom.ErrRateLimited},
		{-1, pathTok, desk.EUnavailable, nil},
	} {
		t.Run(tc.path+"/"+strconv.Itoa(tc.errcode), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, c := inBubble(t)
				call := func() error {
					if tc.path == pathSend {
						_, err := c.SendTextCard(t.Context(), card("lisi", time.Now().String()))
						return err
					}
					_, err := c.User(t.Context(), "lisi")
					return err
				}
				// Transient: two failures, then success.
				f.FailNext(tc.path, tc.errcode, 2)
				start := time.Now()
				if err := call(); err != nil {
					t.Fatalf("after two %d answers: %v", tc.errcode, err)
				}
				// Steps of 250 and 500 ms, each at least half random.
				if d := time.Since(start); d < 375*time.Millisecond || d > 750*time.Millisecond {
					t.Fatalf("two backoffs took %v, want 375–750ms", d)
				}
				// Persistent: gives up after three attempts, within the budget.
				before := f.Calls(tc.path)
				f.FailNext(tc.path, tc.errcode, 100)
				if tc.path == pathTok {
					f.ExpireTokens()
				}
				start = time.Now()
				err := call()
				if desk.ErrorCode(err) != tc.wantCode || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
					t.Fatalf("persistent %d: %v, want %s", tc.errcode, err, tc.wantCode)
				}
				if d := time.Since(start); d > wecom.DefaultRetryBudget {
					t.Fatalf("gave up after %v, beyond the %v budget", d, wecom.DefaultRetryBudget)
				}
				if n := f.Calls(tc.path) - before; n != wecom.DefaultMaxAttempts {
					t.Fatalf("%d attempts, want %d", n, wecom.DefaultMaxAttempts)
				}
			})
		})
	}
	t.Run("jitter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f, c := inBubble(t)
			if _, err := c.User(t.Context(), "lisi"); err != nil {
				t.Fatal(err)
			}
			seen := map[time.Duration]bool{}
			for range 8 {
				f.FailNext(pathUser, -1, 1)
				start := time.Now()
				if _, err := c.User(t.Context(), "lisi"); err != nil {
					t.Fatal(err)
				}
				d := time.Since(start)
				if d < wecom.DefaultRetryBase/2 || d > wecom.DefaultRetryBase {
					t.Fatalf("one backoff took %v, want within [%v, %v]", d, wecom.DefaultRetryBase/2, wecom.DefaultRetryBase)
				}
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Fatalf("8 backoffs all waited the same %v: no jitter", seen)
			}
		})
	})
}

func TestDownAndSlowAPIAreUnavailable(t *testing.T) {
	t.Run("down", func(t *testing.T) {
		s := startFake(t)
		c := newClient(t, demoConfig(s.URL))
		s.SetDown(true)
		_, err := c.User(t.Context(), "lisi")
		if desk.ErrorCode(err) != desk.EUnavailable {
			t.Fatalf("User with WeCom down = %v, want unavailable", err)
		}
		if n := s.TokenCalls(); n != wecom.DefaultMaxAttempts {
			t.Fatalf("gettoken tried %d times, want %d", n, wecom.DefaultMaxAttempts)
		}
		s.SetDown(false)
		if _, err := c.User(t.Context(), "lisi"); err != nil {
			t.Fatalf("User once WeCom is back: %v", err)
		}
	})
	t.Run("slow", func(t *testing.T) {
		s := startFake(t)
		cfg := demoConfig(s.URL)
		cfg.RequestTimeout, cfg.MaxAttempts = 50*time.Millisecond, 1
		c := newClient(t, cfg)
		s.SetLatency(2 * time.Second)
		start := time.Now()
		_, err := c.User(t.Context(), "lisi")
		if desk.ErrorCode(err) != desk.EUnavailable {
			t.Fatalf("User with a slow WeCom = %v, want unavailable", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("waited %v for a slow WeCom with a 50ms timeout", d)
		}
	})
	t.Run("caller gives up while a refresh is in flight", func(t *testing.T) {
		s := startFake(t)
		c := newClient(t, demoConfig(s.URL))
		s.SetLatency(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := c.User(ctx, "lisi"); desk.ErrorCode(err) != desk.EUnavailable {
			t.Fatalf("User = %v, want unavailable when the caller's context ends", err)
		}
	})
}

func TestConfigurationErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		errcode int
		setup   func(*wecomfake.Server, *wecom.Config)
		call    func(context.Context, *wecom.Client, *wecomfake.Server) error
		setting string
	}{
		{"wrong secret", 40001,
			func(_ *wecomfake.Server, cfg *wecom.Config) { cfg.Secret = "not-the-secret" },
			func(ctx context.Context, c *wecom.Client, _ *wecomfake.Server) error {
				_, err := c.User(ctx, "lisi")
				return err
			},
			"SERVICEDESK_WECOM_SECRET"},
		{"wrong corp id", 40013,
			func(_ *wecomfake.Server, cfg *wecom.Config) { cfg.CorpID = "wwsomeoneelse" },
			func(ctx context.Context, c *wecom.Client, _ *wecomfake.Server) error {
				_, err := c.User(ctx, "lisi")
				return err
			},
			"--wecom-corp-id"},
		{"redirect domain not trusted", 50001,
			func(s *wecomfake.Server, _ *wecom.Config) { s.FailNext(pathInfo, 50001, 1) },
			func(ctx context.Context, c *wecom.Client, s *wecomfake.Server) error {
				_, err := c.UserID(ctx, s.IssueCode("lisi"))
				return err
			},
			"可信域名"},
		{"IP not trusted", 60020,
			func(s *wecomfake.Server, _ *wecom.Config) { s.FailNext(pathTok, 60020, 1) },
			func(ctx context.Context, c *wecom.Client, _ *wecomfake.Server) error {
				_, err := c.User(ctx, "lisi")
				return err
			},
			"企业可信IP"},
		{"API forbidden", 48002,
			func(s *wecomfake.Server, _ *wecom.Config) { s.FailNext(pathSend, 48002, 1) },
			func(ctx context.Context, c *wecom.Client, _ *wecomfake.Server) error {
				_, err := c.SendTextCard(ctx, card("lisi", "x"))
				return err
			},
			"API permissions"},
		{"member outside the visible range", 60011,
			func(*wecomfake.Server, *wecom.Config) {},
			func(ctx context.Context, c *wecom.Client, _ *wecomfake.Server) error {
				_, err := c.User(ctx, "sunqi")
				return err
			},
			"可见范围"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startFake(t)
			cfg := demoConfig(s.URL)
			tc.setup(s, &cfg)
			c := newClient(t, cfg)
			err := tc.call(t.Context(), c, s)
			ce, ok := wecom.AsConfigError(err)
			if !ok {
				t.Fatalf("error = %v, want a *ConfigError", err)
			}
			if ce.Code != tc.errcode || !strings.Contains(ce.Setting, tc.setting) || ce.Fix == "" || !strings.Contains(err.Error(), tc.setting) {
				t.Fatalf("ConfigError %+v, want errcode %d naming %q", ce, tc.errcode, tc.setting)
			}
			if desk.ErrorCode(err) != desk.EUnavailable || strings.Contains(desk.ErrorMessage(err), "errcode") {
				t.Fatalf("user sees %s %q; want unavailable and a plain message", desk.ErrorCode(err), desk.ErrorMessage(err))
			}
			if n := s.TokenCalls() + s.Calls(pathUser) + s.Calls(pathSend) + s.Calls(pathInfo); n > 2 {
				t.Fatalf("%d calls: a configuration error must not be retried", n)
			}
		})
	}
}

func TestCheckProvesTheConfiguration(t *testing.T) {
	s := startFake(t)
	if err := newClient(t, demoConfig(s.URL)).Check(t.Context()); err != nil {
		t.Fatalf("Check = %v", err)
	}
	s.FailNext(pathTok, 60020, 1)
	cfg := demoConfig(s.URL)
	if _, ok := wecom.AsConfigError(newClient(t, cfg).Check(t.Context())); !ok {
		t.Fatal("Check from an untrusted IP is not a configuration error")
	}
}

func TestDepartmentPathStopsAtTheVisibleRange(t *testing.T) {
	opts := wecomfake.DemoOptions()
	opts.Departments[0].Hidden = true // the app sees 市场中心 and below, not the company
	s := wecomfake.Start(opts)
	t.Cleanup(s.Close)
	c := newClient(t, demoConfig(s.URL))
	path, err := c.DepartmentPath(t.Context(), 5)
	if err != nil || len(path) != 2 || path[0].Name != "市场中心" || path[1].Name != "华东销售部" {
		t.Fatalf("DepartmentPath = %+v, %v", path, err)
	}
}
