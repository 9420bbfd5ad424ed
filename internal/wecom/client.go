package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// maxResponseBytes bounds a WeCom answer; the largest we read, a member, is
// a few KiB.
const maxResponseBytes = 1 << 20

// Client calls WeCom for one self-built app. It is safe for concurrent use.
type Client struct {
	cfg    Config
	log    *slog.Logger
	tokens *tokenSource
	depts  *deptCache
}

// New returns a client for cfg. It does not call WeCom.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	for _, b := range []*string{&cfg.APIBase, &cfg.OAuthBase, &cfg.SSOBase} {
		*b = strings.TrimRight(*b, "/")
		if u, err := url.Parse(*b); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, desk.Errorf(desk.EInvalid, "wecom: base URL %q is not an absolute URL", *b)
		}
	}
	c := &Client{cfg: cfg, log: cfg.Logger}
	c.tokens = newTokenSource(c)
	c.depts = newDeptCache(cfg.DepartmentTTL, cfg.Now)
	return c, nil
}

// Check fetches an access token if none is cached, proving the corp id,
// secret and trusted IPs are right: a *ConfigError names what is not. Meant
// for start-up and readiness, never to hand the token out.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.tokens.get(ctx)
	return err
}

// status is the envelope of every WeCom answer.
type status struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// call performs an API call with the app's access token. A token WeCom
// rejects (40014, 42001) is invalidated and the call made once more with a
// fresh one; a second rejection is an error, never a loop.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body any, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return desk.Wrap(desk.EInternal, err, "encode WeCom request")
		}
	}
	for refetched := false; ; refetched = true {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("access_token", tok)
		err = c.do(ctx, method, path, q, payload, out)
		if !refetched && errors.Is(err, ErrTokenRejected) {
			c.log.InfoContext(ctx, "wecom access token rejected, refetching", "path", path)
			c.tokens.invalidate(ctx, tok)
			continue
		}
		return err
	}
}

// do performs one API call, retrying -1, 45009, 45033 and failed round
// trips with jittered exponential backoff, within MaxAttempts and
// RetryBudget. It returns the desk's error for anything else non-zero.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, payload []byte, out any) error {
	var slept time.Duration
	for attempt := 1; ; attempt++ {
		ae, err := c.roundTrip(ctx, method, path, query, payload, out)
		if err == nil && ae == nil {
			return nil
		}
		// A failed round trip is worth another try; a request we could not
		// build or an answer we could not decode is not.
		transient := (err != nil && desk.ErrorCode(err) == desk.EUnavailable) || (ae != nil && retryable(ae.Code))
		if !transient || attempt >= c.cfg.MaxAttempts || ctx.Err() != nil {
			if err != nil {
				return err
			}
			if s, ok := configSettings[ae.Code]; ok {
				c.log.ErrorContext(ctx, "wecom configuration error", "path", path, "errcode", ae.Code, "setting", s[0], "fix", s[1], "errmsg", ae.Msg)
			}
			return classify(ae)
		}
		step := c.cfg.RetryBase << (attempt - 1)
		wait := step/2 + rand.N(step/2+1)
		if slept+wait > c.cfg.RetryBudget {
			wait = c.cfg.RetryBudget - slept
			if wait <= 0 {
				if err != nil {
					return err
				}
				return classify(ae)
			}
		}
		code := 0
		if ae != nil {
			code = ae.Code
		}
		c.log.WarnContext(ctx, "wecom call failed, backing off", "path", path, "errcode", code, "attempt", attempt, "wait", wait, "error", errString(err))
		if err := sleep(ctx, wait); err != nil {
			return desk.Wrap(desk.EUnavailable, err, "WeCom is unreachable")
		}
		slept += wait
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// roundTrip makes one HTTP request. A non-zero errcode comes back as an
// *APIError; a failed round trip (no answer, not 200, not JSON) as a desk
// EUnavailable error whose text carries neither the URL nor its query,
// where the token or the secret would be.
func (c *Client) roundTrip(ctx context.Context, method, path string, query url.Values, payload []byte, out any) (*APIError, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	u := c.cfg.APIBase + path + "?" + query.Encode()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, desk.Wrap(desk.EInternal, stripURL(err), "build WeCom request")
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, desk.Wrap(desk.EUnavailable, fmt.Errorf("wecom %s: %w", path, stripURL(err)), "WeCom is unreachable")
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, desk.Wrap(desk.EUnavailable, fmt.Errorf("wecom %s: read answer: %w", path, stripURL(err)), "WeCom is unreachable")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, desk.Wrap(desk.EUnavailable, fmt.Errorf("wecom %s: HTTP %d", path, resp.StatusCode), "WeCom is unreachable")
	}
	var st status
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, desk.Wrap(desk.EUnavailable, fmt.Errorf("wecom %s: answer is not JSON", path), "WeCom answered with something unexpected")
	}
	if st.ErrCode != 0 {
		msg := st.ErrMsg
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return &APIError{Path: path, Code: st.ErrCode, Msg: msg}, nil
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, desk.Wrap(desk.EInternal, fmt.Errorf("wecom %s: decode answer: %w", path, err), "WeCom answered with something unexpected")
		}
	}
	return nil, nil
}

// stripURL drops the URL from a *url.Error: its text quotes the full
// request URL, access_token and corpsecret included.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
