package conversation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// queueDebounce gathers a burst of queue changes (a dozen claims in a
// second) into one round of position updates.
const queueDebounce = 100 * time.Millisecond

// QueueChanged asks for fresh queue positions to be pushed to every waiting
// employee: after a queue change, or when the number of agents online, or
// an employee's connections, change. It never blocks.
func (s *Service) QueueChanged() {
	select {
	case s.queueDirty <- struct{}{}:
	default:
	}
}

// queuePosition is the frame a waiting employee gets; it is not an event of
// the conversation (not stored, no seq), only the current state.
type queuePosition struct {
	Type string            `json:"type"`
	Data queuePositionData `json:"data"`
}

type queuePositionData struct {
	ConversationID string `json:"conversation_id"`
	Position       int    `json:"position"`
	QueueLength    int    `json:"queue_length"`
	AgentsOnline   int    `json:"agents_online"`
	// EstimatedWait (seconds) is how long the queue ahead should take at
	// the pace agents have lately taken conversations; absent when the
	// recent history says nothing.
	EstimatedWait int `json:"estimated_wait_seconds,omitempty"`
}

// runQueueUpdates pushes queue positions whenever QueueChanged was called,
// at most once per queueDebounce, until ctx ends.
func (s *Service) runQueueUpdates(ctx context.Context) {
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.queueDirty:
		}
		t.Reset(queueDebounce)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.pushQueuePositions(ctx)
	}
}

// pushQueuePositions tells each waiting employee their position, when it
// differs from what they were last told: a claim at the head of a long
// queue moves everyone, a new conversation at its tail moves no one.
func (s *Service) pushQueuePositions(ctx context.Context) {
	queue, err := s.store.Queue(ctx)
	if err != nil {
		s.log.Warn("read queue", "error", err)
		return
	}
	online := s.presence.OnlineCount()
	told := make(map[string]queuePositionData, len(queue))
	for i, c := range queue {
		data := queuePositionData{ConversationID: c.ID, Position: i + 1, QueueLength: len(queue), AgentsOnline: online,
			EstimatedWait: int(s.waits.estimate(s.now(), i+1).Seconds())}
		told[c.ID] = data
		if prev, ok := s.lastTold[c.ID]; ok && prev.Position == data.Position && prev.AgentsOnline == data.AgentsOnline {
			continue
		}
		frame, _ := json.Marshal(queuePosition{Type: wire.TypeQueuePosition, Data: data})
		to := desk.Audience{Kind: desk.ToUser, User: desk.Principal{Role: desk.RoleEmployee, ID: c.EmployeeID}}
		if err := s.bus.Publish(ctx, desk.Event{To: to, Frame: frame}); err != nil {
			s.log.Warn("publish queue position", "conversation_id", c.ID, "error", err)
		}
	}
	s.lastTold = told
}

// queuePosition is a queued conversation's 1-based place in the queue,
// counted on the index rather than read from the whole queue.
func (s *Service) queuePosition(ctx context.Context, c desk.Conversation) (int, error) {
	if c.QueuedAt == nil {
		return 0, nil
	}
	before, _, err := s.store.QueueRank(ctx, *c.QueuedAt, c.ID)
	if err != nil {
		return 0, err
	}
	return before + 1, nil
}
