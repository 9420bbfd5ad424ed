package auth

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// attempts is what Login needs of a limiter: Limiter in process, or
// RedisLimiter, which counts on every node together.
type attempts interface {
	Attempt(key string) (ok bool, retryAfter time.Duration)
	Undo(key string)
	Reset(key string)
}

var (
	_ attempts = (*Limiter)(nil)
	_ attempts = (*RedisLimiter)(nil)
)

// redisCallTimeout bounds one limiter call; past it the node's own count
// decides.
const redisCallTimeout = 500 * time.Millisecond

// attemptScript counts one attempt in a fixed window; over the limit it
// takes the attempt back and answers the window's time left, negated.
var attemptScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  redis.call('DECR', KEYS[1])
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[1]) end
  return -ttl
end
return n`)

// RedisLimiter is Limiter counted in Redis, so several nodes together
// allow a key its limit once, not once each. If Redis cannot answer, the
// node's own Limiter decides: the desk still throttles, per node.
type RedisLimiter struct {
	client redis.UniversalClient
	prefix string
	limit  int
	window time.Duration
	local  *Limiter
}

// NewRedisLimiter counts attempts under prefix in client.
func NewRedisLimiter(client redis.UniversalClient, prefix string, limit int, window time.Duration) *RedisLimiter {
	return &RedisLimiter{client: client, prefix: prefix, limit: limit, window: window, local: NewLimiter(limit, window, nil)}
}

func (l *RedisLimiter) key(k string) string { return "servicedesk:limit:" + l.prefix + ":" + k }

func (l *RedisLimiter) Attempt(key string) (bool, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), redisCallTimeout)
	defer cancel()
	n, err := attemptScript.Run(ctx, l.client, []string{l.key(key)}, l.window.Milliseconds(), l.limit).Int64()
	if err != nil {
		return l.local.Attempt(key)
	}
	if n < 0 {
		return false, time.Duration(-n) * time.Millisecond
	}
	return true, 0
}

func (l *RedisLimiter) Undo(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), redisCallTimeout)
	defer cancel()
	if l.client.Decr(ctx, l.key(key)).Err() != nil {
		l.local.Undo(key)
	}
}

func (l *RedisLimiter) Reset(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), redisCallTimeout)
	defer cancel()
	if l.client.Del(ctx, l.key(key)).Err() != nil {
		l.local.Reset(key)
	}
}
