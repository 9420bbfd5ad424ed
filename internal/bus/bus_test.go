package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// runContract checks the desk.Bus contract. newBus is called once per
// subtest with that subtest's deliver; deliver may be called from any
// goroutine, and the suite waits for deliveries rather than assuming them,
// so a networked bus runs it unchanged (it should give each bus its own
// channel, since subtests run in parallel).
func runContract(t *testing.T, newBus func(t *testing.T, deliver func(desk.Event)) desk.Bus) {
	marker := desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{"type":"marker"}`)}

	t.Run("delivers each event once, in publish order", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		b := newBus(t, rec.deliver)
		const n = 200
		for i := range n {
			mustPublish(t, b, desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: seqFrame(0, i)})
		}
		// Anything delivered twice would show up before the marker.
		mustPublish(t, b, marker)
		got := rec.wait(t, n+1)
		for i := range n {
			if want := seqFrame(0, i); !bytes.Equal(got[i].Frame, want) {
				t.Fatalf("event %d = %s, want %s", i, got[i].Frame, want)
			}
		}
		if !bytes.Equal(got[n].Frame, marker.Frame) {
			t.Fatalf("event %d = %s, want the marker", n, got[n].Frame)
		}
	})

	t.Run("concurrent publishers each keep their order", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		b := newBus(t, rec.deliver)
		const publishers, n = 8, 100
		var wg sync.WaitGroup
		for p := range publishers {
			wg.Go(func() {
				to := desk.Audience{Kind: desk.ToUser, User: desk.Principal{Role: desk.RoleAgent, ID: fmt.Sprint("a-", p)}}
				for i := range n {
					if err := b.Publish(t.Context(), desk.Event{To: to, Frame: seqFrame(p, i)}); err != nil {
						t.Errorf("Publish: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		next := make([]int, publishers)
		for _, ev := range rec.wait(t, publishers*n) {
			var p, i int
			if _, err := fmt.Sscanf(string(ev.Frame), `{"pub":%d,"seq":%d}`, &p, &i); err != nil {
				t.Fatalf("frame %s: %v", ev.Frame, err)
			}
			if i != next[p] {
				t.Fatalf("publisher %d: got seq %d, want %d", p, i, next[p])
			}
			next[p]++
		}
	})

	t.Run("frames arrive byte for byte", func(t *testing.T) {
		t.Parallel()
		frames := []struct {
			name  string
			frame []byte
		}{
			{"empty object", []byte(`{}`)},
			{"chinese text", []byte(`{"type":"message","text":"打印机卡纸了 ✓"}`)},
			{"escapes", []byte(`{"text":"line\nbreak \"quoted\" \\ \u0000 </script>"}`)},
			{"raw bytes", []byte{0, 0xff, 0xfe, '{', '\n', 0x80}},
			{"large", []byte(`{"text":"` + strings.Repeat("x", 64<<10) + `"}`)},
		}
		for _, tt := range frames {
			t.Run(tt.name, func(t *testing.T) {
				rec := &recorder{}
				b := newBus(t, rec.deliver)
				mustPublish(t, b, desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: tt.frame})
				if got := rec.wait(t, 1)[0].Frame; !bytes.Equal(got, tt.frame) {
					t.Fatalf("frame = %q, want %q", got, tt.frame)
				}
			})
		}
	})

	t.Run("audiences and closes are carried", func(t *testing.T) {
		t.Parallel()
		events := []struct {
			name string
			ev   desk.Event
		}{
			{"to user", desk.Event{
				To:    desk.Audience{Kind: desk.ToUser, User: desk.Principal{Role: desk.RoleEmployee, ID: "zhangsan"}},
				Frame: []byte(`{"type":"message"}`),
			}},
			{"to all agents", desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{"type":"queue"}`)}},
			{"close by token", desk.Event{
				To:    desk.Audience{Kind: desk.ToToken, Fingerprint: desk.TokenFingerprint("tok")},
				Close: &desk.Close{Code: 4001, Reason: "token revoked"},
			}},
			{"to several users, a conversation event", desk.Event{
				To: desk.Audience{Kind: desk.ToUsers, Users: []desk.Principal{
					{Role: desk.RoleEmployee, ID: "zhangsan"}, {Role: desk.RoleAgent, ID: "a-1"},
				}},
				Frame:          []byte(`{"conversation_id":"cv_1","seq":7,"type":"message.created"}`),
				ConversationID: "cv_1",
				Seq:            7,
			}},
			{"to an empty list of users", desk.Event{
				To:    desk.Audience{Kind: desk.ToUsers, Users: []desk.Principal{}},
				Frame: []byte(`{"type":"nobody"}`),
			}},
			{"close with a last frame", desk.Event{
				To:    desk.Audience{Kind: desk.ToUser, User: desk.Principal{Role: desk.RoleAgent, ID: "a-1"}},
				Frame: []byte(`{"type":"bye"}`),
				Close: &desk.Close{Code: 4000},
			}},
		}
		for _, tt := range events {
			t.Run(tt.name, func(t *testing.T) {
				rec := &recorder{}
				b := newBus(t, rec.deliver)
				mustPublish(t, b, tt.ev)
				wantEvent(t, rec.wait(t, 1)[0], tt.ev)
			})
		}
	})

	t.Run("publisher may reuse its buffers", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		b := newBus(t, rec.deliver)
		frame, closing := []byte(`{"n":1}`), &desk.Close{Code: 4001, Reason: "first"}
		ev := desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: frame, Close: closing}
		want := desk.Event{To: ev.To, Frame: bytes.Clone(frame), Close: &desk.Close{Code: 4001, Reason: "first"}}
		mustPublish(t, b, ev)
		copy(frame, `{"n":2}`)
		closing.Reason = "second"
		wantEvent(t, rec.wait(t, 1)[0], want)
	})

	t.Run("done context is refused", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		b := newBus(t, rec.deliver)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := b.Publish(ctx, desk.Event{To: desk.Audience{Kind: desk.ToAllAgents}, Frame: []byte(`{"lost":true}`)})
		if desk.ErrorCode(err) != desk.EUnavailable || !errors.Is(err, context.Canceled) {
			t.Fatalf("Publish with done ctx = %v, want %s wrapping context.Canceled", err, desk.EUnavailable)
		}
		mustPublish(t, b, marker)
		if got := rec.wait(t, 1)[0]; !bytes.Equal(got.Frame, marker.Frame) {
			t.Fatalf("first delivery = %s, want only the marker", got.Frame)
		}
	})
}

func TestMemory(t *testing.T) {
	runContract(t, func(_ *testing.T, deliver func(desk.Event)) desk.Bus {
		return NewMemory(deliver)
	})
}

// recorder collects deliveries from any goroutine.
type recorder struct {
	mu     sync.Mutex
	events []desk.Event
}

func (r *recorder) deliver(ev desk.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// wait returns the first n deliveries once they have arrived, failing the
// test after a deadline.
func (r *recorder) wait(t *testing.T, n int) []desk.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		got := r.events[:len(r.events):len(r.events)]
		r.mu.Unlock()
		if len(got) >= n {
			return got[:n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d deliveries, want %d", len(got), n)
		}
		<-tick.C
	}
}

func mustPublish(t *testing.T, b desk.Bus, ev desk.Event) {
	t.Helper()
	if err := b.Publish(t.Context(), ev); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// wantEvent compares everything a receiver acts on; a nil and an empty
// Frame both mean "nothing to send".
func wantEvent(t *testing.T, got, want desk.Event) {
	t.Helper()
	if !reflect.DeepEqual(got.To, want.To) {
		t.Errorf("To = %+v, want %+v", got.To, want.To)
	}
	if got.ConversationID != want.ConversationID || got.Seq != want.Seq {
		t.Errorf("conversation %q seq %d, want %q %d", got.ConversationID, got.Seq, want.ConversationID, want.Seq)
	}
	if !bytes.Equal(got.Frame, want.Frame) {
		t.Errorf("Frame = %q, want %q", got.Frame, want.Frame)
	}
	switch {
	case (got.Close == nil) != (want.Close == nil):
		t.Errorf("Close = %v, want %v", got.Close, want.Close)
	case got.Close != nil && *got.Close != *want.Close:
		t.Errorf("Close = %+v, want %+v", *got.Close, *want.Close)
	}
}

func seqFrame(pub, seq int) []byte { return fmt.Appendf(nil, `{"pub":%d,"seq":%d}`, pub, seq) }
