package assistant

import (
	"fmt"
	"testing"
	"time"
)

func TestRateLimiterPerEmployee(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := NewRateLimiter(RateLimitConfig{PerWindow: 3, Window: time.Hour, Now: clock.now})
	for i := range 3 {
		if !l.Allow("zhangsan") {
			t.Fatalf("answer %d refused", i+1)
		}
		clock.advance(10 * time.Minute)
	}
	if l.Allow("zhangsan") {
		t.Fatal("a fourth answer within the hour allowed")
	}
	if !l.Allow("lisi") {
		t.Fatal("another employee refused")
	}
	// The window slides: the first answer (at 0) leaves it at 60 min.
	clock.advance(30 * time.Minute) // now 60 min
	if !l.Allow("zhangsan") {
		t.Fatal("refused after the oldest answer left the window")
	}
	if l.Allow("zhangsan") {
		t.Fatal("allowed a second one while two are still in the window")
	}
}

func TestRateLimiterForgetsIdleEmployees(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := NewRateLimiter(RateLimitConfig{PerWindow: 2, Window: time.Hour, Now: clock.now})
	for i := range 1000 {
		l.Allow(fmt.Sprint("emp", i))
	}
	if n := l.Len(); n != 1000 {
		t.Fatalf("tracking %d, want 1000", n)
	}
	clock.advance(time.Hour + time.Second)
	l.Allow("someone")
	if n := l.Len(); n != 1 {
		t.Fatalf("tracking %d after the window passed, want 1", n)
	}
}

func TestRateLimiterMaxKeys(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := NewRateLimiter(RateLimitConfig{PerWindow: 2, Window: time.Hour, MaxKeys: 3, Now: clock.now})
	for _, id := range []string{"a", "b", "c"} {
		if !l.Allow(id) {
			t.Fatalf("%s refused", id)
		}
	}
	if l.Allow("d") {
		t.Fatal("a fourth employee tracked past MaxKeys")
	}
	if !l.Allow("a") {
		t.Fatal("a tracked employee refused at MaxKeys")
	}
	clock.advance(time.Hour + time.Second)
	if !l.Allow("d") {
		t.Fatal("refused once the others left the window")
	}
	if n := l.Len(); n > 3 {
		t.Fatalf("tracking %d, over MaxKeys", n)
	}
}
