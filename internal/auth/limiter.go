package auth

import (
	"sync"
	"time"
)

// Login limits. Fixed windows are coarse but cheap and easy to explain in a
// support ticket ("wait up to 15 minutes").
const (
	// MaxFailuresPerUsername stops online guessing of one account's password:
	// 10 guesses per 15 minutes is under 1,000 a day, hopeless against any
	// 8-character password, and still generous for a person mistyping.
	MaxFailuresPerUsername = 10
	// MaxFailuresPerAddress stops one client spraying many usernames. It is
	// higher than the per-username limit because an office behind one NAT
	// address shares it.
	MaxFailuresPerAddress = 30
	// FailureWindow is how long failures are remembered, and so the longest
	// a locked-out user waits.
	FailureWindow = 15 * time.Minute
)

// maxLimiterKeys bounds a limiter's memory (about 100 bytes a key) when
// an attacker sprays more distinct keys within one window than sweeping
// can drop. Past it, an arbitrary key is forgotten: that can only relax
// the limit for someone able to send this many failing logins anyway.
const maxLimiterKeys = 100_000

// Limiter counts login attempts per key (a username, a client address) in
// fixed windows and refuses a key once it has used up its window.
//
// An attempt counts as a failure from the moment it starts, so many
// concurrent requests cannot all slip past the check before the first one
// fails; a successful attempt is then taken back with Undo or Reset.
//
// Safe for concurrent use.
type Limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	windows   map[string]*failureWindow
	lastSweep time.Time
}

type failureWindow struct {
	start    time.Time
	failures int
}

// NewLimiter returns a limiter allowing limit attempts per key in each
// window, reading the time from now (time.Now when nil).
func NewLimiter(limit int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{limit: limit, window: window, now: now, windows: make(map[string]*failureWindow)}
}

// Attempt reports whether key may try now. If it may, the attempt is counted
// as a failure at once; if not, retryAfter says when its window ends.
func (l *Limiter) Attempt(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maybeSweep(now)

	w := l.windows[key]
	switch {
	case w == nil:
		l.evictIfFull()
		w = &failureWindow{start: now}
		l.windows[key] = w
	case !now.Before(w.start.Add(l.window)):
		*w = failureWindow{start: now}
	}
	if w.failures >= l.limit {
		return false, w.start.Add(l.window).Sub(now)
	}
	w.failures++
	return true, 0
}

// Undo takes back one attempt of key that turned out not to be a failure:
// it succeeded, or it never got as far as checking a password.
func (l *Limiter) Undo(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.windows[key]; w != nil && w.failures > 0 {
		w.failures--
	}
}

// Reset forgets key's failures, after a successful login.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.windows, key)
}

// maybeSweep drops ended windows, at most once per window length, so the
// map holds only keys seen in roughly the last two windows.
func (l *Limiter) maybeSweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.window {
		return
	}
	l.lastSweep = now
	for k, w := range l.windows {
		if !now.Before(w.start.Add(l.window)) {
			delete(l.windows, k)
		}
	}
}

func (l *Limiter) evictIfFull() {
	if len(l.windows) < maxLimiterKeys {
		return
	}
	for k := range l.windows {
		delete(l.windows, k)
		return
	}
}

// len returns how many keys the limiter remembers, for tests.
func (l *Limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.windows)
}
