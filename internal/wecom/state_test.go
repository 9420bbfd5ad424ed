package wecom_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wecom"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// WeCom allows a state of at most 128 bytes of a-zA-Z0-9.
var wecomState = regexp.MustCompile(`^[a-zA-Z0-9]{1,128}$`)

func newStates(t *testing.T, store wecom.NonceStore, now func() time.Time) *wecom.States {
	t.Helper()
	s, err := wecom.NewStates(testKey, 0, store, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runStateContract checks the rules every NonceStore must uphold through
// States; the memory and Redis stores both run it.
func runStateContract(t *testing.T, store func() wecom.NonceStore) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ctx := t.Context()

	t.Run("valid once", func(t *testing.T) {
		s := newStates(t, store(), clock)
		st, err := s.Issue("/h5/c/42?from=card")
		if err != nil {
			t.Fatal(err)
		}
		if !wecomState.MatchString(st) {
			t.Fatalf("state %q is not what WeCom accepts", st)
		}
		if err := s.Verify(ctx, st, "/h5/c/42?from=card"); err != nil {
			t.Fatalf("Verify = %v", err)
		}
		err = s.Verify(ctx, st, "/h5/c/42?from=card")
		if !errors.Is(err, wecom.ErrStateReplayed) || desk.ErrorCode(err) != desk.EUnauthorized {
			t.Fatalf("replay = %v, want ErrStateReplayed", err)
		}
	})
	t.Run("replayed on another node", func(t *testing.T) {
		shared := store()
		a, b := newStates(t, shared, clock), newStates(t, shared, clock)
		st, _ := a.Issue("/")
		if err := b.Verify(ctx, st, "/"); err != nil {
			t.Fatal(err)
		}
		if err := a.Verify(ctx, st, "/"); !errors.Is(err, wecom.ErrStateReplayed) {
			t.Fatalf("replay on the issuing node = %v", err)
		}
	})
	t.Run("used by one of many at once", func(t *testing.T) {
		s := newStates(t, store(), clock)
		st, _ := s.Issue("/h5/")
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if s.Verify(ctx, st, "/h5/") == nil {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d of 20 concurrent verifications passed, want 1", ok.Load())
		}
	})
	t.Run("expired", func(t *testing.T) {
		at := now
		s := newStates(t, store(), func() time.Time { return at })
		st, _ := s.Issue("/h5/")
		at = at.Add(wecom.DefaultStateTTL + time.Second)
		if err := s.Verify(ctx, st, "/h5/"); !errors.Is(err, wecom.ErrStateExpired) {
			t.Fatalf("Verify after the TTL = %v, want ErrStateExpired", err)
		}
	})
	t.Run("forged", func(t *testing.T) {
		s := newStates(t, store(), clock)
		st, _ := s.Issue("/h5/c/42")
		other, _ := wecom.NewStates([]byte("another key, just as long as 32b"), 0, store(), clock)
		foreign, _ := other.Issue("/h5/c/42")
		flipped := []byte(st)
		flipped[len(flipped)-1] ^= 'A' ^ 'B'
		if flipped[len(flipped)-1] == st[len(st)-1] {
			flipped[len(flipped)-1] = 'C'
		}
		for name, tc := range map[string][2]string{
			"bit flipped":         {string(flipped), "/h5/c/42"},
			"another key":         {foreign, "/h5/c/42"},
			"return path swapped": {st, "/h5/c/43"},
		} {
			if err := s.Verify(ctx, tc[0], tc[1]); !errors.Is(err, wecom.ErrStateInvalid) {
				t.Errorf("%s: %v, want ErrStateInvalid", name, err)
			}
		}
		// The untampered state still works: refusals consumed nothing.
		if err := s.Verify(ctx, st, "/h5/c/42"); err != nil {
			t.Fatalf("the genuine state after forgeries: %v", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		s := newStates(t, store(), clock)
		st, _ := s.Issue("/")
		for _, bad := range []string{"", "abc", strings.ToLower(st), strings.Repeat("!", len(st)), st + "A", st[:len(st)-1], strings.Repeat("A", len(st))} {
			if err := s.Verify(ctx, bad, "/"); !errors.Is(err, wecom.ErrStateInvalid) {
				t.Errorf("Verify(%q) = %v, want ErrStateInvalid", bad, err)
			}
		}
	})
}

func TestStatesWithMemoryNonces(t *testing.T) {
	runStateContract(t, func() wecom.NonceStore { return wecom.NewMemoryNonces(nil) })
}

func TestStatesRefuseOpenRedirects(t *testing.T) {
	s := newStates(t, wecom.NewMemoryNonces(nil), nil)
	for _, bad := range []string{
		"", "h5/c/42", "//evil.example/", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
		"javascript:alert(1)", "/ok\r\nSet-Cookie: a=b", "/\tevil", "/a\\b", "///evil.example", strings.Repeat("/a", 600),
	} {
		if wecom.ValidReturnPath(bad) {
			t.Errorf("ValidReturnPath(%q) = true", bad)
		}
		if _, err := s.Issue(bad); !errors.Is(err, wecom.ErrBadReturnPath) {
			t.Errorf("Issue(%q) = %v, want ErrBadReturnPath", bad, err)
		}
		if err := s.Verify(t.Context(), "AAAA", bad); !errors.Is(err, wecom.ErrBadReturnPath) {
			t.Errorf("Verify(_, %q) = %v, want ErrBadReturnPath", bad, err)
		}
	}
	for _, good := range []string{"/", "/h5/", "/h5/c/42?x=1&y=%2F%2F", "/console/#/c/42"} {
		if !wecom.ValidReturnPath(good) {
			t.Errorf("ValidReturnPath(%q) = false", good)
		}
	}
}

type brokenStore struct{}

func (brokenStore) Claim(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("redis: connection refused")
}

func TestStatesFailClosedWhenTheStoreFails(t *testing.T) {
	s := newStates(t, brokenStore{}, nil)
	st, _ := s.Issue("/")
	if err := s.Verify(t.Context(), st, "/"); desk.ErrorCode(err) != desk.EUnavailable {
		t.Fatalf("Verify with a broken store = %v, want unavailable", err)
	}
}

func TestNewStatesRefusesAShortKey(t *testing.T) {
	if _, err := wecom.NewStates([]byte("short"), 0, wecom.NewMemoryNonces(nil), nil); desk.ErrorCode(err) != desk.EInvalid {
		t.Fatalf("NewStates with a 5-byte key = %v", err)
	}
}

func TestStateKeyFromSecret(t *testing.T) {
	a, b := wecom.StateKeyFromSecret("secret-one"), wecom.StateKeyFromSecret("secret-one")
	if len(a) < wecom.MinStateKeyBytes || string(a) != string(b) {
		t.Fatalf("keys %x and %x: want the same %d+ bytes on every node", a, b, wecom.MinStateKeyBytes)
	}
	if string(a) == string(wecom.StateKeyFromSecret("secret-two")) || strings.Contains(string(a), "secret-one") {
		t.Fatal("the key does not depend on the secret one-way")
	}
}
