// Package conversation is the service desk itself: employees' requests, the
// queue, agents claiming, inviting, transferring and resolving, messages both
// ways and private notes, read state, and the ordered, resumable event
// history that every change is recorded in and published from.
package conversation

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Defaults for the limits in Config.
const (
	// DefaultMaxBodyBytes is config.DefaultMaxBodyBytes, for callers that
	// build a Service without the config package.
	DefaultMaxBodyBytes = 4096
	// DefaultPublishWait is how long a caller's answer waits for its events
	// to be handed to the bus after they committed, and how long one
	// publish may take: long enough that a healthy bus (well under a
	// millisecond) always makes it, so an ack follows its event; short
	// enough that a bus in trouble never holds anyone up for long. It is
	// config.DefaultStoreTimeout.
	DefaultPublishWait = 2 * time.Second
	// maxBatch caps the commands committed in one transaction unless the
	// store says otherwise (batchSizer): enough to amortise a commit over
	// many messages, few enough that the first is not kept waiting, and
	// within PostgreSQL's 64 cached subtransactions (one savepoint per
	// command) beyond which every session's snapshots slow.
	maxBatch = 64
	// commitAttempts: a batch that fails as unavailable (a deadlock between
	// nodes, SQLite busy) is run again before its callers hear of it.
	commitAttempts = 3
	// DefaultCommitTimeout bounds one attempt at a batch, so a database
	// that hangs (rather than refuses) costs its callers seconds, not
	// forever. A healthy commit takes milliseconds.
	DefaultCommitTimeout = 5 * time.Second
	// DefaultMaxOpen: an employee with five requests waiting or in work
	// is better served by them than by a sixth; one person filing
	// thousands filled every agent's queue.
	DefaultMaxOpen = 5
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
	Presence Presence
	// Outbox keeps every batch's deliveries in the database until they
	// are published, and sweeps up what was not (see publish.go). Turn it
	// on wherever a publish can fail: with a bus between nodes. With the
	// in-process bus a publish cannot fail, so the writes would buy nothing.
	Outbox bool
	// PublishWait: see DefaultPublishWait.
	PublishWait time.Duration
	// CommitTimeout: see DefaultCommitTimeout.
	CommitTimeout time.Duration
	// NotifyDelay, when positive, owes people a WeCom card for what
	// happens in their conversations while they are not looking (see
	// notify.go); the card is due this long after the event.
	NotifyDelay time.Duration
	// Attachments keeps the records of uploaded files; without it no
	// conversation lists any (see Service.Attachments).
	Attachments desk.AttachmentStore
	// SearchBackfill, when set, lets a desk whose conversations predate
	// search index them once at start (see BackfillSearch).
	SearchBackfill BackfillSource
	// PendingResolveDays, when positive, resolves a conversation pending
	// on the employee after that many days without news (business days
	// with Hours), warning the employee a day before.
	PendingResolveDays int
	// Audit, when set, records admins reading conversations outside the
	// read rule.
	Audit Auditor
	// Hours is the desk's working time: a request out of hours is told
	// when the desk opens. Nil: always open.
	Hours Hours
	// Policies, with SLAStore, turns service levels on: each conversation's
	// clocks against the policy that matches it (sla.go).
	Policies Policies
	SLAStore SLAStore
	// Schedule, when set, is the working time and the automatic replies'
	// wording as admins set them at run time (internal/settings); it
	// takes the place of Hours.
	Schedule Schedule
	// Zone is the desk's time zone (Asia/Shanghai by default): reference
	// numbers start again each year there.
	Zone *time.Location
	// Reach, with WeCom, says whom cards reach (the SQL stores); without
	// it nobody is shown unreachable and no queue card is owed.
	Reach Reach
	// MaxOpen caps an employee's conversations that are queued or open
	// (DefaultMaxOpen); a new one past it is refused until one is resolved.
	MaxOpen int
	// Writers is how many writer goroutines commit in parallel, each
	// owning the conversations whose ids hash to it (1 by default). One
	// is all SQLite can use; PostgreSQL, whose statements are network round
	// trips, overlaps several transactions on different rows.
	Writers      int
	Log          *slog.Logger
	Now          func() time.Time
	MaxBodyBytes int
}

// Service runs the desk's commands and queries. Commands are committed by
// one writer goroutine in batches (group commit): a batch is one
// transaction, each command in it a savepoint. Its events are then handed
// to the publisher, which publishes them in commit order; a caller is
// answered once its events are published, or after PublishWait at most.
type Service struct {
	store         desk.ConversationStore
	agents        desk.AgentStore
	bus           desk.Bus
	presence      Presence
	reach         Reach
	attachments   desk.AttachmentStore
	zone          *time.Location // the desk's time zone: reference numbers count per year there
	hours         Hours          // nil: always open
	schedule      Schedule       // nil: hours is fixed
	policies      Policies       // nil: no service levels
	slaStore      SLAStore
	audit         Auditor
	pendingDays   int
	backfill      BackfillSource
	dispatchDirty chan struct{}
	waits         waits
	log           *slog.Logger
	now           func() time.Time
	maxBody       int
	outbox        bool
	maxOpen       int
	notifyDelay   time.Duration
	publishWait   time.Duration
	commitTimeout time.Duration

	shards     []chan *op        // one queue per writer; a conversation always uses the same
	maxBatch   int               // commands per transaction at most
	published  chan *publication // committed batches, in commit order, for the publisher
	sent       sentOutbox        // outbox entries published and not yet deleted
	breaker    breaker
	queueDirty chan struct{}
	stopped    chan struct{} // closed when Run returns: nothing commits after
	// lastTold is the queue position each waiting employee was last sent;
	// only runQueueUpdates touches it.
	lastTold map[string]queuePositionData
}

// New returns a Service; call Run to start its writer.
func New(cfg Config) *Service {
	s := &Service{
		store: cfg.Store, agents: cfg.Agents, bus: cfg.Bus, presence: cfg.Presence, reach: cfg.Reach, attachments: cfg.Attachments, hours: cfg.Hours, schedule: cfg.Schedule, policies: cfg.Policies, slaStore: cfg.SLAStore, audit: cfg.Audit, pendingDays: cfg.PendingResolveDays, backfill: cfg.SearchBackfill,
		log: cfg.Log, now: cfg.Now, maxBody: cfg.MaxBodyBytes, outbox: cfg.Outbox, maxOpen: cfg.MaxOpen, notifyDelay: cfg.NotifyDelay, publishWait: cfg.PublishWait, commitTimeout: cfg.CommitTimeout,
		published:  make(chan *publication, publishQueue),
		queueDirty: make(chan struct{}, 1), dispatchDirty: make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.publishWait <= 0 {
		s.publishWait = DefaultPublishWait
	}
	if s.maxOpen <= 0 {
		s.maxOpen = DefaultMaxOpen
	}
	if s.commitTimeout <= 0 {
		s.commitTimeout = DefaultCommitTimeout
	}
	if s.presence == nil {
		s.presence = noPresence{}
	}
	s.maxBatch = maxBatch
	if b, ok := cfg.Store.(batchSizer); ok && b.BatchSize() > 0 {
		s.maxBatch = b.BatchSize()
	}
	for range max(1, cfg.Writers) {
		s.shards = append(s.shards, make(chan *op, 4*s.maxBatch))
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.zone = cfg.Zone; s.zone == nil {
		s.zone = chinaTime
	}
	return s
}

// batchSizer is a store that commits more (or fewer) commands per
// transaction best than maxBatch.
type batchSizer interface {
	BatchSize() int
}

// chinaTime is Asia/Shanghai without needing the zone database: no
// daylight saving since 1991.
var chinaTime = time.FixedZone("CST", 8*60*60)

// op is one command waiting for the writer. run gets the writer's
// context, never its caller's: a caller hanging up must not cancel a
// transaction that other callers' commands share.
type op struct {
	run  func(ctx context.Context, tx desk.ConversationTx) (outcome, error)
	done chan opResult
	// loads is the conversation run locks and reads first, if known
	// (execOn); ConversationID "" if not.
	loads desk.LockHint
}

type opResult struct {
	out outcome
	err error
	// published is closed once the command's events were handed to the
	// bus (or given up on, left to the outbox); nil if there were none.
	published <-chan struct{}
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
// servers stopped), or late callers get "shutting down". The publisher and,
// with the outbox, its sweeper run beside it and stop after it.
func (s *Service) Run(ctx context.Context) {
	defer close(s.stopped)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.runQueueUpdates(ctx) })
	wg.Go(func() { s.runDispatcher(ctx) })
	wg.Go(s.runPublisher)
	defer close(s.published) // the publisher drains what committed, then ends
	if s.outbox {
		wg.Go(func() { s.runSweeper(ctx) })
	}
	if s.pendingDays > 0 {
		wg.Go(func() { s.runPendingSweep(ctx) })
	}
	wg.Go(func() { s.runBotSweep(ctx) })
	if s.policies != nil && s.slaStore != nil {
		wg.Go(func() { s.runSLASweep(ctx) })
	}
	wg.Go(func() {
		if n, err := s.BackfillSearch(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("index stored conversations for search", "error", err)
		} else if n > 0 {
			s.log.Info("stored conversations indexed for search", "count", n)
		}
	})
	var writers sync.WaitGroup
	for _, ops := range s.shards {
		writers.Go(func() { s.runWriter(ctx, ops) })
	}
	writers.Wait()
}

// runWriter commits the commands of one shard until ctx ends, then fails
// those still waiting.
func (s *Service) runWriter(ctx context.Context, ops chan *op) {
	batch := make([]*op, 0, s.maxBatch)
	for {
		select {
		case <-ctx.Done():
			failPending(ops)
			return
		case first := <-ops:
			batch = append(batch[:0], first)
		}
	fill:
		for len(batch) < s.maxBatch {
			select {
			case o := <-ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.commit(ctx, batch)
	}
}

func failPending(ops chan *op) {
	for {
		select {
		case o := <-ops:
			o.done <- opResult{err: errStopped}
		default:
			return
		}
	}
}

// commit runs a batch in one transaction, hands what committed to the
// publisher, then answers every caller.
func (s *Service) commit(ctx context.Context, batch []*op) {
	// The batch finishes even if ctx ends meanwhile (a drain): what its
	// callers were told must be what was stored.
	ctx = context.WithoutCancel(ctx)
	results := make([]opResult, len(batch))
	var err error
	var entry int64
	for attempt := 1; attempt <= commitAttempts; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.commitTimeout)
		entry, err = s.runBatch(actx, batch, results)
		cancel()
		if desk.ErrorCode(err) != desk.EUnavailable {
			break
		}
		s.log.Warn("commit failed, retrying", "error", err, "attempt", attempt)
	}
	s.finish(batch, results, entry, err)
}

// runBatch runs the batch's commands in one transaction, each in a
// savepoint so a command that fails undoes only itself. Only a failure of
// the transaction or connection itself fails the batch. With the outbox,
// the batch's deliveries are stored with it (their entry id is returned),
// and entries already published are deleted on the way.
func (s *Service) runBatch(ctx context.Context, batch []*op, results []opResult) (int64, error) {
	var entry int64
	deleted := s.sent.take()
	err := s.store.Update(ctx, func(tx desk.ConversationTx) error {
		entry = 0
		if err := tx.DeleteOutbox(ctx, deleted); err != nil {
			return err
		}
		if l, ok := tx.(lockerAhead); ok {
			if err := l.LockAhead(ctx, aheadOf(batch)); err != nil {
				return err
			}
		}
		var all []delivery
		for i, o := range batch {
			results[i] = opResult{}
			var runErr error
			err := tx.Savepoint(ctx, func() error {
				out, err := o.run(ctx, tx)
				results[i] = opResult{out: out, err: err}
				runErr = err
				return err
			})
			switch {
			case err == nil:
				all = append(all, results[i].out.events...)
			case err != runErr || desk.ErrorCode(err) == desk.EUnavailable || ctx.Err() != nil:
				// The savepoint could not be rolled back, or the database
				// went away: the transaction itself is in trouble.
				results[i].err = err
				return err
			case !isDomainError(err):
				// Rolled back to the savepoint: this command fails alone
				// (bad bytes PostgreSQL refused, a bug), the rest commit.
				s.log.Error("command failed", "error", err)
				results[i].err = desk.Wrap(desk.EInternal, err, "could not save")
			}
		}
		if s.outbox && len(all) > 0 {
			payload, err := encodeOutbox(all)
			if err != nil {
				return err
			}
			if entry, err = tx.AddOutbox(ctx, desk.OutboxEntry{CreatedAt: s.now(), Deliveries: payload}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.sent.giveBack(deleted)
	}
	return entry, err
}

// lockerAhead is a transaction that locks and reads, in one round trip,
// the conversations a batch's commands will load (PostgreSQL): each
// command's load then answers without a round trip of its own, as the
// batch's writes already go without one. Other stores lock and read as
// each command asks.
type lockerAhead interface {
	LockAhead(ctx context.Context, hints []desk.LockHint) error
}

// aheadOf lists what the batch's commands will load.
func aheadOf(batch []*op) []desk.LockHint {
	hints := make([]desk.LockHint, 0, len(batch))
	for _, o := range batch {
		if o.loads.ConversationID != "" {
			hints = append(hints, o.loads)
		}
	}
	return hints
}

// finish hands what committed to the publisher, then answers every caller.
func (s *Service) finish(batch []*op, results []opResult, entry int64, err error) {
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
	p := &publication{entry: entry, done: make(chan struct{})}
	for _, r := range results {
		if r.err != nil {
			continue
		}
		p.deliveries = append(p.deliveries, r.out.events...)
		p.queueChanged = p.queueChanged || r.out.queueChanged
	}
	s.handOver(p)
	for i, o := range batch {
		if results[i].err == nil && len(results[i].out.events) > 0 {
			results[i].published = p.done
		}
		o.done <- results[i]
	}
}

// shard picks key's writer.
func shard(key string, n int) int {
	if n == 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// isDomainError tells a refused command (bad input, not allowed, conflict)
// from a failing database.
func isDomainError(err error) bool {
	var e *desk.Error
	return errors.As(err, &e) && e.Code != desk.EInternal && e.Code != desk.EUnavailable
}

// exec submits a command to the writer and waits for its outcome, then for
// its events to be published (at most publishWait), so that an ack
// normally follows the event it acknowledges. A caller whose ctx ends
// stops waiting; its command, once queued, is still committed or refused,
// and a retry with the same client id finds it.
func (s *Service) exec(ctx context.Context, key string, run func(ctx context.Context, tx desk.ConversationTx) (outcome, error)) (any, error) {
	return s.submit(ctx, key, &op{run: run})
}

// execOn is exec for a command that first loads loads.ConversationID
// (the shard's key), as loads.Actor, looking up loads.ClientMsgID.
func (s *Service) execOn(ctx context.Context, loads desk.LockHint, run func(ctx context.Context, tx desk.ConversationTx) (outcome, error)) (any, error) {
	return s.submit(ctx, loads.ConversationID, &op{run: run, loads: loads})
}

func (s *Service) submit(ctx context.Context, key string, o *op) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, desk.Wrap(desk.EUnavailable, err, "request cancelled")
	}
	o.done = make(chan opResult, 1)
	select {
	case s.shards[shard(key, len(s.shards))] <- o:
	case <-ctx.Done():
		return nil, desk.Wrap(desk.EUnavailable, ctx.Err(), "request cancelled")
	case <-s.stopped:
		return nil, errStopped
	}
	var r opResult
	select {
	case r = <-o.done:
	case <-ctx.Done():
		return nil, desk.Wrap(desk.EUnavailable, ctx.Err(), "request cancelled")
	case <-s.stopped:
		select {
		case r = <-o.done:
		default:
			r.err = errStopped
		}
	}
	if r.published != nil {
		t := time.NewTimer(s.publishWait)
		select {
		case <-r.published:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	return r.out.value, r.err
}
