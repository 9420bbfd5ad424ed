package wecom_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/servicedesk/servicedesk/internal/wecom"
	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretOrTokenReachesALogLineOrAnError drives every path that logs
// or fails (fetch, refetch on 42001, backoff, configuration errors, a dead
// host, code exchange, messages) with a debug-level logger, and searches
// the logs, every error string and every printed form of the Config for
// the secret and every token the fake issued.
func TestNoSecretOrTokenReachesALogLineOrAnError(t *testing.T) {
	s := startFake(t)
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := demoConfig(s.URL)
	cfg.Logger = log
	c := newClient(t, cfg)
	ctx := t.Context()
	var errs []error
	keep := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	keep(c.User(ctx, "lisi"))
	s.ExpireTokens()
	keep(c.User(ctx, "lisi"))
	s.FailNext(pathUser, 42001, 2)
	keep(c.User(ctx, "lisi"))
	s.FailNext(pathSend, 45033, 1)
	keep(c.SendTextCard(ctx, card("lisi", "x")))
	s.FailNext(pathUser, 60020, 1)
	keep(c.User(ctx, "lisi"))
	keep(c.UserID(ctx, s.IssueCode("lisi")))
	code := s.IssueCode("wangwu")
	keep(c.UserID(ctx, code))
	keep(c.UserID(ctx, code))
	keep(c.SendTextCard(ctx, card("sunqi", "x")))
	s.SetDown(true)
	s.ExpireTokens()
	keep(c.User(ctx, "lisi"))
	s.SetDown(false)

	wrong := demoConfig(s.URL)
	wrong.Secret = "a-wrong-secret-that-must-not-leak"
	wrong.Logger = log
	keep(newClient(t, wrong).User(ctx, "lisi"))

	// Nothing listens on port 1: the transport error quotes the request URL,
	// corpsecret and all, unless the client strips it.
	dead := demoConfig("http://127.0.0.1:1")
	dead.Logger = log
	keep(newClient(t, dead).User(ctx, "lisi"))

	if len(errs) < 6 {
		t.Fatalf("only %d errors: the scenario did not run", len(errs))
	}
	secrets := append(s.IssuedTokens(), wecomfake.DemoSecret, string(wrong.Secret))
	if len(secrets) < 4 {
		t.Fatalf("only %d tokens issued", len(secrets)-2)
	}
	printed := []string{
		fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.Secret, cfg.Secret, cfg.Secret),
		fmt.Sprint(cfg.Secret),
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", cfg, "secret", cfg.Secret)
	printed = append(printed, buf.String())
	if j, err := json.Marshal(struct{ S wecom.Secret }{cfg.Secret}); err == nil {
		printed = append(printed, string(j))
	}
	for _, err := range errs {
		printed = append(printed, err.Error(), fmt.Sprintf("%+v %#v", err, err))
	}
	all := logs.String()
	if !strings.Contains(all, "wecom access token fetched") || !strings.Contains(all, "企业可信IP") {
		t.Fatalf("the expected log lines are missing:\n%s", all)
	}
	for _, sec := range secrets {
		if strings.Contains(all, sec) {
			t.Errorf("a log line carries %q:\n%s", sec, all)
		}
		for _, p := range printed {
			if strings.Contains(p, sec) {
				t.Errorf("%q leaks in %q", sec, p)
			}
		}
	}
	for _, word := range []string{"access_token=", "corpsecret"} {
		if strings.Contains(all, word) {
			t.Errorf("a log line carries a query with %q", word)
		}
	}
}
