package assistant

import (
	"errors"
	"testing"
	"time"
)

func newTestBreaker() (*Breaker, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return NewBreaker(BreakerConfig{Failures: 3, CoolDown: 30 * time.Second, Now: clock.now}), clock
}

func mustAllow(t *testing.T, b *Breaker) {
	t.Helper()
	if err := b.Allow(); err != nil {
		t.Fatalf("Allow in state %s: %v", b.State(), err)
	}
}

func mustRefuse(t *testing.T, b *Breaker) {
	t.Helper()
	if err := b.Allow(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Allow in state %s = %v, want ErrUnavailable", b.State(), err)
	}
}

func fail(t *testing.T, b *Breaker, n int) {
	t.Helper()
	for range n {
		mustAllow(t, b)
		b.Report(Failure)
	}
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	b, _ := newTestBreaker()
	fail(t, b, 2)
	mustAllow(t, b)
	b.Report(Success) // a success in between resets the count
	fail(t, b, 2)
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("after 2 failures in a row: %s", s)
	}
	fail(t, b, 1)
	if s := b.State(); s != BreakerOpen {
		t.Fatalf("after 3 failures in a row: %s", s)
	}
	mustRefuse(t, b)
}

func TestBreakerHalfOpenLetsOneTrialThrough(t *testing.T) {
	b, clock := newTestBreaker()
	fail(t, b, 3)
	clock.advance(29 * time.Second)
	mustRefuse(t, b)
	clock.advance(time.Second)
	if s := b.State(); s != BreakerHalfOpen {
		t.Fatalf("after the cool-down: %s", s)
	}
	mustAllow(t, b)
	mustRefuse(t, b) // only one trial at a time
	b.Report(Success)
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("after a good trial: %s", s)
	}
	mustAllow(t, b)
	b.Report(Success)
}

func TestBreakerFailedTrialReopens(t *testing.T) {
	b, clock := newTestBreaker()
	fail(t, b, 3)
	clock.advance(30 * time.Second)
	mustAllow(t, b)
	b.Report(Failure)
	if s := b.State(); s != BreakerOpen {
		t.Fatalf("after a failed trial: %s", s)
	}
	clock.advance(29 * time.Second) // the cool-down restarted at the trial's failure
	mustRefuse(t, b)
	clock.advance(time.Second)
	mustAllow(t, b)
}

func TestBreakerNeutralFreesTheTrial(t *testing.T) {
	b, clock := newTestBreaker()
	fail(t, b, 3)
	clock.advance(30 * time.Second)
	mustAllow(t, b)
	b.Report(Neutral) // the employee left mid-trial
	if s := b.State(); s != BreakerHalfOpen {
		t.Fatalf("after a neutral trial: %s", s)
	}
	mustAllow(t, b)
	b.Report(Success)
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("after a good trial: %s", s)
	}
}

func TestBreakerLateFailureDoesNotStretchCoolDown(t *testing.T) {
	b, clock := newTestBreaker()
	mustAllow(t, b) // a slow call, started while closed
	fail(t, b, 3)
	clock.advance(20 * time.Second)
	b.Report(Failure) // the slow call fails late
	clock.advance(10 * time.Second)
	mustAllow(t, b)
}

func TestBreakerStateString(t *testing.T) {
	for s, want := range map[BreakerState]string{BreakerClosed: "closed", BreakerOpen: "open", BreakerHalfOpen: "half_open"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}
