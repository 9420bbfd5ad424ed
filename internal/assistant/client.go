package assistant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Client defaults.
const (
	// DefaultFirstByteTimeout bounds the wait for the first data of an
	// answer. A healthy provider starts streaming in one to three seconds;
	// an employee staring at a spinner for longer is better served by 转人工.
	DefaultFirstByteTimeout = 8 * time.Second
	// DefaultIdleTimeout bounds the gap between two chunks: a stream that
	// stops mid-answer is dead, however long the total allowance.
	DefaultIdleTimeout = 10 * time.Second
	// DefaultTotalTimeout bounds a whole answer, a few hundred tokens at a
	// slow provider's pace.
	DefaultTotalTimeout = 60 * time.Second
	// DefaultMaxTokens keeps answers brief, as the system prompt asks, and
	// the bill bounded.
	DefaultMaxTokens = 800
)

// maxAnswerBytes caps the text kept from one stream, whatever MaxTokens
// the provider honours.
const maxAnswerBytes = 64 << 10

// maxErrorBody caps what is read of a non-2xx body.
const maxErrorBody = 64 << 10

// Config configures a Client. Zero durations and MaxTokens take the
// defaults.
type Config struct {
	// BaseURL is the API root the path /chat/completions is appended to:
	// https://api.openai.com/v1, https://api.deepseek.com,
	// https://dashscope.aliyuncs.com/compatible-mode/v1 (Qwen),
	// https://open.bigmodel.cn/api/paas/v4 (GLM).
	BaseURL string
	Model   string
	// APIKey is sent as "Authorization: Bearer"; never logged, never in an
	// error. Empty sends no Authorization (a local server without keys).
	APIKey string
	// HTTPClient sends the requests; nil uses one of the Client's own. Its
	// Timeout, if any, must exceed TotalTimeout or it cuts streams short.
	HTTPClient       *http.Client
	FirstByteTimeout time.Duration
	IdleTimeout      time.Duration
	TotalTimeout     time.Duration
	MaxTokens        int
	// Temperature is sent when above zero; zero leaves the provider's
	// default.
	Temperature float64
	Breaker     BreakerConfig
}

// String describes the config without its key, so that printing one
// (with %v or %+v) cannot leak it.
func (c Config) String() string {
	key := "unset"
	if c.APIKey != "" {
		key = "set"
	}
	return fmt.Sprintf("assistant.Config{BaseURL:%q Model:%q APIKey:%s}", c.BaseURL, c.Model, key)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// Completion is a finished answer.
type Completion struct {
	Text         string
	FinishReason string // "stop", or what ended it early
	Model        string // as the provider names it
	Usage        Usage
}

// Client streams chat completions from an OpenAI-compatible endpoint
// behind a circuit breaker. It is safe for concurrent use.
type Client struct {
	endpoint  string
	model     string
	key       string
	hc        *http.Client
	firstByte time.Duration
	idle      time.Duration
	total     time.Duration
	maxTokens int
	temp      float64
	breaker   *Breaker
}

// New returns a client for cfg, or an error naming the setting to fix.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("assistant: base URL must be an absolute http(s) URL, got %q", redactURL(cfg.BaseURL))
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, errors.New("assistant: base URL must carry no credentials or query; the key goes in APIKey")
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("assistant: model is required")
	}
	c := &Client{
		endpoint:  strings.TrimRight(u.String(), "/") + "/chat/completions",
		model:     cfg.Model,
		key:       cfg.APIKey,
		hc:        cfg.HTTPClient,
		firstByte: orDefault(cfg.FirstByteTimeout, DefaultFirstByteTimeout),
		idle:      orDefault(cfg.IdleTimeout, DefaultIdleTimeout),
		total:     orDefault(cfg.TotalTimeout, DefaultTotalTimeout),
		maxTokens: cfg.MaxTokens,
		temp:      cfg.Temperature,
		breaker:   NewBreaker(cfg.Breaker),
	}
	if c.maxTokens <= 0 {
		c.maxTokens = DefaultMaxTokens
	}
	if c.hc == nil {
		// No Timeout: the three timeouts above bound a stream, and a client
		// timeout would cut a healthy long one.
		c.hc = &http.Client{}
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// redactURL keeps scheme and host of a URL that failed validation: its
// path or query may hold a key pasted in the wrong place.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return "(unparsable)"
}

// Model returns the configured model name, for Exchange records.
func (c *Client) Model() string { return c.model }

// BreakerState returns the breaker's state, for metrics and health.
func (c *Client) BreakerState() BreakerState { return c.breaker.State() }

// Stream sends msgs and calls onDelta with each piece of the answer as it
// arrives, in order, on the calling goroutine; the time spent in onDelta
// does not count against IdleTimeout. It returns the whole answer when the
// stream ends with data: [DONE].
//
// Errors: ErrUnavailable when the breaker is open (nothing was sent),
// ErrTimeout, *APIError, ErrMalformed, ErrTruncated, ErrIncomplete (with
// the partial Completion), ErrEmptyAnswer, the caller's context error, or
// a network error. onDelta may have been called before an error: the desk
// must then withdraw or mark what it showed.
func (c *Client) Stream(ctx context.Context, msgs []Message, onDelta func(string)) (Completion, error) {
	if err := c.breaker.Allow(); err != nil {
		return Completion{}, err
	}
	reported := false
	defer func() {
		// A panicking onDelta must not leave a half-open trial taken for
		// good, which would refuse every later call.
		if !reported {
			c.breaker.Report(Neutral)
		}
	}()
	comp, err := c.stream(ctx, msgs, onDelta)
	c.breaker.Report(outcome(ctx, err))
	reported = true
	return comp, err
}

// outcome sorts an error for the breaker: only what says the provider is
// down, slow or refusing us counts as a failure.
func outcome(ctx context.Context, err error) Outcome {
	var api *APIError
	switch {
	case err == nil:
		return Success
	case ctx.Err() != nil:
		return Neutral // the caller gave up, whatever the provider did
	case errors.Is(err, ErrEmptyAnswer), errors.Is(err, ErrIncomplete):
		return Neutral // the provider answered
	case errors.As(err, &api) && (api.Status == 400 || api.Status == 413 || api.Status == 422):
		return Neutral // this request was at fault (too long, filtered), not the service
	}
	return Failure
}

type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []Message      `json:"messages"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	MaxTokens     int            `json:"max_tokens,omitempty"`
	Temperature   float64        `json:"temperature,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chunk is one chat.completion.chunk, and also a whole chat.completion
// (message instead of delta) for a server that ignores stream: true. Only
// content is read of a delta: reasoning_content (DeepSeek's reasoner, Qwen
// with thinking on) is the model's scratch work, not the answer.
type chunk struct {
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *Usage     `json:"usage"`
	Error *errorBody `json:"error"`
}

type errorBody struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"` // a string at OpenAI, a number at some gateways
}

// timeout causes, set on the request's context by the watchdog.
func (c *Client) errFirstByte() error {
	return fmt.Errorf("%w: no answer began within %s", ErrTimeout, c.firstByte)
}

func (c *Client) errIdle() error {
	return fmt.Errorf("%w: the stream stalled, no data for %s", ErrTimeout, c.idle)
}

func (c *Client) errTotal() error {
	return fmt.Errorf("%w: the answer took longer than %s", ErrTimeout, c.total)
}

func (c *Client) stream(parent context.Context, msgs []Message, onDelta func(string)) (Completion, error) {
	ctx, cancelTotal := context.WithTimeoutCause(parent, c.total, c.errTotal())
	defer cancelTotal()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// One timer is both watchdogs: armed for the first event, re-armed
	// after each one. Comments (": keep-alive") are not events: a provider
	// that queues the request is as slow, for an employee, as a silent one.
	var started atomic.Bool
	watchdog := time.AfterFunc(c.firstByte, func() {
		if started.Load() {
			cancel(c.errIdle())
		} else {
			cancel(c.errFirstByte())
		}
	})
	defer watchdog.Stop()

	body, err := json.Marshal(chatRequest{
		Model:         c.model,
		Messages:      msgs,
		Stream:        true,
		StreamOptions: &streamOptions{IncludeUsage: true},
		MaxTokens:     c.maxTokens,
		Temperature:   c.temp,
	})
	if err != nil {
		return Completion{}, fmt.Errorf("assistant: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return Completion{}, fmt.Errorf("assistant: new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return Completion{}, c.failed(ctx, "send request", err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Completion{}, c.apiError(ctx, resp)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		return c.whole(ctx, resp, onDelta)
	case "text/html":
		// A proxy's login or error page, answered with 200.
		return Completion{}, fmt.Errorf("%w: content type %s, not an event stream", ErrMalformed, mt)
	}

	var (
		text strings.Builder
		comp Completion
		sse  = newSSEReader(resp.Body)
	)
	for {
		data, err := sse.next()
		if err != nil {
			if err == io.EOF {
				return comp, fmt.Errorf("%w: no data: [DONE] after %d bytes of answer", ErrTruncated, text.Len())
			}
			return comp, c.failed(ctx, "read stream", err)
		}
		watchdog.Stop()
		started.Store(true)
		if data == "[DONE]" {
			return finish(comp)
		}
		var ch chunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return comp, fmt.Errorf("%w: a chunk is not JSON (%v): %.80q", ErrMalformed, err, data)
		}
		if ch.Error != nil {
			return comp, c.toAPIError(resp.StatusCode, ch.Error)
		}
		if err := c.take(&comp, &text, ch, false, onDelta); err != nil {
			return comp, err
		}
		watchdog.Reset(c.idle)
	}
}

// take adds a chunk's content, finish reason, model and usage to comp.
func (c *Client) take(comp *Completion, text *strings.Builder, ch chunk, whole bool, onDelta func(string)) error {
	if ch.Model != "" {
		comp.Model = ch.Model
	}
	if ch.Usage != nil {
		comp.Usage = *ch.Usage
	}
	// With n = 1 there is one choice; a usage-only last chunk has none.
	for _, choice := range ch.Choices {
		if choice.Index != 0 {
			continue
		}
		d := choice.Delta.Content
		if whole {
			d = choice.Message.Content
		}
		if d != "" {
			if text.Len()+len(d) > maxAnswerBytes {
				return fmt.Errorf("%w: answer longer than %d bytes", ErrMalformed, maxAnswerBytes)
			}
			text.WriteString(d)
			comp.Text = text.String()
			if onDelta != nil {
				onDelta(d)
			}
		}
		if choice.FinishReason != "" {
			comp.FinishReason = choice.FinishReason
		}
	}
	return nil
}

// whole reads a complete chat.completion from a server that answered
// stream: true with plain JSON, as some gateways do.
func (c *Client) whole(ctx context.Context, resp *http.Response, onDelta func(string)) (Completion, error) {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes*2))
	if err != nil {
		return Completion{}, c.failed(ctx, "read response", err)
	}
	var ch chunk
	if err := json.Unmarshal(raw, &ch); err != nil {
		return Completion{}, fmt.Errorf("%w: the response is not JSON (%v)", ErrMalformed, err)
	}
	if ch.Error != nil {
		return Completion{}, c.toAPIError(resp.StatusCode, ch.Error)
	}
	var comp Completion
	var text strings.Builder
	if err := c.take(&comp, &text, ch, true, onDelta); err != nil {
		return comp, err
	}
	return finish(comp)
}

// finish judges a stream that ended with [DONE].
func finish(comp Completion) (Completion, error) {
	switch comp.FinishReason {
	case "", "stop": // some compatible servers leave it out
	default:
		return comp, fmt.Errorf("%w: finish_reason %q", ErrIncomplete, comp.FinishReason)
	}
	if strings.TrimSpace(comp.Text) == "" {
		return comp, fmt.Errorf("%w: the stream completed with no text", ErrEmptyAnswer)
	}
	return comp, nil
}

// failed words a transport or read error. When the request's context
// ended, its cause (a watchdog's timeout, the total timeout, the caller's
// cancellation) is the real reason; the URL, never secret but sometimes
// long, is dropped from net/http's errors.
func (c *Client) failed(ctx context.Context, op string, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, ErrTimeout) {
			return cause
		}
		return fmt.Errorf("assistant: %s: %w", op, cause)
	}
	if errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: %w", ErrTruncated, op, err)
	}
	return fmt.Errorf("assistant: %s: %w", op, err)
}

// apiError reads a non-2xx response into an *APIError.
func (c *Client) apiError(ctx context.Context, resp *http.Response) error {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil && context.Cause(ctx) != nil {
		return c.failed(ctx, fmt.Sprintf("read the body of a %d response", resp.StatusCode), err)
	}
	var body struct {
		Error *errorBody `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error != nil {
		return c.toAPIError(resp.StatusCode, body.Error)
	}
	// Not OpenAI's shape: a gateway's page or plain text.
	return &APIError{Status: resp.StatusCode, Message: scrub(string(raw), c.key)}
}

func (c *Client) toAPIError(status int, e *errorBody) *APIError {
	var code string
	if json.Unmarshal(e.Code, &code) != nil && string(e.Code) != "null" {
		code = string(e.Code) // a number
	}
	return &APIError{
		Status:  status,
		Type:    scrub(e.Type, c.key),
		Code:    scrub(code, c.key),
		Message: scrub(e.Message, c.key),
	}
}
