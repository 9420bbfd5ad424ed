package assistant

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sentinels for errors.Is on errors from a Client. Every error from Stream
// matches at most one of them, or is an *APIError, or wraps the caller's
// context error.
var (
	// ErrUnavailable: the circuit breaker is open after repeated failures;
	// no request was sent. Offer 转人工 at once.
	ErrUnavailable = errors.New("assistant: unavailable")
	// ErrTimeout: no first data in FirstByteTimeout, a gap between data
	// longer than IdleTimeout, or the whole answer over TotalTimeout.
	ErrTimeout = errors.New("assistant: timeout")
	// ErrMalformed: the response is not the chat-completions stream shape.
	ErrMalformed = errors.New("assistant: malformed response")
	// ErrTruncated: the stream ended before data: [DONE].
	ErrTruncated = errors.New("assistant: stream ended early")
	// ErrIncomplete: the model stopped for another reason than "stop"
	// (the token limit, a content filter, the provider out of capacity).
	// Stream returns the partial Completion with it.
	ErrIncomplete = errors.New("assistant: answer incomplete")
	// ErrEmptyAnswer: the stream completed with no text.
	ErrEmptyAnswer = errors.New("assistant: empty answer")
)

// APIError is a non-2xx response, or an error object inside the stream,
// in OpenAI's shape {"error":{"message","type","param","code"}}. DeepSeek,
// DashScope's compatible mode and GLM answer in the same shape.
type APIError struct {
	Status  int    // HTTP status; 200 for an error sent inside the stream
	Type    string // e.g. "invalid_request_error"
	Code    string // e.g. "invalid_api_key", "rate_limit_exceeded"
	Message string // the provider's message, key fragments masked
}

// Error names the status, type and code, and the provider's message.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "assistant: provider answered %d", e.Status)
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Reason sorts an error from Stream into a short, fixed label for metrics
// and logs: "ok", "unavailable", "timeout", "malformed", "truncated",
// "incomplete", "empty", "rejected" (401/403), "rate_limited" (429),
// "provider" (other API errors), "canceled" or "network".
func Reason(err error) string {
	var api *APIError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrIncomplete):
		return "incomplete"
	case errors.Is(err, ErrEmptyAnswer):
		return "empty"
	case errors.As(err, &api):
		switch api.Status {
		case 401, 403:
			return "rejected"
		case 429:
			return "rate_limited"
		}
		return "provider"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "network"
}

// maxProviderMessage caps the provider's message kept in an APIError: a
// gateway may answer with a whole HTML page.
const maxProviderMessage = 300

// keyLike matches key-shaped words. OpenAI's 401 message quotes a masked
// key ("Incorrect API key provided: sk-VKMIs****wjh3"), and DeepSeek and
// DashScope keys share the sk- prefix; none of it belongs in a log.
var keyLike = regexp.MustCompile(`\bsk-[A-Za-z0-9_\-*]+`)

// scrub removes the key, and anything shaped like one, from s, and caps
// its length.
func scrub(s, key string) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, "[key]")
	}
	s = keyLike.ReplaceAllString(s, "sk-[masked]")
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxProviderMessage {
		s = string(r[:maxProviderMessage]) + "…"
	}
	return s
}
