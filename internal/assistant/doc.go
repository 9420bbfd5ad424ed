// Package assistant is the desk's optional AI assistant: it answers an
// employee's IT question, or drafts an agent's reply, from the knowledge
// base's articles only, through any OpenAI-compatible chat-completions
// endpoint (OpenAI, DeepSeek, Qwen on DashScope's compatible mode, GLM, a
// local vLLM). It is the foundation; the desk wires it in.
//
// The flow for one question:
//
//	if !limiter.Allow(employeeID) { offer 转人工 }
//	msgs := assistant.BuildAnswer(turns, articles) // this conversation, the search's top articles
//	comp, err := client.Stream(ctx, msgs, showDelta)
//	ans := assistant.Ground(comp.Text, articles)   // the same articles
//	store an Exchange; if err != nil || ans.Unknown { offer 转人工 prominently }
//
// # Safety lives in the prompt's shape and in Ground, not in the model
//
// The system message is a constant: nothing an employee types, and nothing
// an article says, ever reaches the system role. The articles and the
// conversation go in a single user message, one JSON object a line inside
// <articles> and <conversation> tags. encoding/json escapes quotes,
// newlines, "<", ">" and "&", so no text can end its line, close a tag,
// open a fake one, or start a line with "system:"; the tags need no secret
// nonce because the data cannot spell them. The builders take only the
// turns and articles they are given, so the type signature is what keeps
// other conversations, other employees and the desk's state out. Sizes are
// capped by a Budget: at most five articles, bodies cut evenly, the oldest
// turns dropped first, the newest always kept.
//
// A model can still ignore its instructions. So Ground treats the answer
// as untrusted: a citation [n] must name one of the articles, or it goes;
// a URL, e-mail address or phone-like number must appear in an article,
// or it is replaced with a visible placeholder, so an employee is never
// sent to an invented link or number. An answer that cites nothing, says
// it does not know, or starts with the marker the prompt asks for, is
// Unknown: the desk then puts 转人工 first.
//
// # The client reads the stream as the providers send it
//
// Stream posts {BaseURL}/chat/completions with stream: true and
// stream_options.include_usage, and reads server-sent events: data lines
// (several joined with "\n"), comments such as DeepSeek's ": keep-alive"
// sent while a request is queued, LF, CRLF or CR line endings. Each data
// is a chat.completion.chunk; only choices[0].delta.content is the answer,
// reasoning_content (DeepSeek's reasoner, Qwen with thinking) is ignored;
// usage comes on the finish chunk (DeepSeek) or on a last chunk with no
// choices (OpenAI, DashScope). The stream must end with data: [DONE];
// without it the answer is ErrTruncated, since a proxy that cuts a
// connection looks just like that. An {"error":{...}} object, before or
// inside the stream, becomes an *APIError.
//
// Three timeouts, because one cannot tell a slow start from a dead stream:
// FirstByteTimeout until the first event, IdleTimeout between events, and
// TotalTimeout for the whole. Keep-alive comments are not progress: to an
// employee a queued request is as slow as a silent one. One timer plays
// both watchdogs and cancels the request's context with a cause, so no
// goroutine is started per stream.
//
// The key is sent only in the Authorization header. Errors never carry it:
// net/http's URL is dropped from transport errors, and the provider's
// message is scrubbed of the key and of anything key-shaped, since
// OpenAI's 401 quotes a masked key. Config prints without it.
//
// # Failing fast
//
// The Breaker opens after three consecutive failures (timeouts, 5xx, 429,
// 401, broken streams) and refuses at once with ErrUnavailable for 30 s,
// then lets one trial through. A caller giving up, an empty or cut-short
// answer, or a 400 (this request at fault) say nothing about the provider
// and leave it as it is. The RateLimiter caps answers per employee in a
// sliding hour, keeping only the active employees in memory. Both take a
// clock for tests.
//
// Package assistantfake is an httptest server with the same wire shapes and
// the failure modes (Error, Stall, Malformed, Truncated), written without
// importing this package so that the two readings of the protocol check
// each other.
package assistant
