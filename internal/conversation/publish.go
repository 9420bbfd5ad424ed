package conversation

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"strings"
	"sync/atomic"
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

// idEncoding is base32 with the "hex" alphabet, whose characters sort in
// the order of the values they encode.
var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// idCounter orders the ids one process makes within a millisecond.
var idCounter atomic.Uint32

// newID returns prefix plus 16 base32 characters: 48 bits of Unix
// milliseconds, a 16-bit per-process counter and 16 random bits. Ids sort by
// creation time (strictly, within one process), which keeps the queue first
// come first served when two conversations arrive in the same millisecond;
// the random bits keep nodes from colliding.
func newID(prefix string) (string, error) {
	var b [10]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16|uint64(uint16(idCounter.Add(1))))
	if _, err := rand.Read(b[8:]); err != nil {
		return "", desk.Wrap(desk.EInternal, err, "generate id")
	}
	return prefix + strings.ToLower(idEncoding.EncodeToString(b[:])), nil
}
