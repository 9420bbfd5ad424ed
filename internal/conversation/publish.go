package conversation

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// publishTimeout bounds one publish, so a stuck bus cannot stall the writer.
const publishTimeout = 2 * time.Second

// publish sends a committed event to its audiences. A failure is logged and
// not retried: the event is stored, and clients catch up by seq.
func (s *Service) publish(ctx context.Context, d delivery) {
	frame, err := json.Marshal(d.ev)
	if err != nil {
		s.log.Error("encode event", "conversation_id", d.ev.ConversationID, "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	for _, to := range d.to {
		ev := desk.Event{To: to, Frame: frame, ConversationID: d.ev.ConversationID, Seq: d.ev.Seq}
		if err := s.bus.Publish(ctx, ev); err != nil {
			s.log.Warn("publish event", "conversation_id", d.ev.ConversationID, "seq", d.ev.Seq, "error", err)
		}
	}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns prefix plus 16 random base32 characters (80 bits): unique
// without coordination between nodes, and safe in URLs and keys.
func newID(prefix string) (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", desk.Wrap(desk.EInternal, err, "generate id")
	}
	return prefix + strings.ToLower(idEncoding.EncodeToString(b[:])), nil
}
