// Package conversation is the service desk itself: employees' requests, the
// queue, agents claiming, inviting, transferring and resolving, messages both
// ways and private notes, read state, and the ordered, resumable event
// history that every change is recorded in and published from.
package conversation

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Defaults for the limits in Config.
const (
	// DefaultMaxBodyBytes is config.DefaultMaxBodyBytes, for callers that
	// build a Service without the config package.
	DefaultMaxBodyBytes = 4096
	// maxBatch caps the commands committed in one transaction: enough to
	// amortise a commit over many messages, few enough that the first is not
	// kept waiting, and within PostgreSQL's 64 cached subtransactions (one
	// savepoint per command) beyond which every session's snapshots slow.
	maxBatch = 64
	// commitAttempts: a batch that fails as unavailable (a deadlock between
	// nodes, SQLite busy) is run again before its callers hear of it.
	commitAttempts = 3
	// maxSubjectRunes bounds a conversation's subject line.
	maxSubjectRunes = 200
	// MaxPageSize caps the events and conversations returned per page.
	MaxPageSize = 500
)

// Config holds a Service's dependencies.
type Config struct {
	Store  desk.ConversationStore
	Agents desk.AgentStore
	Bus    desk.Bus
	// Presence says who is online and records agents' away/online choice;
	// without it every agent reads as offline and SetPresence is refused.
	Presence     Presence
	Log          *slog.Logger
	Now          func() time.Time
	MaxBodyBytes int
}

// Service runs the desk's commands and queries. Commands are committed by
// one writer goroutine in batches (group commit): a batch is one
// transaction, each command in it a savepoint, and its events are published
// in commit order before any caller is answered.
type Service struct {
	store    desk.ConversationStore
	agents   desk.AgentStore
	bus      desk.Bus
	presence Presence
	log      *slog.Logger
	now      func() time.Time
	maxBody  int

	ops        chan *op
	queueDirty chan struct{}
	stopped    chan struct{} // closed when Run returns: nothing commits after
	// lastTold is the queue position each waiting employee was last sent;
	// only runQueueUpdates touches it.
	lastTold map[string]queuePositionData
}

// New returns a Service; call Run to start its writer.
func New(cfg Config) *Service {
	s := &Service{
		store: cfg.Store, agents: cfg.Agents, bus: cfg.Bus, presence: cfg.Presence,
		log: cfg.Log, now: cfg.Now, maxBody: cfg.MaxBodyBytes,
		ops:        make(chan *op, 4*maxBatch),
		queueDirty: make(chan struct{}, 1),
		stopped:    make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.presence == nil {
		s.presence = noPresence{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// op is one command waiting for the writer.
type op struct {
	run  func(tx desk.ConversationTx) (outcome, error)
	done chan opResult
}

type opResult struct {
	out outcome
	err error
}

// outcome is what a committed command produced: events to publish, in seq
// order, and the value its caller gets.
type outcome struct {
	events       []delivery
	value        any
	queueChanged bool
}

// errStopped answers commands submitted after Run has ended.
var errStopped = desk.Errorf(desk.EUnavailable, "service is shutting down")

// Run commits commands until ctx ends, then fails those still waiting. Cancel
// ctx only once nothing submits commands any more (HTTP and WebSocket
// servers stopped), or late callers get "shutting down".
func (s *Service) Run(ctx context.Context) {
	defer close(s.stopped)
	queueDone := make(chan struct{})
	go func() { defer close(queueDone); s.runQueueUpdates(ctx) }()
	defer func() { <-queueDone }()
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			s.failPending()
			return
		case first := <-s.ops:
			batch = append(batch[:0], first)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.commit(ctx, batch)
	}
}

func (s *Service) failPending() {
	for {
		select {
		case o := <-s.ops:
			o.done <- opResult{err: errStopped}
		default:
			return
		}
	}
}

// commit runs a batch in one transaction, publishes what committed, then
// answers every caller.
func (s *Service) commit(ctx context.Context, batch []*op) {
	results := make([]opResult, len(batch))
	var err error
	for attempt := 1; attempt <= commitAttempts; attempt++ {
		if err = s.runBatch(ctx, batch, results); desk.ErrorCode(err) != desk.EUnavailable || ctx.Err() != nil {
			break
		}
		s.log.Warn("commit failed, retrying", "error", err, "attempt", attempt)
	}
	s.finish(ctx, batch, results, err)
}

// runBatch runs the batch's commands in one transaction, each in a
// savepoint so a refused command does not undo the others.
func (s *Service) runBatch(ctx context.Context, batch []*op, results []opResult) error {
	return s.store.Update(ctx, func(tx desk.ConversationTx) error {
		for i, o := range batch {
			results[i] = opResult{}
			err := tx.Savepoint(ctx, func() error {
				out, err := o.run(tx)
				results[i] = opResult{out: out, err: err}
				return err
			})
			if err != nil && results[i].err == nil {
				results[i].err = err
			}
			if !isDomainError(results[i].err) && results[i].err != nil {
				// The transaction itself is in trouble: give up on the batch.
				return results[i].err
			}
		}
		return nil
	})
}

// finish publishes what committed, then answers every caller.
func (s *Service) finish(ctx context.Context, batch []*op, results []opResult, err error) {
	if err != nil {
		s.log.Error("commit failed", "error", err, "batch", len(batch))
		for i, o := range batch {
			e := err
			if isDomainError(results[i].err) {
				e = desk.Wrap(desk.EUnavailable, err, "could not save; try again")
			} else if desk.ErrorCode(err) != desk.EUnavailable {
				e = desk.Wrap(desk.EInternal, err, "could not save")
			}
			o.done <- opResult{err: e}
		}
		return
	}
	queueChanged := false
	for _, r := range results {
		if r.err != nil {
			continue
		}
		for _, d := range r.out.events {
			s.publish(ctx, d)
		}
		queueChanged = queueChanged || r.out.queueChanged
	}
	if queueChanged {
		s.QueueChanged()
	}
	for i, o := range batch {
		o.done <- results[i]
	}
}

// isDomainError tells a refused command (bad input, not allowed, conflict)
// from a failing database.
func isDomainError(err error) bool {
	var e *desk.Error
	return errors.As(err, &e) && e.Code != desk.EInternal && e.Code != desk.EUnavailable
}

// exec submits a command to the writer and waits for its outcome.
func (s *Service) exec(ctx context.Context, run func(tx desk.ConversationTx) (outcome, error)) (any, error) {
	o := &op{run: run, done: make(chan opResult, 1)}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		return nil, desk.Wrap(desk.EUnavailable, ctx.Err(), "request cancelled")
	case <-s.stopped:
		return nil, errStopped
	}
	// Once submitted the command will be committed or refused; wait for
	// the answer even if the caller has gone, so nothing is half-known.
	var r opResult
	select {
	case r = <-o.done:
	case <-s.stopped:
		select {
		case r = <-o.done:
		default:
			r.err = errStopped
		}
	}
	return r.out.value, r.err
}
