package bus

import (
	"bytes"
	"context"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.Bus = (*Memory)(nil)

// Memory is the single-node desk.Bus: Publish hands each event straight to
// the deliver function, on the publisher's goroutine, which is what keeps
// one publisher's events in order.
type Memory struct {
	deliver func(desk.Event)
}

// NewMemory returns a bus that delivers to deliver, which must not be nil
// and must not block: the hub only queues the event for its connections.
func NewMemory(deliver func(desk.Event)) *Memory {
	return &Memory{deliver: deliver}
}

// Publish delivers ev unless ctx is already done. The event is copied
// first, so, as with a bus that serialises, the caller may reuse its Frame
// buffer once Publish returns.
func (m *Memory) Publish(ctx context.Context, ev desk.Event) error {
	if err := ctx.Err(); err != nil {
		return desk.Wrap(desk.EUnavailable, err, "event bus unavailable")
	}
	ev.Frame = bytes.Clone(ev.Frame)
	if ev.Close != nil {
		c := *ev.Close
		ev.Close = &c
	}
	m.deliver(ev)
	return nil
}
