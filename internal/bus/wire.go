package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// A message on the Redis channel starts with one byte that says what it is,
// so a node can drop what it does not understand (or a probe that is not
// its own) without parsing:
//
//	E{header JSON}\n<frame bytes>   an event
//	P<nonce>                        a readiness probe, never delivered
//
// The header is small and never contains a raw newline (JSON escapes them),
// so the frame follows the first '\n' byte for byte and is never re-parsed.
const (
	msgEvent = 'E'
	msgProbe = 'P'
)

// wireHeader is everything of a desk.Event but its frame, with short keys:
// a typical header is under 120 bytes.
type wireHeader struct {
	Node        string            `json:"n,omitempty"` // the publishing node, for diagnostics
	Kind        desk.AudienceKind `json:"k"`
	User        wirePrincipal     `json:"u,omitzero"`
	Users       []wirePrincipal   `json:"us,omitzero"` // omitzero keeps an empty, non-nil slice as []
	Fingerprint string            `json:"f,omitempty"`
	Close       *wireClose        `json:"c,omitempty"`
	Conv        string            `json:"cv,omitempty"`
	Seq         int64             `json:"s,omitempty"`
	Prev        int64             `json:"p,omitempty"`
	// Sent is the publish time in Unix microseconds, so receivers can
	// measure the trip (across nodes, clocks are as good as NTP makes them).
	Sent int64 `json:"t,omitempty"`
}

type wirePrincipal struct {
	Role desk.Role `json:"r"`
	ID   string    `json:"i"`
}

type wireClose struct {
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// encodeEvent returns the channel message for ev, published by node.
func encodeEvent(node string, ev desk.Event) ([]byte, error) {
	h := wireHeader{
		Node:        node,
		Kind:        ev.To.Kind,
		User:        wirePrincipal(ev.To.User),
		Fingerprint: ev.To.Fingerprint,
		Conv:        ev.ConversationID,
		Seq:         ev.Seq,
		Prev:        ev.Prev,
		Sent:        time.Now().UnixMicro(),
	}
	if ev.To.Users != nil {
		h.Users = make([]wirePrincipal, len(ev.To.Users))
		for i, p := range ev.To.Users {
			h.Users[i] = wirePrincipal(p)
		}
	}
	if ev.Close != nil {
		h.Close = &wireClose{Code: ev.Close.Code, Reason: ev.Close.Reason}
	}
	head, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode event header: %w", err)
	}
	msg := make([]byte, 0, 1+len(head)+1+len(ev.Frame))
	msg = append(msg, msgEvent)
	msg = append(msg, head...)
	msg = append(msg, '\n')
	return append(msg, ev.Frame...), nil
}

var errMalformed = errors.New("malformed event message")

// decodeEvent parses a message that starts with msgEvent, and returns when
// it was published (zero if the sender did not say).
func decodeEvent(msg string) (desk.Event, time.Time, error) {
	nl := strings.IndexByte(msg, '\n')
	if len(msg) == 0 || msg[0] != msgEvent || nl < 0 {
		return desk.Event{}, time.Time{}, errMalformed
	}
	var h wireHeader
	if err := json.Unmarshal([]byte(msg[1:nl]), &h); err != nil {
		return desk.Event{}, time.Time{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	ev := desk.Event{
		To: desk.Audience{
			Kind:        h.Kind,
			User:        desk.Principal(h.User),
			Fingerprint: h.Fingerprint,
		},
		ConversationID: h.Conv,
		Seq:            h.Seq,
		Prev:           h.Prev,
	}
	if h.Users != nil {
		ev.To.Users = make([]desk.Principal, len(h.Users))
		for i, p := range h.Users {
			ev.To.Users[i] = desk.Principal(p)
		}
	}
	if h.Close != nil {
		ev.Close = &desk.Close{Code: h.Close.Code, Reason: h.Close.Reason}
	}
	if frame := msg[nl+1:]; frame != "" {
		ev.Frame = []byte(frame)
	}
	var sent time.Time
	if h.Sent > 0 {
		sent = time.UnixMicro(h.Sent)
	}
	return ev, sent, nil
}
