package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.TokenStore = (*Redis)(nil)

// DefaultRedisTimeout bounds each token store call when NewRedis is given
// no timeout. Every request and WebSocket upgrade waits on a lookup, and a
// healthy Redis answers in about a millisecond, so one second only ever
// runs out when Redis is in trouble; then we fail closed rather than pile up.
const DefaultRedisTimeout = time.Second

// redisIOTimeout bounds dials, reads and writes of clients from OpenRedis,
// for callers whose context has no deadline (go-redis's default is 5 s).
const redisIOTimeout = 2 * time.Second

// Redis is a desk.TokenStore in Redis, in the seed's layout: the plain
// string key desk.TokenKey(role, token) holds the principal's id and
// expires with the token.
type Redis struct {
	client  *redis.Client
	timeout time.Duration
	lookups lookupBatches
}

// NewRedis returns a store over client whose calls each give up after
// timeout (DefaultRedisTimeout if timeout <= 0). The client must honour
// context deadlines, as clients from OpenRedis do; otherwise a hung Redis
// holds callers for the client's own read timeout.
func NewRedis(client *redis.Client, timeout time.Duration) *Redis {
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	return &Redis{client: client, timeout: timeout}
}

// OpenRedis returns a client for a redis:// or rediss:// URL with short
// I/O timeouts unless the URL sets its own. It does not connect: callers
// decide whether a Redis that is down at start is fatal.
func OpenRedis(rawURL string) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password included; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, desk.Wrap(desk.EInvalid, err, "invalid redis URL")
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = redisIOTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = redisIOTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = redisIOTimeout
	}
	// Without this go-redis ignores the context once a command is on the
	// wire, and NewRedis's per-call timeout would not stop a hung server.
	opts.ContextTimeoutEnabled = true
	return redis.NewClient(opts), nil
}

// Ping checks that Redis answers within the store's timeout.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return unavailable(r.client.Ping(ctx).Err())
}

// Put stores token for id with a Redis TTL of ttl (PX when ttl has a
// fraction of a second, EX otherwise), replacing any earlier entry.
func (r *Redis) Put(ctx context.Context, role desk.Role, token, id string, ttl time.Duration) error {
	if err := checkPut(role, token, id, ttl); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	// The per-user index lets DeleteAll find the tokens we issued; it
	// lives as long as the newest of them (every token gets the same ttl).
	idx := userIndexKey(role, id)
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, desk.TokenKey(role, token), id, ttl)
		p.SAdd(ctx, idx, token)
		p.PExpire(ctx, idx, ttl)
		return nil
	})
	return unavailable(err)
}

// userIndexKey names the set of a user's tokens: "agent:tokens:{id}",
// beside the seed's "agent:token:{token}".
func userIndexKey(role desk.Role, id string) string { return string(role) + ":tokens:" + id }

// DeleteAll revokes every token Put issued to id and reports how many
// still existed. Tokens written into Redis by another login service are not
// indexed and so not found here.
func (r *Redis) DeleteAll(ctx context.Context, role desk.Role, id string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	idx := userIndexKey(role, id)
	tokens, err := r.client.SMembers(ctx, idx).Result()
	if err != nil {
		return 0, unavailable(err)
	}
	keys := []string{idx}
	for _, t := range tokens {
		keys = append(keys, desk.TokenKey(role, t))
	}
	n, err := r.client.Del(ctx, keys...).Result()
	if err != nil {
		return 0, unavailable(err)
	}
	if len(tokens) > 0 && n > 0 {
		n-- // the index itself
	}
	return int(n), nil
}

// Lookup returns the id token was issued to, or ENotFound. Lookups made
// while others are on the wire wait and go together in one MGET: every
// handshake and agent request asks, and at thousands a second one GET
// each was a fifth of the gateway's CPU, in syscalls.
func (r *Redis) Lookup(ctx context.Context, role desk.Role, token string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", unavailable(err)
	}
	call := &lookupCall{key: desk.TokenKey(role, token), done: make(chan struct{})}
	if r.lookups.add(call) {
		r.flushLookups()
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return "", unavailable(ctx.Err())
	}
	if call.err != nil {
		return "", unavailable(call.err)
	}
	// An empty value names no one; only a hand-written key could hold it.
	if call.id == "" {
		return "", errNotFound()
	}
	return call.id, nil
}

// maxLookupFlushes bounds the MGETs on the wire at once; more lookups
// wait for one of them to come back and go in the next.
const maxLookupFlushes = 4

// lookupBatches queues lookups for the callers flushing them.
type lookupBatches struct {
	mu       sync.Mutex
	pending  []*lookupCall
	flushing int
}

// lookupCall is one Lookup's key and, once done is closed, its answer.
type lookupCall struct {
	key  string
	done chan struct{}
	id   string
	err  error
}

// add queues c and reports whether its caller must flush: it must when
// fewer than maxLookupFlushes are on the wire, so a lookup never waits
// for an MGET that is not coming.
func (b *lookupBatches) add(c *lookupCall) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, c)
	if b.flushing >= maxLookupFlushes {
		return false
	}
	b.flushing++
	return true
}

// take hands a flusher everything queued, or says it is done.
func (b *lookupBatches) take() []*lookupCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	calls := b.pending
	b.pending = nil
	if len(calls) == 0 {
		b.flushing--
	}
	return calls
}

// flushLookups answers queued lookups with MGETs until none is left,
// each under the store's timeout whatever its callers' contexts: a caller
// that gave up no longer waits, and the others still get their answer.
func (r *Redis) flushLookups() {
	for {
		calls := r.lookups.take()
		if len(calls) == 0 {
			return
		}
		keys := make([]string, len(calls))
		for i, c := range calls {
			keys[i] = c.key
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		ids, err := r.mget(ctx, keys)
		cancel()
		for i, c := range calls {
			if c.err = err; err == nil {
				c.id = ids[i]
			}
			close(c.done)
		}
	}
}

// LookupMany looks tokens up in one round trip (MGET) and returns each
// one's owner, "" for a token that is missing or expired.
func (r *Redis) LookupMany(ctx context.Context, role desk.Role, tokens []string) ([]string, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	keys := make([]string, len(tokens))
	for i, t := range tokens {
		keys[i] = desk.TokenKey(role, t)
	}
	ids, err := r.mget(ctx, keys)
	return ids, unavailable(err)
}

// mget reads keys in one round trip: each one's value, "" for a missing
// key.
func (r *Redis) mget(ctx context.Context, keys []string) ([]string, error) {
	vals, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("MGET answered %d keys of %d", len(vals), len(keys))
	}
	out := make([]string, len(keys))
	for i, v := range vals {
		out[i], _ = v.(string) // nil: no such key
	}
	return out, nil
}

// Delete forgets token; deleting a missing token succeeds.
func (r *Redis) Delete(ctx context.Context, role desk.Role, token string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return unavailable(r.client.Del(ctx, desk.TokenKey(role, token)).Err())
}

// unavailable reports any failure of Redis itself as EUnavailable, so that
// callers refuse the token rather than mistake an outage for "not found".
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return desk.Wrap(desk.EUnavailable, err, "token store unavailable")
}
