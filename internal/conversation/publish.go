package conversation

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Publishing, and why nothing committed is lost to live clients.
//
// The writer never publishes: it hands each committed batch to the
// publisher goroutine (handOver) and goes on with the next batch, so a bus
// that is slow or gone cannot hold up commits. The publisher publishes
// batches in commit order, then releases the callers waiting on them, who
// wait at most publishWait.
//
// A publish can still fail (Redis paused or down) and a node can die
// between commit and publish. With the outbox on, every batch's deliveries
// are written in the batch's own transaction and deleted once published;
// the sweeper on every node publishes entries that stayed behind longer
// than sweepAge, so an event whose publish failed reaches its live
// recipients within a sweep or two of the bus being back. Receivers (the
// hub) drop what a connection was already sent and fill gaps from the
// store, so publishing twice, late, or out of order is harmless.

const (
	// publishQueue bounds the batches waiting for the publisher. When it
	// is full the publisher is stuck on the bus: further batches are left
	// to the outbox rather than queued without limit.
	publishQueue = 1024
	// breakerCooldown: after a failed publish the publisher leaves new
	// batches to the outbox for this long instead of paying a timeout per
	// event against a bus that is down.
	breakerCooldown = time.Second
	// sweepInterval and sweepAge: how often each node looks for outbox
	// entries, and how old one must be before it counts as left behind
	// (a healthy publisher deletes its entries within milliseconds).
	sweepInterval = time.Second
	sweepAge      = 2 * time.Second
	// sweepLease is how long a claimed entry is a sweeper's alone.
	sweepLease = 10 * time.Second
	// sweepBatch caps the entries one sweep claims.
	sweepBatch = 64
)

// publication is one committed batch's deliveries, in seq order.
type publication struct {
	deliveries   []delivery
	entry        int64 // its outbox entry, 0 without the outbox
	queueChanged bool
	done         chan struct{} // closed once published or left to the outbox
}

// handOver queues p for the publisher without ever blocking the writer
// when the outbox holds p anyway.
func (s *Service) handOver(p *publication) {
	if len(p.deliveries) == 0 && !p.queueChanged {
		close(p.done)
		return
	}
	if !s.outbox {
		s.published <- p // the in-process bus never blocks
		return
	}
	select {
	case s.published <- p:
	default:
		s.log.Warn("publisher behind; leaving events to the outbox", "events", len(p.deliveries))
		close(p.done)
	}
}

// runPublisher publishes committed batches in order until the writer
// closes s.published.
func (s *Service) runPublisher() {
	for p := range s.published {
		if s.publishAll(p.deliveries) && p.entry != 0 {
			s.sent.add(p.entry)
		}
		close(p.done)
		if p.queueChanged {
			s.QueueChanged()
		}
	}
}

// publishAll publishes every delivery, in one round trip where the bus
// can batch; false if any failed (or was not tried because the bus
// recently failed), which leaves the batch to the outbox.
func (s *Service) publishAll(ds []delivery) bool {
	if len(ds) == 0 {
		return true
	}
	if s.outbox && s.breaker.open(s.now()) {
		return false
	}
	evs := make([]desk.Event, 0, 2*len(ds))
	for _, d := range ds {
		evs = appendEvents(evs, d, s.log)
	}
	err := s.publishEvents(evs)
	if err != nil {
		if s.outbox {
			s.breaker.trip(s.now())
		}
		s.log.Warn("publish events", "events", len(evs), "error", err)
		return false
	}
	return true
}

// appendEvents appends d's copies, one per audience, sharing one frame.
func appendEvents(evs []desk.Event, d delivery, log *slog.Logger) []desk.Event {
	frame, err := json.Marshal(d.ev)
	if err != nil {
		log.Error("encode event", "conversation_id", d.ev.ConversationID, "error", err)
		return evs
	}
	for _, t := range d.to {
		evs = append(evs, desk.Event{
			To: t.to, Frame: frame, ConversationID: d.ev.ConversationID, Seq: d.ev.Seq, Prev: t.prev,
		})
	}
	return evs
}

// batchPublisher is a bus that sends several events in one round trip
// (Redis: a pipeline), in order.
type batchPublisher interface {
	PublishBatch(ctx context.Context, evs []desk.Event) error
}

// publishEvents publishes evs in order within publishWait.
func (s *Service) publishEvents(evs []desk.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.publishWait)
	defer cancel()
	if b, ok := s.bus.(batchPublisher); ok && len(evs) > 1 {
		return b.PublishBatch(ctx, evs)
	}
	for _, ev := range evs {
		if err := s.bus.Publish(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// breaker remembers the last failed publish.
type breaker struct{ until atomic.Int64 }

func (b *breaker) trip(now time.Time)      { b.until.Store(now.Add(breakerCooldown).UnixNano()) }
func (b *breaker) open(now time.Time) bool { return now.UnixNano() < b.until.Load() }
func (b *breaker) reset()                  { b.until.Store(0) }

// sentOutbox collects the entries published since the last delete; the
// writer deletes them in its next transaction, or the sweeper does.
type sentOutbox struct {
	mu  sync.Mutex
	ids []int64
}

func (o *sentOutbox) add(id int64) {
	o.mu.Lock()
	o.ids = append(o.ids, id)
	o.mu.Unlock()
}

func (o *sentOutbox) take() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := o.ids
	o.ids = nil
	return ids
}

func (o *sentOutbox) giveBack(ids []int64) {
	if len(ids) == 0 {
		return
	}
	o.mu.Lock()
	o.ids = append(ids, o.ids...)
	o.mu.Unlock()
}

// outboxItem is one delivery in an outbox entry: which event (its frame is
// read back from the store) and who gets it.
type outboxItem struct {
	Conv string         `json:"c"`
	Seq  int64          `json:"s"`
	To   []outboxTarget `json:"t"`
}

type outboxTarget struct {
	To   desk.Audience `json:"a"`
	Prev int64         `json:"p,omitempty"`
}

func encodeOutbox(ds []delivery) ([]byte, error) {
	items := make([]outboxItem, len(ds))
	for i, d := range ds {
		items[i] = outboxItem{Conv: d.ev.ConversationID, Seq: d.ev.Seq, To: make([]outboxTarget, len(d.to))}
		for j, t := range d.to {
			items[i].To[j] = outboxTarget{To: t.to, Prev: t.prev}
		}
	}
	b, err := json.Marshal(items)
	if err != nil {
		return nil, desk.Wrap(desk.EInternal, err, "encode outbox entry")
	}
	return b, nil
}

// runSweeper publishes outbox entries left behind, on whichever node gets
// to them first, until ctx ends.
// Entries this node published and has not deleted yet when ctx ends stay
// behind, and some sweeper publishes them again: harmless.
func (s *Service) runSweeper(ctx context.Context) {
	every(ctx, sweepInterval, func() { s.sweep(ctx) })
}

// sweep deletes what the publisher published since the writer last did,
// then publishes one batch of entries left behind.
func (s *Service) sweep(ctx context.Context) {
	if ids := s.sent.take(); len(ids) > 0 {
		if err := s.store.DeleteOutbox(ctx, ids); err != nil {
			s.sent.giveBack(ids)
			s.log.Warn("delete outbox entries", "error", err)
			return
		}
	}
	now := s.now()
	entries, err := s.store.ClaimOutbox(ctx, now.Add(-sweepAge), now.Add(sweepLease), sweepBatch)
	if err != nil {
		s.log.Warn("claim outbox entries", "error", err)
		return
	}
	for i, e := range entries {
		if err := s.republish(ctx, e); err != nil {
			s.log.Warn("republish outbox entry", "error", err)
			rest := make([]int64, 0, len(entries)-i)
			for _, e := range entries[i:] {
				rest = append(rest, e.ID)
			}
			if err := s.store.ReleaseOutbox(ctx, rest); err != nil {
				s.log.Warn("release outbox entries", "error", err)
			}
			return
		}
		if err := s.store.DeleteOutbox(ctx, []int64{e.ID}); err != nil {
			s.log.Warn("delete outbox entry", "error", err)
		}
	}
	if len(entries) > 0 {
		s.breaker.reset() // the bus works again: back to publishing live
		s.log.Info("published events left behind", "entries", len(entries))
	}
}

// republish publishes one outbox entry's deliveries, reading each event's
// frame back from the store.
func (s *Service) republish(ctx context.Context, e desk.OutboxEntry) error {
	var items []outboxItem
	var out []desk.Event
	if err := json.Unmarshal(e.Deliveries, &items); err != nil {
		// Nothing to retry: log it and let the entry go.
		s.log.Error("decode outbox entry", "error", err)
		return nil
	}
	for _, it := range items {
		evs, err := s.store.Events(ctx, it.Conv, it.Seq-1, 1, true)
		if err != nil {
			return err
		}
		if len(evs) == 0 || evs[0].Seq != it.Seq {
			continue // deleted since (retention): nobody needs it live
		}
		d := delivery{ev: evs[0]}
		for _, t := range it.To {
			d.to = append(d.to, target{to: t.To, prev: t.Prev})
		}
		out = appendEvents(out, d, s.log)
	}
	return s.publishEvents(out)
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
