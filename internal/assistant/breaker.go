package assistant

import (
	"fmt"
	"sync"
	"time"
)

// Breaker defaults.
const (
	// DefaultBreakerFailures is how many failures in a row open the
	// breaker: one failure is a blip, three is an outage an employee should
	// not wait through.
	DefaultBreakerFailures = 3
	// DefaultBreakerCoolDown is how long an open breaker refuses before it
	// lets one trial through: long enough not to hammer a provider that is
	// down or rate limiting, short enough that answers come back soon.
	DefaultBreakerCoolDown = 30 * time.Second
)

// BreakerConfig configures a Breaker. Zero fields take the defaults.
type BreakerConfig struct {
	Failures int              // consecutive failures that open the breaker
	CoolDown time.Duration    // how long it stays open before a trial
	Now      func() time.Time // the clock; time.Now when nil, a fake in tests
}

// BreakerState is a Breaker's state.
type BreakerState int

// The states of a Breaker.
const (
	BreakerClosed   BreakerState = iota // calls go through
	BreakerOpen                         // calls are refused with ErrUnavailable
	BreakerHalfOpen                     // the cool-down is over: one trial call goes through
)

// String returns "closed", "open" or "half_open", for metrics and health.
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half_open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// Outcome is what a call let through by a Breaker came to.
type Outcome int

// The outcomes a caller reports.
const (
	// Success: the provider answered; closes the breaker.
	Success Outcome = iota
	// Failure: the provider is down, slow, rejecting or broken.
	Failure
	// Neutral: says nothing about the provider (the caller gave up, or the
	// request itself was at fault); frees a half-open trial for the next
	// caller.
	Neutral
)

// Breaker is a circuit breaker: after Failures consecutive failures it
// refuses calls for CoolDown, then lets a single trial through; the trial's
// success closes it and its failure opens it for another CoolDown. It is
// safe for concurrent use.
type Breaker struct {
	failures int
	coolDown time.Duration
	now      func() time.Time

	mu       sync.Mutex
	state    BreakerState
	fails    int
	openedAt time.Time
	trial    bool // a half-open trial is in flight
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig) *Breaker {
	b := &Breaker{failures: cfg.Failures, coolDown: cfg.CoolDown, now: cfg.Now}
	if b.failures <= 0 {
		b.failures = DefaultBreakerFailures
	}
	if b.coolDown <= 0 {
		b.coolDown = DefaultBreakerCoolDown
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// Allow asks to make a call. A nil answer must be followed by exactly one
// Report; an error wraps ErrUnavailable.
func (b *Breaker) Allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		left := b.openedAt.Add(b.coolDown).Sub(b.now())
		if left > 0 {
			return fmt.Errorf("%w: %d failures in a row, next try in %s", ErrUnavailable, b.fails, left.Round(time.Second))
		}
		b.state = BreakerHalfOpen
		fallthrough
	case BreakerHalfOpen:
		if b.trial {
			return fmt.Errorf("%w: a trial call is under way", ErrUnavailable)
		}
		b.trial = true
	}
	return nil
}

// Report records the outcome of a call that Allow let through.
func (b *Breaker) Report(o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch o {
	case Success:
		b.state, b.fails, b.trial = BreakerClosed, 0, false
	case Failure:
		switch b.state {
		case BreakerClosed:
			b.fails++
			if b.fails >= b.failures {
				b.state, b.openedAt = BreakerOpen, b.now()
			}
		case BreakerHalfOpen:
			b.fails++
			b.state, b.openedAt, b.trial = BreakerOpen, b.now(), false
		}
		// Open: a late failure of a call started before the breaker opened
		// must not stretch the cool-down.
	case Neutral:
		if b.state == BreakerHalfOpen {
			b.trial = false
		}
	}
}

// State returns the state a call would meet now: an open breaker whose
// cool-down is over reports half-open.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && !b.now().Before(b.openedAt.Add(b.coolDown)) {
		return BreakerHalfOpen
	}
	return b.state
}
