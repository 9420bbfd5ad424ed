package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.Bus = (*Redis)(nil)

// Defaults for RedisOptions.
const (
	// DefaultChannel is the one pub/sub channel every node publishes to
	// and subscribes to; each node's hub picks out its own connections.
	DefaultChannel = "servicedesk:events"
	// DefaultPublishTimeout bounds one PUBLISH (and one Check). A healthy
	// Redis answers in well under a millisecond; two seconds only runs out
	// when it is in trouble, and matches the conversation writer's budget.
	DefaultPublishTimeout = 2 * time.Second
	// DefaultPingInterval is how long the subscription may be silent before
	// it is pinged; with no answer within as long again it is lost. A Redis
	// that dies closes the connection and is noticed at once: this catches
	// one that hangs or a network that drops packets silently.
	DefaultPingInterval = 2 * time.Second
)

// Reconnection backoff: doubles from minBackoff to maxBackoff, with jitter
// so that nodes do not reconnect in lockstep.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// RedisOptions tune a Redis bus. Zero values take the defaults.
type RedisOptions struct {
	// Channel is the pub/sub channel (DefaultChannel). All nodes of one
	// deployment must use the same one.
	Channel string
	// NodeID names this node in the messages it publishes, for
	// diagnostics; a random id by default.
	NodeID string
	// PublishTimeout bounds each Publish and Check (DefaultPublishTimeout).
	PublishTimeout time.Duration
	// PingInterval is how long the subscription may stay silent before it
	// is pinged, and then how long the ping may go unanswered before the
	// subscription counts as lost (DefaultPingInterval).
	PingInterval time.Duration
	// OnLost is called, from Run's goroutine, when an established
	// subscription breaks. Events published until it is restored are never
	// seen by this node, so the node should close its connections with
	// 1012 and let clients resume from the database elsewhere. It is
	// called once per loss, and reconnecting waits for it to return.
	OnLost func(error)
	// OnRecovered is called, from Run's goroutine, once the subscription
	// is back after OnLost.
	OnRecovered func()
	// OnReceive, if set, is told how long each event took from Publish on
	// any node to this node's subscription; it must not block.
	OnReceive func(time.Duration)
	// Log receives the bus's own warnings; nil discards them.
	Log *slog.Logger
}

// Redis is the desk.Bus for several nodes: Publish sends each event to one
// Redis pub/sub channel, and every node's subscription (Run) hands it to
// that node's deliver function, the publisher's own included.
//
// Pub/sub rather than streams: the database is the record, and clients
// resume from it by seq, so the bus need not keep anything, and pub/sub
// delivers with lower latency and higher throughput (redis_bench_test.go).
// A node that was deaf for a while learns it through OnLost and makes its
// clients resume rather than replaying from Redis.
//
// Events published by one goroutine reach every node in publish order.
// Conversation events from different nodes can cross on the way; each
// connection's stream in the hub puts them back in seq order.
type Redis struct {
	client  *redis.Client
	opts    RedisOptions
	log     *slog.Logger
	deliver func(desk.Event)
	healthy atomic.Bool
	running atomic.Bool
	pongs   atomic.Int64 // answers to the subscription's pings, for tests

	mu     sync.Mutex
	probes map[string]chan struct{} // Check's nonces awaiting their round trip
}

// NewRedis returns a bus over client that delivers to deliver, which must
// not block (the hub only queues). Publish works at once; nothing is
// received until Run is called. The client must honour context deadlines
// (ContextTimeoutEnabled, as tokenstore.OpenRedis sets), or a hung Redis
// holds Publish for the client's own read timeout instead of
// PublishTimeout. The caller keeps ownership of client.
func NewRedis(client *redis.Client, opts RedisOptions, deliver func(desk.Event)) *Redis {
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.NodeID == "" {
		opts.NodeID = rand.Text()[:10]
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.OnLost == nil {
		opts.OnLost = func(error) {}
	}
	if opts.OnRecovered == nil {
		opts.OnRecovered = func() {}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Redis{
		client:  client,
		opts:    opts,
		log:     log,
		deliver: deliver,
		probes:  make(map[string]chan struct{}),
	}
}

// Publish sends ev to every node, giving up after PublishTimeout. Any
// failure is EUnavailable. The event is encoded before Publish returns, so
// the caller may reuse its buffers.
func (r *Redis) Publish(ctx context.Context, ev desk.Event) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	msg, err := encodeEvent(r.opts.NodeID, ev)
	if err != nil {
		return desk.Wrap(desk.EInternal, err, "encode event")
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout)
	defer cancel()
	return unavailable(r.client.Publish(ctx, r.opts.Channel, msg).Err())
}

// PublishBatch publishes evs in order in one round trip (a pipeline), all
// within one PublishTimeout: what a committed batch of the desk's writer
// sends. Any failure is EUnavailable, and some of evs may have gone out.
func (r *Redis) PublishBatch(ctx context.Context, evs []desk.Event) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout)
	defer cancel()
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, ev := range evs {
			msg, err := encodeEvent(r.opts.NodeID, ev)
			if err != nil {
				return desk.Wrap(desk.EInternal, err, "encode event")
			}
			p.Publish(ctx, r.opts.Channel, msg)
		}
		return nil
	})
	if desk.ErrorCode(err) == desk.EInternal {
		return err
	}
	return unavailable(err)
}

// Healthy reports whether the subscription is established right now.
func (r *Redis) Healthy() bool { return r.healthy.Load() }

// Check proves the bus works end to end, as a readiness probe should (a
// PING alone once kept a Centrifugo node "healthy" for hours with a dead
// subscription): it publishes a probe with a random nonce and waits for
// this node's own subscription to receive it, within ctx and
// PublishTimeout. Probes are never delivered. Any failure is EUnavailable.
func (r *Redis) Check(ctx context.Context) error {
	if !r.healthy.Load() {
		return desk.Errorf(desk.EUnavailable, "event bus not subscribed")
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout)
	defer cancel()
	nonce := rand.Text()
	got := make(chan struct{})
	r.mu.Lock()
	r.probes[nonce] = got
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.probes, nonce)
		r.mu.Unlock()
	}()
	if err := r.client.Publish(ctx, r.opts.Channel, string(msgProbe)+nonce).Err(); err != nil {
		return unavailable(err)
	}
	select {
	case <-got:
		return nil
	case <-ctx.Done():
		return desk.Wrap(desk.EUnavailable, ctx.Err(), "event bus round trip failed")
	}
}

// Run subscribes and delivers what arrives until ctx ends, then returns
// nil. When the subscription breaks it calls OnLost, resubscribes with
// backoff, and calls OnRecovered once back. Call it once.
func (r *Redis) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("bus: Redis.Run called twice")
	}
	lost := false // OnLost was called and OnRecovered is owed
	delay := minBackoff
	for {
		up, err := r.listen(ctx, func() {
			r.healthy.Store(true)
			delay = minBackoff
			if lost {
				lost = false
				r.log.Info("event bus subscription restored", "channel", r.opts.Channel)
				r.opts.OnRecovered()
			}
		})
		r.healthy.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if up {
			lost = true
			r.log.Error("event bus subscription lost", "channel", r.opts.Channel, "error", err)
			r.opts.OnLost(err)
		} else {
			r.log.Warn("event bus subscribe failed", "channel", r.opts.Channel, "error", err)
		}
		t := time.NewTimer(delay/2 + mrand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, maxBackoff)
	}
}

// listen runs one subscription until it fails or ctx ends, calling ready
// once Redis confirms it. up reports whether it got that far.
func (r *Redis) listen(ctx context.Context, ready func()) (up bool, err error) {
	ps := r.client.Subscribe(ctx, r.opts.Channel)
	defer ps.Close()
	// A blocked read only ends when its connection closes.
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		ps.Close()
		close(closed)
	})
	defer func() {
		if !stop() {
			<-closed
		}
	}()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, r.opts.PingInterval)
		switch {
		case ctx.Err() != nil:
			return up, nil
		case err != nil && up && !pinged && isTimeout(err):
			// Quiet is normal; silence after a PING is not.
			if err := ps.Ping(ctx); err != nil {
				return up, fmt.Errorf("ping subscription: %w", err)
			}
			pinged = true
			continue
		case err != nil && isTimeout(err):
			return up, fmt.Errorf("no answer from redis within %v: %w", r.opts.PingInterval, err)
		case err != nil:
			return up, err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && !up {
				up = true
				ready()
			}
		case *redis.Message:
			r.receive(m.Payload)
		case *redis.Pong:
			r.pongs.Add(1)
		}
	}
}

// receive acts on one message from the channel.
func (r *Redis) receive(msg string) {
	if msg == "" {
		return
	}
	switch msg[0] {
	case msgEvent:
		ev, sent, err := decodeEvent(msg)
		if err != nil {
			r.log.Error("decode bus event", "error", err)
			return
		}
		if r.opts.OnReceive != nil && !sent.IsZero() {
			r.opts.OnReceive(time.Since(sent))
		}
		r.deliver(ev)
	case msgProbe:
		r.mu.Lock()
		if got := r.probes[msg[1:]]; got != nil {
			close(got)
			delete(r.probes, msg[1:])
		}
		r.mu.Unlock()
	}
	// Any other kind comes from a newer node; skipping it is safe.
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unavailable reports any failure of Redis as EUnavailable.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return desk.Wrap(desk.EUnavailable, err, "event bus unavailable")
}
