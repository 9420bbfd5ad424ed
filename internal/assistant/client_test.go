package assistant

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/assistant/assistantfake"
)

const testKey = "sk-test0123456789abcdefSECRETSECRET"

// Long enough that a loaded 2-core machine never trips them on a healthy
// local stream; the failure tests shorten only the one they exercise.
const (
	relaxed = 20 * time.Second
	short   = 200 * time.Millisecond
)

func newFake(t *testing.T) *assistantfake.Server {
	t.Helper()
	f := assistantfake.New(testKey)
	t.Cleanup(f.Close)
	return f
}

func newClient(t *testing.T, f *assistantfake.Server, mod func(*Config)) *Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := Config{
		BaseURL:          f.BaseURL(),
		Model:            "qwen-plus",
		APIKey:           testKey,
		HTTPClient:       &http.Client{Transport: tr},
		FirstByteTimeout: relaxed,
		IdleTimeout:      relaxed,
		TotalTimeout:     relaxed,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var hello = []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "VPN 连不上"}}

func TestStreamDeltasInOrder(t *testing.T) {
	f := newFake(t)
	f.Push(assistantfake.Stream("请先", "断开 VPN，", "再重新连接。", "[1]"))
	c := newClient(t, f, nil)

	var got []string
	comp, err := c.Stream(t.Context(), hello, func(d string) { got = append(got, d) })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"请先", "断开 VPN，", "再重新连接。", "[1]"}; !slices.Equal(got, want) {
		t.Errorf("deltas = %q, want %q", got, want)
	}
	if comp.Text != "请先断开 VPN，再重新连接。[1]" || comp.FinishReason != "stop" || comp.Model != "qwen-plus" {
		t.Errorf("completion = %+v", comp)
	}
	if comp.Usage.TotalTokens == 0 {
		t.Errorf("usage not read from the last chunk: %+v", comp.Usage)
	}

	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Authorization != "ok" || !r.Stream || !r.IncludeUsage || r.Model != "qwen-plus" || r.MaxTokens != DefaultMaxTokens {
		t.Errorf("request = %+v", r)
	}
	if len(r.Messages) != 2 || r.Messages[1].Content != "VPN 连不上" {
		t.Errorf("messages = %+v", r.Messages)
	}
	if r.Header.Get("Accept") != "text/event-stream" || r.Temperature != nil {
		t.Errorf("headers %v, temperature %v", r.Header, r.Temperature)
	}
}

// The shapes real providers send beside OpenAI's plain one.
func TestStreamProviderShapes(t *testing.T) {
	multiLine := "data: {\"object\":\"chat.completion.chunk\",\n" +
		"data: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"多行\"}}]}\n\n" +
		"event: message\nid: 7\nretry: 1000\n" +
		"data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"无空格\"},\"finish_reason\":\"stop\"}]}\n\n" +
		"data: [DONE]\n\n"
	tests := []struct {
		name  string
		reply assistantfake.Reply
		want  string
	}{
		{"CRLF line endings", assistantfake.Stream("甲", "乙").CRLF(), "甲乙"},
		{"DeepSeek keep-alive comments while queued", assistantfake.Stream("甲").KeepAlive(3), "甲"},
		{"reasoning_content is not the answer", assistantfake.Stream("答案").Reasoning("先想", "一想"), "答案"},
		{"DeepSeek usage on the finish chunk", assistantfake.Stream("甲").UsageInFinishChunk(), "甲"},
		{"multi-line data, other fields, data: without a space", assistantfake.Raw(200, "text/event-stream", multiLine), "多行无空格"},
		{"lone CR line endings", assistantfake.Raw(200, "text/event-stream",
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"CR\"}}]}\r\rdata: [DONE]\r\r"), "CR"},
		{"a BOM and [DONE] without a final newline", assistantfake.Raw(200, "text/event-stream",
			"\ufeffdata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"BOM\"}}]}\n\ndata: [DONE]"), "BOM"},
		{"a gateway that ignores stream: true", assistantfake.Raw(200, "application/json",
			`{"id":"x","object":"chat.completion","model":"glm-4","choices":[{"index":0,"message":{"role":"assistant","content":"整段"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`), "整段"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.Push(tt.reply)
			c := newClient(t, f, nil)
			var deltas strings.Builder
			comp, err := c.Stream(t.Context(), hello, func(d string) { deltas.WriteString(d) })
			if err != nil {
				t.Fatal(err)
			}
			if comp.Text != tt.want || deltas.String() != tt.want {
				t.Errorf("text %q, deltas %q, want %q", comp.Text, deltas.String(), tt.want)
			}
		})
	}
}

func TestStreamFailures(t *testing.T) {
	streamErr := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"半\"}}]}\n\n" +
		"data: {\"error\":{\"message\":\"Output data may contain inappropriate content.\",\"type\":\"data_inspection_failed\",\"code\":\"data_inspection_failed\"}}\n\n"
	tests := []struct {
		name   string
		reply  assistantfake.Reply
		key    string // overrides testKey
		cfg    func(*Config)
		is     error // a sentinel, or nil for *APIError
		status int   // the *APIError's status
		reason string
		text   string // the partial text returned with the error
		// anyText: how much arrived before the deadline depends on the
		// machine's pace; only the error is asserted.
		anyText bool
	}{
		{name: "wrong key", key: "sk-wrong0123456789abcdefWRONGWRONG", status: 401, reason: "rejected"},
		{name: "rate limited", reply: assistantfake.RateLimited(), status: 429, reason: "rate_limited"},
		{name: "server error", reply: assistantfake.ServerError(), status: 500, reason: "provider"},
		{name: "gateway page", reply: assistantfake.Raw(502, "text/html", "<html><body>502 Bad Gateway</body></html>"), status: 502, reason: "provider"},
		{name: "error inside the stream", reply: assistantfake.Raw(200, "text/event-stream", streamErr), status: 200, reason: "provider", text: "半"},
		{name: "malformed chunk", reply: assistantfake.Malformed("好"), is: ErrMalformed, reason: "malformed", text: "好"},
		{name: "HTML with 200", reply: assistantfake.Raw(200, "text/html", "<html>login</html>"), is: ErrMalformed, reason: "malformed"},
		{name: "truncated, no [DONE]", reply: assistantfake.Truncated("一半"), is: ErrTruncated, reason: "truncated", text: "一半"},
		{name: "cut inside a line", reply: assistantfake.Raw(200, "text/event-stream", `data: {"choices":[{"ind`), is: ErrTruncated, reason: "truncated"},
		{name: "no first byte", reply: assistantfake.Stall(), cfg: func(c *Config) { c.FirstByteTimeout = short }, is: ErrTimeout, reason: "timeout"},
		{name: "only keep-alives", reply: assistantfake.Stall().KeepAliveEvery(20 * time.Millisecond), cfg: func(c *Config) { c.FirstByteTimeout = short }, is: ErrTimeout, reason: "timeout"},
		{name: "stalled mid-answer", reply: assistantfake.Stall("开头"), cfg: func(c *Config) { c.IdleTimeout = short }, is: ErrTimeout, reason: "timeout", text: "开头"},
		{name: "over the total", reply: assistantfake.Stall("开头").KeepAliveEvery(20 * time.Millisecond), cfg: func(c *Config) { c.TotalTimeout = short }, is: ErrTimeout, reason: "timeout", anyText: true},
		{name: "empty answer", reply: assistantfake.Stream(), is: ErrEmptyAnswer, reason: "empty"},
		{name: "reasoning only", reply: assistantfake.Stream().Reasoning("想了很久"), is: ErrEmptyAnswer, reason: "empty"},
		{name: "cut at max_tokens", reply: assistantfake.Stream("第一步").Finish("length"), is: ErrIncomplete, reason: "incomplete", text: "第一步"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			if tt.key == "" {
				f.Push(tt.reply)
			}
			c := newClient(t, f, func(c *Config) {
				if tt.key != "" {
					c.APIKey = tt.key
				}
				if tt.cfg != nil {
					tt.cfg(c)
				}
			})
			comp, err := c.Stream(t.Context(), hello, nil)
			if err == nil {
				t.Fatalf("no error; completion %+v", comp)
			}
			t.Logf("error: %v", err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %q", err, tt.is)
			}
			var api *APIError
			if tt.status != 0 && (!errors.As(err, &api) || api.Status != tt.status) {
				t.Errorf("error %q (%T), want an *APIError with status %d", err, err, tt.status)
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason(%q) = %q, want %q", err, got, tt.reason)
			}
			if !tt.anyText && comp.Text != tt.text {
				t.Errorf("partial text %q, want %q", comp.Text, tt.text)
			}
			key := testKey
			if tt.key != "" {
				key = tt.key
			}
			if msg := err.Error(); strings.Contains(msg, key) || strings.Contains(msg, key[:8]) || strings.Contains(msg, key[len(key)-4:]) {
				t.Errorf("error leaks the key: %q", msg)
			}
		})
	}
}

func TestStreamWrongKeyIsOpenAIShaped(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f, func(c *Config) { c.APIKey = "sk-wrong0123456789abcdefWRONGWRONG" })
	_, err := c.Stream(t.Context(), hello, nil)
	var api *APIError
	if !errors.As(err, &api) || api.Type != "invalid_request_error" || api.Code != "invalid_api_key" {
		t.Fatalf("error = %#v", err)
	}
	if !strings.Contains(api.Message, "Incorrect API key provided: sk-[masked]") {
		t.Errorf("message = %q", api.Message)
	}
	if got := f.Requests()[0].Authorization; got != "wrong" {
		t.Errorf("fake saw key %q", got)
	}
}

func TestStreamNetworkError(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f, nil)
	f.Close()
	_, err := c.Stream(t.Context(), hello, nil)
	if err == nil || Reason(err) != "network" || strings.Contains(err.Error(), f.URL) {
		t.Fatalf("error %q (reason %q), want a network error without the URL", err, Reason(err))
	}
}

func TestStreamCallerCancels(t *testing.T) {
	f := newFake(t)
	f.Push(assistantfake.Stall("第一句"))
	c := newClient(t, f, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := c.Stream(ctx, hello, func(string) { cancel() })
	if !errors.Is(err, context.Canceled) || Reason(err) != "canceled" {
		t.Fatalf("error %q, want context.Canceled", err)
	}
	if s := c.BreakerState(); s != BreakerClosed {
		t.Errorf("a caller giving up moved the breaker to %s", s)
	}
}

func TestStreamBreaker(t *testing.T) {
	f := newFake(t)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := newClient(t, f, func(c *Config) { c.Breaker = BreakerConfig{Now: clock.now} })
	for range DefaultBreakerFailures {
		f.Push(assistantfake.ServerError())
		if _, err := c.Stream(t.Context(), hello, nil); err == nil {
			t.Fatal("no error from a 500")
		}
	}
	if s := c.BreakerState(); s != BreakerOpen {
		t.Fatalf("after %d failures the breaker is %s", DefaultBreakerFailures, s)
	}
	_, err := c.Stream(t.Context(), hello, nil)
	if !errors.Is(err, ErrUnavailable) || Reason(err) != "unavailable" {
		t.Fatalf("open breaker let a call through: %v", err)
	}
	if n := len(f.Requests()); n != DefaultBreakerFailures {
		t.Errorf("the provider saw %d requests, want %d: an open breaker sends nothing", n, DefaultBreakerFailures)
	}

	clock.advance(DefaultBreakerCoolDown)
	if _, err := c.Stream(t.Context(), hello, nil); err != nil {
		t.Fatalf("half-open trial: %v", err)
	}
	if s := c.BreakerState(); s != BreakerClosed {
		t.Errorf("after a good trial the breaker is %s", s)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "", Model: "m"},
		{BaseURL: "ftp://x", Model: "m"},
		{BaseURL: "https://api.deepseek.com", Model: ""},
		{BaseURL: "https://user:pass@api.deepseek.com", Model: "m"},
		{BaseURL: "https://api.deepseek.com/v1?key=" + testKey, Model: "m"},
	} {
		_, err := New(cfg)
		if err == nil {
			t.Errorf("New(%v) accepted it", cfg)
			continue
		}
		if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), "pass") {
			t.Errorf("New's error leaks a secret: %q", err)
		}
	}
	c := Config{BaseURL: "https://x", Model: "m", APIKey: testKey}
	for _, s := range []string{c.String(), fmtAll(c)} {
		if strings.Contains(s, testKey) {
			t.Errorf("printing a Config shows the key: %s", s)
		}
	}
}

func TestStreamConcurrentCallsCarryTheirOwnPrompt(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f, nil)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			conv := []Turn{{Role: RoleEmployee, Name: "员工", Text: strings.Repeat("问", i+1)}}
			_, err := c.Stream(t.Context(), BuildAnswer(conv, vpnArticles), nil)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	seen := map[string]bool{}
	for _, r := range f.Requests() {
		if len(r.Messages) != 2 || r.Messages[0].Content != systemAnswer {
			t.Fatalf("the provider got %+v", r.Messages)
		}
		p := parseUser(t, r.Messages[1].Content, tailAnswer)
		seen[p.turns[0].Text] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct prompts reached the provider, want %d", len(seen), n)
	}
}

func TestStreamPanickingCallbackFreesTheTrial(t *testing.T) {
	f := newFake(t)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := newClient(t, f, func(c *Config) { c.Breaker = BreakerConfig{Failures: 1, Now: clock.now} })
	f.Push(assistantfake.ServerError())
	c.Stream(t.Context(), hello, nil)
	clock.advance(DefaultBreakerCoolDown)
	func() {
		defer func() { recover() }()
		c.Stream(t.Context(), hello, func(string) { panic("desk bug") })
	}()
	if _, err := c.Stream(t.Context(), hello, nil); err != nil {
		t.Fatalf("after a panicking trial: %v", err)
	}
}
