// Package limits holds the per-user budgets that keep one user from
// degrading the desk for the others: how many frames and REST writes a
// person may send (one budget whatever the number of sockets or tabs), how
// many conversations they may start, and how many sockets a person or a
// client address may hold.
package limits

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Buckets is a token bucket per key, created on first use and forgotten
// when idle, so the map holds only the active users.
type Buckets struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	m       map[string]*bucket
	checked time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// idleAfter is how long an unused bucket is kept: long past a full refill,
// so forgetting it loses nothing.
const idleAfter = 10 * time.Minute

// NewBuckets returns buckets of perSecond with burst.
func NewBuckets(perSecond float64, burst int) *Buckets {
	return &Buckets{rate: rate.Limit(perSecond), burst: burst, m: make(map[string]*bucket)}
}

// Allow takes one token of key's bucket; when there is none it reports
// how long until there will be.
func (b *Buckets) Allow(key string) (bool, time.Duration) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.checked) > idleAfter {
		for k, v := range b.m {
			if now.Sub(v.seen) > idleAfter {
				delete(b.m, k)
			}
		}
		b.checked = now
	}
	e := b.m[key]
	if e == nil {
		e = &bucket{lim: rate.NewLimiter(b.rate, b.burst)}
		b.m[key] = e
	}
	e.seen = now
	r := e.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Key names a principal's budget.
func Key(p desk.Principal) string { return string(p.Role) + ":" + p.ID }

// Refused is the error a refused request gets: rate_limited, with when to
// come back.
type Refused struct{ RetryAfter time.Duration }

func (e *Refused) Error() string { return "rate limited" }

// Err returns a desk rate_limited error carrying retryAfter.
func Err(message string, retryAfter time.Duration) error {
	return desk.Wrap(desk.ERateLimited, &Refused{RetryAfter: retryAfter}, message)
}

// Counter counts live things per key (sockets per user, per address)
// against a cap. The key is whatever names them best: a desk.Principal for
// users, so counting a socket makes no string of its own.
type Counter[K comparable] struct {
	max int
	mu  sync.Mutex
	m   map[K]int
}

// NewCounter returns a counter that allows max per key.
func NewCounter[K comparable](max int) *Counter[K] {
	return &Counter[K]{max: max, m: make(map[K]int)}
}

// Acquire counts one more for key, unless it is at the cap.
func (c *Counter[K]) Acquire(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] >= c.max {
		return false
	}
	c.m[key]++
	return true
}

// Release counts one less for key.
func (c *Counter[K]) Release(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] <= 1 {
		delete(c.m, key)
		return
	}
	c.m[key]--
}
