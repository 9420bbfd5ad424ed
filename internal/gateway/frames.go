package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// inbound is every field any client frame may carry.
type inbound struct {
	Type           string          `json:"type"`
	ConversationID json.RawMessage `json:"conversation_id"`
	SenderName     *string         `json:"sender_name"`
}

// frameError is a problem with one frame: the client gets an error frame
// and the connection stays open.
type frameError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *frameError) Error() string { return e.Code + ": " + e.Message }

// Error frame codes. A client can branch on them; messages are for humans.
const (
	codeInvalidJSON  = "invalid_json"
	codeInvalidFrame = "invalid_frame"
	codeUnknownType  = "unknown_type"
	codeUnavailable  = "unavailable"
	codeInternal     = "internal_error"
)

// handler acts on one parsed frame of a session.
type handler func(ctx context.Context, s *session, in *inbound) error

// defaultHandlers is what each role may send. Employees only ping for now,
// as in the seed; typing for them comes with conversations.
func defaultHandlers() map[desk.Role]map[string]handler {
	return map[desk.Role]map[string]handler{
		desk.RoleAgent:    {"ping": handlePing, "typing": handleTyping},
		desk.RoleEmployee: {"ping": handlePing},
	}
}

var pongFrame = []byte(`{"type":"pong"}`)

func handlePing(_ context.Context, s *session, _ *inbound) error {
	s.out.Send(pongFrame)
	return nil
}

// typingEvent is the seed's typing frame, field for field.
type typingEvent struct {
	Type string     `json:"type"`
	Data typingData `json:"data"`
}

type typingData struct {
	ConversationID json.RawMessage `json:"conversation_id"`
	SenderID       string          `json:"sender_id"`
	SenderName     string          `json:"sender_name"`
	SenderType     desk.Role       `json:"sender_type"`
}

// maxSenderName bounds the display name a client may put in a typing event.
const maxSenderName = 100

// handleTyping fans an agent's typing indicator out to every connected
// agent, as the seed does; the conversations issue narrows the audience.
func handleTyping(ctx context.Context, s *session, in *inbound) error {
	if !validConversationID(in.ConversationID) {
		return &frameError{codeInvalidFrame, "typing needs a conversation_id (a non-empty string or a number)"}
	}
	name := s.user.ID
	if in.SenderName != nil && *in.SenderName != "" {
		name = *in.SenderName
	}
	if utf8.RuneCountInString(name) > maxSenderName {
		return &frameError{codeInvalidFrame, fmt.Sprintf("sender_name is longer than %d characters", maxSenderName)}
	}
	frame, err := json.Marshal(typingEvent{Type: "typing", Data: typingData{
		ConversationID: in.ConversationID, SenderID: s.user.ID, SenderName: name, SenderType: s.user.Role,
	}})
	if err != nil {
		return err
	}
	if err := s.g.bus.Publish(ctx, desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: frame}); err != nil {
		return &frameError{codeUnavailable, "could not deliver the event; try again"}
	}
	return nil
}

// validConversationID accepts what the seed's front ends send: a non-empty
// string or a number.
func validConversationID(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case '"':
		var s string
		return json.Unmarshal(raw, &s) == nil && s != ""
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

// parse decodes one text frame, saying precisely what is wrong with it.
func parse(data []byte) (*inbound, *frameError) {
	var in inbound
	if err := json.Unmarshal(data, &in); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn) || !json.Valid(data):
			return nil, &frameError{codeInvalidJSON, "frame is not valid JSON"}
		case errors.As(err, &typ) && typ.Field == "":
			return nil, &frameError{codeInvalidJSON, "frame must be a JSON object"}
		case errors.As(err, &typ):
			return nil, &frameError{codeInvalidFrame, fmt.Sprintf("field %s must be a %s", typ.Field, typ.Type)}
		default:
			return nil, &frameError{codeInvalidFrame, "frame could not be decoded"}
		}
	}
	if in.Type == "" {
		return nil, &frameError{codeInvalidFrame, `frame needs a "type"`}
	}
	return &in, nil
}

// dispatch parses one frame and runs its handler. It returns the error frame
// to send back, or nil.
func (s *session) dispatch(ctx context.Context, data []byte) []byte {
	in, ferr := parse(data)
	if ferr == nil {
		h, ok := s.g.handlers[s.user.Role][in.Type]
		if !ok {
			ferr = &frameError{codeUnknownType, fmt.Sprintf("unknown message type %q", truncate(in.Type, 64))}
		} else if err := h(ctx, s, in); err != nil && !errors.As(err, &ferr) {
			s.g.log.Error("frame handler failed", idAttr(s.user.Role, s.user.ID), "conn_id", s.connID, "error", err)
			ferr = &frameError{codeInternal, "internal error"}
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
			s.g.log.Error("frame handler panicked", idAttr(s.user.Role, s.user.ID), "conn_id", s.connID,
				"error", fmt.Sprint(v), "stack", string(debug.Stack()))
			s.out.Send(errorFrame(&frameError{codeInternal, "internal error"}))
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
	}{"error", e})
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
