package auth

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLimiter(t *testing.T) {
	const limit, window = 3, time.Minute
	tests := []struct {
		name      string
		run       func(l *Limiter, c *fakeClock)
		wantOK    bool
		wantRetry time.Duration
	}{
		{"fresh key", func(*Limiter, *fakeClock) {}, true, 0},
		{"under the limit", func(l *Limiter, _ *fakeClock) {
			l.Attempt("k")
			l.Attempt("k")
		}, true, 0},
		{"at the limit", func(l *Limiter, c *fakeClock) {
			l.Attempt("k")
			c.Advance(10 * time.Second)
			l.Attempt("k")
			l.Attempt("k")
		}, false, 50 * time.Second},
		{"other keys do not count", func(l *Limiter, _ *fakeClock) {
			l.Attempt("a")
			l.Attempt("b")
			l.Attempt("c")
		}, true, 0},
		{"window ends", func(l *Limiter, c *fakeClock) {
			l.Attempt("k")
			l.Attempt("k")
			l.Attempt("k")
			c.Advance(window)
		}, true, 0},
		{"refused attempts do not extend the window", func(l *Limiter, c *fakeClock) {
			for range 3 {
				l.Attempt("k")
			}
			c.Advance(30 * time.Second)
			l.Attempt("k")
			l.Attempt("k")
		}, false, 30 * time.Second},
		{"undo takes one back", func(l *Limiter, _ *fakeClock) {
			l.Attempt("k")
			l.Attempt("k")
			l.Attempt("k")
			l.Undo("k")
		}, true, 0},
		{"reset forgets", func(l *Limiter, _ *fakeClock) {
			l.Attempt("k")
			l.Attempt("k")
			l.Attempt("k")
			l.Reset("k")
		}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClock()
			l := NewLimiter(limit, window, c.Now)
			tt.run(l, c)
			ok, retry := l.Attempt("k")
			if ok != tt.wantOK || retry != tt.wantRetry {
				t.Errorf("Attempt = %v, %v; want %v, %v", ok, retry, tt.wantOK, tt.wantRetry)
			}
		})
	}
}

func TestLimiterConcurrentAttemptsStopAtLimit(t *testing.T) {
	const limit = 10
	l := NewLimiter(limit, time.Minute, newFakeClock().Now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 100 {
		wg.Go(func() {
			if ok, _ := l.Attempt("k"); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != limit {
		t.Errorf("%d of 100 concurrent attempts allowed, want %d", allowed, limit)
	}
}

func TestLimiterSweepsEndedWindows(t *testing.T) {
	c := newFakeClock()
	l := NewLimiter(3, time.Minute, c.Now)
	for _, k := range []string{"a", "b", "c"} {
		l.Attempt(k)
	}
	c.Advance(time.Minute)
	l.Attempt("d")
	if n := l.len(); n != 1 {
		t.Errorf("limiter holds %d keys after the window, want 1", n)
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	l := NewLimiter(3, time.Hour, newFakeClock().Now)
	for i := range maxLimiterKeys + 10 {
		l.Attempt(strconv.Itoa(i))
	}
	if n := l.len(); n > maxLimiterKeys {
		t.Errorf("limiter holds %d keys, want at most %d", n, maxLimiterKeys)
	}
}
