// Package assistantfake is a fake OpenAI-compatible chat-completions
// server for tests: POST /v1/chat/completions with the wire shapes of
// OpenAI, DeepSeek and DashScope's compatible mode (Qwen). It streams
// chat.completion.chunk objects as server-sent events ending in
// data: [DONE], answers errors in OpenAI's {"error":{...}} shape, checks
// the Bearer key, and records every request so tests can read the prompts.
//
// Replies are queued with Push (one per request, in order) or chosen per
// request with SetHandler; without either it streams DefaultAnswer. The
// failure modes are the ones a desk meets: Error (401, 429, 500…), Stall
// (headers, maybe a chunk, then nothing until the client leaves),
// Malformed (a chunk that is not JSON) and Truncated (no [DONE]).
//
// It imports nothing of the assistant package: it is a second, independent
// reading of the protocol, so a misreading in the client shows up as a
// failing test rather than as two matching mistakes.
package assistantfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// DefaultAnswer is what the fake streams when nothing is queued.
var DefaultAnswer = []string{"请打开", "「设置」", "重新连接 VPN。[1]"}

// Message is a chat message as the fake received it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is a request the fake received.
type Request struct {
	Model         string
	Messages      []Message
	Stream        bool
	IncludeUsage  bool // stream_options.include_usage
	MaxTokens     int
	Temperature   *float64
	Header        http.Header // without Authorization
	Authorization string      // "ok", "missing" or "wrong": the key check, never the key
	Body          []byte
}

type kind int

const (
	kindStream kind = iota
	kindError
	kindStall
	kindMalformed
	kindTruncated
	kindRaw
)

// Reply is how the fake answers one request. Build one with Stream, Error,
// Stall, Malformed, Truncated or Raw, and adjust a stream with its methods.
type Reply struct {
	kind      kind
	chunks    []string
	reasoning []string
	finish    string
	keepAlive int           // ": keep-alive" comments before the first chunk
	every     time.Duration // Stall: a keep-alive comment this often
	crlf      bool
	usageLast bool // usage on the finish chunk (DeepSeek) rather than a chunk of its own
	status    int
	errType   string
	errCode   string
	errMsg    string
	ctype     string
	raw       string
}

// Stream answers with these content deltas, then a chunk with
// finish_reason "stop", a usage chunk when the request asked for one, and
// data: [DONE].
func Stream(chunks ...string) Reply { return Reply{kind: kindStream, chunks: chunks, finish: "stop"} }

// Error answers status with OpenAI's error body.
func Error(status int, typ, code, message string) Reply {
	return Reply{kind: kindError, status: status, errType: typ, errCode: code, errMsg: message}
}

// RateLimited is the 429 OpenAI sends when requests come too fast.
func RateLimited() Reply {
	return Error(http.StatusTooManyRequests, "requests", "rate_limit_exceeded",
		"Rate limit reached for requests. Please try again in 20s.")
}

// ServerError is OpenAI's 500.
func ServerError() Reply {
	return Error(http.StatusInternalServerError, "server_error", "",
		"The server had an error while processing your request. Sorry about that!")
}

// Stall sends the headers and these chunks, then nothing until the client
// disconnects or the fake closes.
func Stall(chunks ...string) Reply { return Reply{kind: kindStall, chunks: chunks} }

// Malformed sends these chunks, then a data line that is not JSON.
func Malformed(chunks ...string) Reply { return Reply{kind: kindMalformed, chunks: chunks} }

// Truncated sends these chunks and closes without finish_reason or
// data: [DONE], as a connection cut by a proxy.
func Truncated(chunks ...string) Reply { return Reply{kind: kindTruncated, chunks: chunks} }

// Raw answers status with this content type and body, as is: a gateway's
// HTML page, a hand-written event stream, a whole chat.completion.
func Raw(status int, contentType, body string) Reply {
	return Reply{kind: kindRaw, status: status, ctype: contentType, raw: body}
}

// Finish sets the stream's finish_reason ("length", "content_filter",
// DeepSeek's "insufficient_system_resource").
func (r Reply) Finish(reason string) Reply { r.finish = reason; return r }

// Reasoning sends these reasoning_content deltas before the content, as
// DeepSeek's reasoner and Qwen with thinking on do.
func (r Reply) Reasoning(deltas ...string) Reply { r.reasoning = deltas; return r }

// KeepAlive sends n ": keep-alive" comments before the first chunk, as
// DeepSeek does while a request waits for capacity.
func (r Reply) KeepAlive(n int) Reply { r.keepAlive = n; return r }

// KeepAliveEvery makes a Stall send a keep-alive comment every d.
func (r Reply) KeepAliveEvery(d time.Duration) Reply { r.every = d; return r }

// CRLF ends lines with CRLF instead of LF.
func (r Reply) CRLF() Reply { r.crlf = true; return r }

// UsageInFinishChunk puts usage on the finish chunk, as DeepSeek does,
// instead of on an extra chunk with no choices, as OpenAI and DashScope do.
func (r Reply) UsageInFinishChunk() Reply { r.usageLast = true; return r }

// Server is the fake. Close it when done.
type Server struct {
	*httptest.Server
	key  string
	quit chan struct{}

	mu       sync.Mutex
	queue    []Reply
	handler  func(Request) Reply
	requests []Request
	seq      int
}

// New starts a fake that accepts key; an empty key accepts any request.
func New(key string) *Server {
	s := &Server{key: key, quit: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	s.Server = httptest.NewServer(mux)
	return s
}

// BaseURL is the API root to configure a client with.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Close ends stalled replies and shuts the server down.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.mu.Unlock()
	s.Server.Close()
}

// Push queues replies for the next requests, one each, in order.
func (s *Server) Push(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// SetHandler chooses the reply of each request that finds the queue
// empty; nil restores DefaultAnswer.
func (s *Server) SetHandler(h func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Requests returns the requests received so far, the key check included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	req := Request{Header: r.Header.Clone(), Body: body}
	req.Header.Del("Authorization")
	switch auth := r.Header.Get("Authorization"); {
	case auth == "":
		req.Authorization = "missing"
	case auth == "Bearer "+s.key:
		req.Authorization = "ok"
	default:
		req.Authorization = "wrong"
	}
	if s.key == "" {
		req.Authorization = "ok"
	}
	var in struct {
		Model         string    `json:"model"`
		Messages      []Message `json:"messages"`
		Stream        bool      `json:"stream"`
		MaxTokens     int       `json:"max_tokens"`
		Temperature   *float64  `json:"temperature"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	decodeErr := json.Unmarshal(body, &in)
	req.Model, req.Messages, req.Stream, req.MaxTokens, req.Temperature =
		in.Model, in.Messages, in.Stream, in.MaxTokens, in.Temperature
	req.IncludeUsage = in.StreamOptions != nil && in.StreamOptions.IncludeUsage

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.seq++
	id := fmt.Sprintf("chatcmpl-fake%d", s.seq)
	var reply Reply
	switch {
	case len(s.queue) > 0:
		reply, s.queue = s.queue[0], s.queue[1:]
	case s.handler != nil:
		reply = s.handler(req)
	default:
		reply = Stream(DefaultAnswer...)
	}
	s.mu.Unlock()

	// The checks OpenAI makes before anything else.
	switch {
	case req.Authorization == "missing":
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "",
			"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
		return
	case req.Authorization == "wrong":
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
			"Incorrect API key provided: "+masked(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))+
				". You can find your API key at https://platform.openai.com/account/api-keys.")
		return
	case decodeErr != nil:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "",
			"We could not parse the JSON body of your request.")
		return
	case in.Model == "":
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "you must provide a model parameter")
		return
	}
	s.serve(w, r, reply, id, in.Model, req.IncludeUsage)
}

// masked shows a key as OpenAI's 401 message does: a few characters of
// each end. The client must not pass even that on.
func masked(key string) string {
	if len(key) < 12 {
		return strings.Repeat("*", len(key))
	}
	return key[:8] + strings.Repeat("*", len(key)-12) + key[len(key)-4:]
}

func writeError(w http.ResponseWriter, status int, typ, code, message string) {
	var c any // null when there is no code, as OpenAI sends it
	if code != "" {
		c = code
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": message, "type": typ, "param": nil, "code": c,
	}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, reply Reply, id, model string, includeUsage bool) {
	switch reply.kind {
	case kindError:
		writeError(w, reply.status, reply.errType, reply.errCode, reply.errMsg)
		return
	case kindRaw:
		w.Header().Set("Content-Type", reply.ctype)
		w.WriteHeader(reply.status)
		io.WriteString(w, reply.raw)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	eol := "\n"
	if reply.crlf {
		eol = "\r\n"
	}
	// A stall's opening chunks go out in one flush, so they reach the
	// client together and its idle timer, not the network's pace, decides
	// what it sees before the silence.
	batch := reply.kind == kindStall
	send := func(line string) {
		io.WriteString(w, line+eol+eol)
		if !batch {
			rc.Flush()
		}
	}
	chunk := func(delta map[string]any, finish string, usage bool) string {
		choice := map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": nil}
		if finish != "" {
			choice["finish_reason"] = finish
		}
		c := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(),
			"model": model, "system_fingerprint": nil,
			"choices": []any{choice}, "usage": nil,
		}
		if usage {
			c["usage"] = fakeUsage(reply)
		}
		b, _ := json.Marshal(c)
		return "data: " + string(b)
	}

	for range reply.keepAlive {
		send(": keep-alive")
	}
	if reply.kind != kindStall || len(reply.chunks) > 0 {
		send(chunk(map[string]any{"role": "assistant", "content": ""}, "", false))
	}
	for _, d := range reply.reasoning {
		send(chunk(map[string]any{"content": nil, "reasoning_content": d}, "", false))
	}
	for _, d := range reply.chunks {
		send(chunk(map[string]any{"content": d}, "", false))
	}
	switch reply.kind {
	case kindStall:
		rc.Flush()
		batch = false
		var tick <-chan time.Time
		if reply.every > 0 {
			t := time.NewTicker(reply.every)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case <-s.quit:
				return
			case <-tick:
				send(": keep-alive")
			}
		}
	case kindMalformed:
		send(`data: {"id":"` + id + `","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"半截`)
		return
	case kindTruncated:
		return
	}
	send(chunk(map[string]any{}, reply.finish, includeUsage && reply.usageLast))
	if includeUsage && !reply.usageLast {
		b, _ := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(),
			"model": model, "choices": []any{}, "usage": fakeUsage(reply),
		})
		send("data: " + string(b))
	}
	send("data: [DONE]")
}

func fakeUsage(r Reply) map[string]int {
	n := 0
	for _, c := range r.chunks {
		n += len([]rune(c))
	}
	return map[string]int{"prompt_tokens": 100, "completion_tokens": n, "total_tokens": 100 + n}
}
