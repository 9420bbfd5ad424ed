package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// inbound is every field any client frame may carry.
type inbound struct {
	Type           string          `json:"type"`
	ConversationID json.RawMessage `json:"conversation_id"`
	SenderName     *string         `json:"sender_name"`
	Body           string          `json:"body"`
	ClientMsgID    string          `json:"client_msg_id"`
	Attachments    []string        `json:"attachments"`
	AfterSeq       *int64          `json:"after_seq"`
	Seq            *int64          `json:"seq"`
	Status         string          `json:"status"`
}

// frameError is a problem with one frame: the client gets an error frame
// and the connection stays open. The conversation and client message id,
// when the frame had them, let the client match the error to what it sent.
type frameError struct {
	Code           string `json:"code"`
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id,omitempty"`
	ClientMsgID    string `json:"client_msg_id,omitempty"`
}

func (e *frameError) Error() string { return e.Code + ": " + e.Message }

// domainError turns a desk refusal into an error frame; anything else is
// the caller's to log.
func domainError(err error, in *inbound) (*frameError, bool) {
	code := desk.ErrorCode(err)
	if code == desk.EInternal {
		return nil, false
	}
	return &frameError{Code: code, Message: desk.ErrorMessage(err), ConversationID: echoedConversation(in), ClientMsgID: in.ClientMsgID}, true
}

// echoedConversation is the frame's conversation_id when it could be one:
// what an error frame echoes.
func echoedConversation(in *inbound) string {
	conv, ok := conversationID(in.ConversationID)
	if !ok || !desk.ValidConversationID(conv) {
		return ""
	}
	return conv
}

// parse decodes one text frame, saying precisely what is wrong with it.
func parse(data []byte) (*inbound, *frameError) {
	if !utf8.Valid(data) {
		// encoding/json would quietly make it U+FFFD; refuse it instead.
		return nil, &frameError{Code: desk.EInvalid, Message: "frame must be valid UTF-8"}
	}
	var in inbound
	if err := json.Unmarshal(data, &in); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn) || !json.Valid(data):
			return nil, &frameError{Code: wire.CodeInvalidJSON, Message: "frame is not valid JSON"}
		case errors.As(err, &typ) && typ.Field == "":
			return nil, &frameError{Code: wire.CodeInvalidJSON, Message: "frame must be a JSON object"}
		case errors.As(err, &typ):
			return nil, &frameError{Code: wire.CodeInvalidFrame, Message: fmt.Sprintf("field %s must be a %s", typ.Field, typ.Type)}
		default:
			return nil, &frameError{Code: wire.CodeInvalidFrame, Message: "frame could not be decoded"}
		}
	}
	if in.Type == "" {
		return nil, &frameError{Code: wire.CodeInvalidFrame, Message: `frame needs a "type"`}
	}
	return &in, nil
}

// dispatch parses one frame and runs its handler. It returns the error frame
// to send back, or nil.
func (s *session) dispatch(ctx context.Context, data []byte) []byte {
	in, ferr := parse(data)
	if ferr == nil {
		s.g.opts.Observer.FrameIn(in.Type)
		h, ok := s.g.handlers[s.user.Role][in.Type]
		if !ok {
			ferr = &frameError{Code: wire.CodeUnknownType, Message: fmt.Sprintf("unknown message type %q", truncate(in.Type, 64))}
		} else if err := h(ctx, s, in); err != nil && errors.As(err, &ferr) {
			// Every error frame echoes what the frame had (docs/protocol.md).
			if ferr.ConversationID == "" {
				ferr.ConversationID = echoedConversation(in)
			}
			if ferr.ClientMsgID == "" {
				ferr.ClientMsgID = in.ClientMsgID
			}
		} else if err != nil {
			var ok bool
			if ferr, ok = domainError(err, in); !ok {
				s.g.log.Error("frame handler failed", idAttr(s.user.Role, s.user.ID), "conn_id", s.out.ID(), "error", err)
				ferr = &frameError{Code: wire.CodeInternal, Message: "internal error", ConversationID: echoedConversation(in), ClientMsgID: in.ClientMsgID}
			}
		}
	}
	if ferr == nil {
		return nil
	}
	return errorFrame(ferr)
}

// handle dispatches one frame and answers with an error frame when needed.
// A panic is contained to this frame: logged, answered, and the connection
// and the server go on.
func (s *session) handle(ctx context.Context, data []byte) {
	defer func() {
		if v := recover(); v != nil {
			s.g.log.Error("frame handler panicked", idAttr(s.user.Role, s.user.ID), "conn_id", s.out.ID(),
				"error", fmt.Sprint(v), "stack", string(debug.Stack()))
			s.out.Send(errorFrame(&frameError{Code: wire.CodeInternal, Message: "internal error"}))
		}
	}()
	if reply := s.dispatch(ctx, data); reply != nil {
		s.out.Send(reply)
	}
}

func errorFrame(e *frameError) []byte {
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		*frameError
	}{wire.TypeError, e})
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
