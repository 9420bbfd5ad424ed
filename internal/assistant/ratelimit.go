package assistant

import (
	"sync"
	"time"
)

// Rate limit defaults.
const (
	// DefaultAnswersPerWindow is how many answers one employee gets per
	// window: far more than a real IT problem needs, far fewer than a
	// script or a bored employee would burn through on the company's bill.
	DefaultAnswersPerWindow = 20
	// DefaultRateWindow is the window the limit counts over.
	DefaultRateWindow = time.Hour
	// DefaultRateMaxKeys caps the employees tracked at once. A key costs
	// at most 8 bytes per answer in its window, so the cap bounds memory at
	// a few tens of megabytes even in the worst case.
	DefaultRateMaxKeys = 100_000
)

// RateLimitConfig configures a RateLimiter. Zero fields take the defaults.
type RateLimitConfig struct {
	PerWindow int              // answers allowed per employee per window
	Window    time.Duration    // the sliding window
	MaxKeys   int              // employees tracked at once
	Now       func() time.Time // the clock; time.Now when nil
}

// RateLimiter allows each employee at most PerWindow answers in any
// sliding Window. It keeps the times of each employee's recent answers and
// forgets an employee once all of them have left the window, so memory
// follows the active employees only. It is safe for concurrent use.
type RateLimiter struct {
	per     int
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu    sync.Mutex
	seen  map[string][]int64 // employee → unix nanos of answers in the window, oldest first
	swept time.Time
}

// NewRateLimiter returns a limiter with cfg.
func NewRateLimiter(cfg RateLimitConfig) *RateLimiter {
	l := &RateLimiter{per: cfg.PerWindow, window: cfg.Window, maxKeys: cfg.MaxKeys, now: cfg.Now}
	if l.per <= 0 {
		l.per = DefaultAnswersPerWindow
	}
	if l.window <= 0 {
		l.window = DefaultRateWindow
	}
	if l.maxKeys <= 0 {
		l.maxKeys = DefaultRateMaxKeys
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.seen = make(map[string][]int64)
	return l
}

// Allow takes one answer from employeeID's allowance and reports whether
// there was one. When the limiter tracks MaxKeys employees already and
// none can be forgotten, a new employee is refused: the desk then offers a
// human agent, which is the safe side.
func (l *RateLimiter) Allow(employeeID string) bool {
	now := l.now()
	cutoff := now.Add(-l.window).UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.window {
		l.sweep(cutoff)
		l.swept = now
	}
	times, ok := l.seen[employeeID]
	if !ok && len(l.seen) >= l.maxKeys {
		l.sweep(cutoff)
		l.swept = now
		if len(l.seen) >= l.maxKeys {
			return false
		}
	}
	i := 0
	for i < len(times) && times[i] <= cutoff {
		i++
	}
	times = times[i:]
	if len(times) >= l.per {
		l.seen[employeeID] = times
		return false
	}
	l.seen[employeeID] = append(times, now.UnixNano())
	return true
}

// Len returns how many employees the limiter tracks, for tests and metrics.
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// sweep forgets the employees whose answers have all left the window.
func (l *RateLimiter) sweep(cutoff int64) {
	for k, times := range l.seen {
		if len(times) == 0 || times[len(times)-1] <= cutoff {
			delete(l.seen, k)
		}
	}
}
