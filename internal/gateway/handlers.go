package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/presence"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// Conversations is what the gateway needs of the desk.
type Conversations interface {
	Send(ctx context.Context, actor desk.Principal, conversationID, body, clientMsgID string, attachments ...string) (desk.ConvEvent, bool, error)
	Events(ctx context.Context, viewer desk.Principal, conversationID string, afterSeq int64, limit int) ([]desk.ConvEvent, error)
	TypingAudience(ctx context.Context, sender desk.Principal, conversationID string) ([]desk.Principal, string, error)
	Read(ctx context.Context, actor desk.Principal, conversationID string, seq int64) (int64, error)
	SetPresence(ctx context.Context, actor desk.Principal, st desk.PresenceStatus) (desk.PresenceStatus, bool, error)
}

// handler acts on one parsed frame of a session.
type handler func(ctx context.Context, s *session, in *inbound) error

// defaultHandlers is what each role may send: both sides the same, and
// agents their presence too (an employee sending one gets unknown_type).
func defaultHandlers() map[desk.Role]map[string]handler {
	h := map[string]handler{
		wire.TypePing: handlePing, wire.TypeTyping: handleTyping, wire.TypeMessage: handleMessage,
		wire.TypeResume: handleResume, wire.TypeRead: handleRead,
	}
	agent := maps.Clone(h)
	agent[wire.TypePresence] = handlePresence
	agent[wire.TypePresenceFollow] = handleFollowPresence
	return map[desk.Role]map[string]handler{desk.RoleAgent: agent, desk.RoleEmployee: h}
}

var pongFrame = []byte(`{"type":"` + wire.TypePong + `"}`)

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
	ConversationID string    `json:"conversation_id"`
	SenderID       string    `json:"sender_id"`
	SenderName     string    `json:"sender_name"`
	SenderType     desk.Role `json:"sender_type"`
}

// maxSenderName bounds the display name a client may put in a typing event.
const maxSenderName = 100

// handleTyping shows the sender typing to the conversation's other
// participants, and only if the sender is one. It is not stored. The name
// shown is the one the desk knows: a sender_name in the frame is accepted,
// as the seed's front ends send one, and ignored, so nobody types as
// "IT Security Team".
func handleTyping(ctx context.Context, s *session, in *inbound) error {
	conv, ferr := requireConversation(in)
	if ferr != nil {
		return ferr
	}
	if in.SenderName != nil && utf8.RuneCountInString(*in.SenderName) > maxSenderName {
		return &frameError{Code: wire.CodeInvalidFrame, Message: fmt.Sprintf("sender_name is longer than %d characters", maxSenderName)}
	}
	audience, name, err := s.g.conversations.TypingAudience(ctx, s.user, conv)
	if err != nil || len(audience) == 0 {
		return err
	}
	frame, err := json.Marshal(typingEvent{Type: wire.TypeTyping, Data: typingData{
		ConversationID: conv, SenderID: s.user.ID, SenderName: name, SenderType: s.user.Role,
	}})
	if err != nil {
		return err
	}
	if err := s.g.bus.Publish(ctx, desk.Event{To: desk.Audience{Kind: desk.ToUsers, Users: audience}, Frame: frame}); err != nil {
		return &frameError{Code: wire.CodeUnavailable, Message: "could not deliver the event; try again", ConversationID: conv}
	}
	return nil
}

// ack confirms a message frame: the stored id and seq, and whether it was
// a retry of one already stored.
type ack struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	ClientMsgID    string `json:"client_msg_id,omitempty"`
	ID             string `json:"id"`
	Seq            int64  `json:"seq"`
	Duplicate      bool   `json:"duplicate"`
}

// handleMessage stores a message; the message.created event reaches every
// participant (the sender's own connections too), then the ack follows.
func handleMessage(ctx context.Context, s *session, in *inbound) error {
	conv, ferr := requireConversation(in)
	if ferr != nil {
		return ferr
	}
	ev, created, err := s.g.conversations.Send(ctx, s.user, conv, in.Body, in.ClientMsgID, in.Attachments...)
	if err != nil {
		return err
	}
	// Only the id: decoding the whole message (its time above all) cost
	// a quarter more, for every message a desk takes.
	var m struct {
		ID string `json:"id"`
	}
	json.Unmarshal(ev.Data, &m)
	frame, _ := json.Marshal(ack{Type: wire.TypeAck, ConversationID: conv, ClientMsgID: in.ClientMsgID, ID: m.ID, Seq: ev.Seq, Duplicate: !created})
	s.out.Send(frame)
	return nil
}

// resumed ends a replay: every event up to Seq has been sent; with More,
// ask again from Seq for the rest.
type resumed struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
	More           bool   `json:"more"`
}

// resumeBatch is the most events one resume frame replays; a client that
// was away longer asks again from the seq it got.
const resumeBatch = 500

// handleResume replays a conversation's events after the client's last seq,
// holding live events back meanwhile so the client sees one ordered stream.
func handleResume(ctx context.Context, s *session, in *inbound) error {
	conv, ferr := requireConversation(in)
	if ferr != nil {
		return ferr
	}
	if in.AfterSeq == nil || *in.AfterSeq < 0 {
		return &frameError{Code: wire.CodeInvalidFrame, Message: "resume needs after_seq (0 for everything)", ConversationID: conv}
	}
	gen := s.out.BeginResume(conv, *in.AfterSeq)
	replay, more, err := Replay(ctx, s.g.conversations, s.user, conv, *in.AfterSeq)
	if err != nil {
		ferr, ok := domainError(err, in)
		if !ok {
			s.g.log.Error("resume failed", idAttr(s.user.Role, s.user.ID), "conversation_id", conv, "error", err)
			ferr = &frameError{Code: wire.CodeInternal, Message: "internal error", ConversationID: conv}
		}
		// Only a conversation the client may read keeps a stream here.
		forget := ferr.Code == desk.ENotFound || ferr.Code == desk.EForbidden
		s.out.FailResume(conv, gen, errorFrame(ferr), forget)
		return nil
	}
	last := *in.AfterSeq
	if len(replay) > 0 {
		last = replay[len(replay)-1].Seq
	}
	done, _ := json.Marshal(resumed{Type: wire.TypeResumed, ConversationID: conv, Seq: last, More: more})
	s.out.EndResume(conv, gen, replay, done)
	return nil
}

// EventReader is what Replay needs of the desk.
type EventReader interface {
	Events(ctx context.Context, viewer desk.Principal, conversationID string, afterSeq int64, limit int) ([]desk.ConvEvent, error)
}

// Replay reads one page of the events after afterSeq that viewer may see,
// as the frames a live connection gets, for a resume and for the hub
// filling a gap (hub.Filler). more reports a full page.
func Replay(ctx context.Context, events EventReader, viewer desk.Principal, conversationID string, afterSeq int64) ([]hub.Replayed, bool, error) {
	evs, err := events.Events(ctx, viewer, conversationID, afterSeq, resumeBatch)
	if err != nil {
		return nil, false, err
	}
	replay := make([]hub.Replayed, 0, len(evs))
	for _, ev := range evs {
		frame, err := json.Marshal(ev)
		if err != nil {
			return nil, false, desk.Wrap(desk.EInternal, err, "encode event")
		}
		replay = append(replay, hub.Replayed{Seq: ev.Seq, Frame: frame})
	}
	return replay, len(evs) == resumeBatch, nil
}

// handleRead records the client's read position; the conversation.read
// event tells the other participants.
func handleRead(ctx context.Context, s *session, in *inbound) error {
	conv, ferr := requireConversation(in)
	if ferr != nil {
		return ferr
	}
	if in.Seq == nil {
		return &frameError{Code: wire.CodeInvalidFrame, Message: "read needs seq", ConversationID: conv}
	}
	_, err := s.g.conversations.Read(ctx, s.user, conv, *in.Seq)
	return err
}

// handlePresence sets the agent busy, away or back online. The answer is the
// presence frame every agent gets; when nothing changed (already away), it
// goes to the sender alone.
func handlePresence(ctx context.Context, s *session, in *inbound) error {
	st := desk.PresenceStatus(in.Status)
	if !st.Settable() {
		return &frameError{Code: wire.CodeInvalidFrame, Message: `presence needs "status": "online", "busy" or "away"`}
	}
	s.out.FollowPresence() // an agent who sets a status wants to see the others'
	now, changed, err := s.g.conversations.SetPresence(ctx, s.user, st)
	if err != nil {
		return err
	}
	if !changed {
		s.out.Send(presence.Frame(s.user.ID, now))
	}
	return nil
}

// handleFollowPresence subscribes this connection to presence
// announcements. Consoles that show who is online ask for them; a program
// holding many agent sockets need not receive every colleague's every
// change.
func handleFollowPresence(_ context.Context, s *session, _ *inbound) error {
	s.out.FollowPresence()
	return nil
}

// requireConversation reads the frame's conversation_id, which must be a
// non-empty string; one that cannot be a conversation id names none
// (not_found, as over REST), and is never echoed back.
func requireConversation(in *inbound) (string, *frameError) {
	conv, ok := conversationID(in.ConversationID)
	if !ok {
		return "", &frameError{Code: wire.CodeInvalidFrame, Message: in.Type + " needs a conversation_id (a non-empty string)", ClientMsgID: in.ClientMsgID}
	}
	if !desk.ValidConversationID(conv) {
		return "", &frameError{Code: desk.ENotFound, Message: "conversation not found", ClientMsgID: in.ClientMsgID}
	}
	return conv, nil
}

func conversationID(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil || s == "" || len(s) > 64 {
		return "", false
	}
	return s, true
}
