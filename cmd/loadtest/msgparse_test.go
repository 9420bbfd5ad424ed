package main

import (
	"encoding/json"
	"testing"

	"github.com/servicedesk/servicedesk/internal/wire"
)

func TestParseDelivery(t *testing.T) {
	r := newMsgRun(msgConfig{rate: 10, duration: 1e9, conversations: 1}, "abc")
	tests := []struct {
		name  string
		frame string
		i     int
		k     int64
		sent  int64
		ok    bool
	}{
		{"employee message", `{"conversation_id":"cv_1","seq":5,"type":"message.created","data":{"id":"cv_1:5","body":"lt 1795789716302004879","sender_type":"employee","sender_id":"lt-emp-abc-7","client_msg_id":"lt-abc-7-42","created_at":"2026-11-27T14:28:36.408Z"},"created_at":"2026-11-27T14:28:36.408Z"}`, 7, 42, 1795789716302004879, true},
		{"opening message", `{"type":"message.created","data":{"body":"opened by the load test","sender_type":"employee","client_msg_id":"lt-abc-7-open"}}`, 0, 0, 0, false},
		{"another run", `{"type":"message.created","data":{"body":"lt 1","sender_type":"employee","client_msg_id":"lt-xyz-7-42"}}`, 0, 0, 0, false},
		{"agent message", `{"type":"message.created","data":{"body":"lt 1","sender_type":"agent","client_msg_id":"lt-abc-7-42"}}`, 0, 0, 0, false},
		{"claimed", `{"type":"conversation.claimed","data":{"agent_id":"agt_1"}}`, 0, 0, 0, false},
		{"ack", `{"type":"ack","conversation_id":"cv_1","client_msg_id":"lt-abc-7-42","id":"cv_1:5","seq":5}`, 0, 0, 0, false},
		{"send time overflows", `{"type":"message.created","data":{"body":"lt 99999999999999999999","sender_type":"employee","client_msg_id":"lt-abc-7-42"}}`, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, k, sent, ok := r.parseDelivery([]byte(tt.frame))
			if ok != tt.ok || (ok && (i != tt.i || k != tt.k || sent != tt.sent)) {
				t.Errorf("parseDelivery = %d, %d, %d, %v; want %d, %d, %d, %v", i, k, sent, ok, tt.i, tt.k, tt.sent, tt.ok)
			}
		})
	}
}

func TestParseClientMsgID(t *testing.T) {
	r := newMsgRun(msgConfig{rate: 10, duration: 1e9, conversations: 1}, "abc")
	tests := []struct {
		frame string
		i     int
		k     int64
		ok    bool
	}{
		{`{"type":"ack","conversation_id":"cv_1","client_msg_id":"lt-abc-3-9","id":"cv_1:4","seq":4,"duplicate":false}`, 3, 9, true},
		{`{"type":"error","code":"forbidden","client_msg_id":"lt-abc-3-9"}`, 3, 9, true},
		{`{"type":"ack","client_msg_id":"lt-abc-3"}`, 0, 0, false},
		{`{"type":"ack","client_msg_id":"lt-abc-3-9`, 0, 0, false},
		{`{"type":"pong"}`, 0, 0, false},
	}
	for _, tt := range tests {
		i, k, ok := r.parseClientMsgID([]byte(tt.frame))
		if ok != tt.ok || (ok && (i != tt.i || k != tt.k)) {
			t.Errorf("parseClientMsgID(%s) = %d, %d, %v; want %d, %d, %v", tt.frame, i, k, ok, tt.i, tt.k, tt.ok)
		}
	}
}

func TestStringField(t *testing.T) {
	b := []byte(`{"type":"error","code":"not_found","message":"conversation not found"}`)
	if got := string(stringField(b, `"code":"`)); got != "not_found" {
		t.Errorf("code = %q", got)
	}
	if got := string(stringField(b, `"missing":"`)); got != "?" {
		t.Errorf("missing = %q", got)
	}
}

// The frame the sender builds must be what the server expects: a message
// frame whose fields decode, with the send time in the body.
func TestMessageFrame(t *testing.T) {
	frame := appendMessage(nil, messagePrefix("cv_1", "abc", 7), 42, 1795789716302004879)
	var f struct {
		Type           string `json:"type"`
		ConversationID string `json:"conversation_id"`
		ClientMsgID    string `json:"client_msg_id"`
		Body           string `json:"body"`
	}
	if err := json.Unmarshal(frame, &f); err != nil {
		t.Fatalf("%s: %v", frame, err)
	}
	if f.Type != "message" || f.ConversationID != "cv_1" || f.ClientMsgID != "lt-abc-7-42" || f.Body != "lt 1795789716302004879" {
		t.Errorf("frame decodes to %+v", f)
	}
	if n := testing.AllocsPerRun(100, func() { frame = appendMessage(frame[:0], []byte(`{"x":"`), 42, 1) }); n != 0 {
		t.Errorf("appendMessage allocates %v times", n)
	}
}

// TestReadFrame: --read-claim's frame is the protocol's read frame.
func TestReadFrame(t *testing.T) {
	var f struct {
		Type           string `json:"type"`
		ConversationID string `json:"conversation_id"`
		Seq            int64  `json:"seq"`
	}
	frame := readFrame("cv_1", 3)
	if err := json.Unmarshal(frame, &f); err != nil {
		t.Fatalf("%s: %v", frame, err)
	}
	if f.Type != wire.TypeRead || f.ConversationID != "cv_1" || f.Seq != 3 {
		t.Errorf("frame decodes to %+v", f)
	}
}

func TestTypingEvent(t *testing.T) {
	var f struct {
		Type string `json:"type"`
		Data struct {
			ConversationID string `json:"conversation_id"`
			SenderID       string `json:"sender_id"`
			SenderName     string `json:"sender_name"`
			SenderType     string `json:"sender_type"`
		} `json:"data"`
	}
	b := typingEvent(nil, []byte("lt-3-12345"))
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Type != "typing" || f.Data.ConversationID != "lt-3-12345" || f.Data.SenderID != "lt-sender" || f.Data.SenderName != "lt" || f.Data.SenderType != "agent" {
		t.Errorf("typing event decodes to %+v", f)
	}
	if seq, sent, ok := parseEvent(b); !ok || seq != 3 || sent != 12345 {
		t.Errorf("receivers parse it as %d, %d, %v", seq, sent, ok)
	}
}

func TestHTTPBase(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8200":      "http://127.0.0.1:8200",
		"ws://127.0.0.1:8200/":     "http://127.0.0.1:8200",
		"wss://desk.example.com":   "https://desk.example.com",
		"wss://desk.example.com/x": "https://desk.example.com/x",
	} {
		if got := httpBase(in); got != want {
			t.Errorf("httpBase(%q) = %q, want %q", in, got, want)
		}
	}
}
