package main

import (
	"testing"
	"time"
)

func TestParseNodeURLs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"ws://127.0.0.1:8201", []string{"ws://127.0.0.1:8201"}, true},
		{"ws://a:1/, ws://b:2", []string{"ws://a:1", "ws://b:2"}, true},
		{"http://a:1", nil, false},
		{"ws://a:1,,", []string{"ws://a:1"}, true},
		{"", nil, false},
	}
	for _, tt := range tests {
		got, err := parseNodeURLs("--url", tt.in)
		if (err == nil) != tt.ok || len(got) != len(tt.want) {
			t.Errorf("parseNodeURLs(%q) = %v, %v", tt.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("parseNodeURLs(%q)[%d] = %q, want %q", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}

func TestParsePids(t *testing.T) {
	if p, err := parsePids("1, 0,3", 3); err != nil || len(p) != 3 || p[1] != 0 {
		t.Errorf("parsePids = %v, %v", p, err)
	}
	if _, err := parsePids("1,2", 3); err == nil {
		t.Error("two pids for three nodes accepted")
	}
	if p, err := parsePids("", 3); err != nil || len(p) != 0 {
		t.Errorf("empty = %v, %v", p, err)
	}
	if _, err := parsePids("x", 0); err == nil {
		t.Error("a name accepted as a pid")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		cut   bool
		kind  int
		seq   int64
	}{
		{"event", `{"conversation_id":"cv_1","seq":7,"type":"message.created","data":{"seq":99}}`, false, frameEvent, 7},
		{"resumed", `{"type":"resumed","conversation_id":"cv_1","seq":7,"more":false}`, false, frameResumed, 7},
		{"error", `{"type":"error","code":"forbidden","conversation_id":"cv_1"}`, false, frameError, 0},
		{"presence", `{"type":"presence","data":{"agents":[`, true, framePresence, 0},
		{"cut event", `{"conversation_id":"cv_1","seq":7`, true, frameOther, 0},
		{"pong", `{"type":"pong"}`, false, frameOther, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, f := classify([]byte(tt.frame), tt.cut)
			if kind != tt.kind || (kind != frameOther && f.Seq != tt.seq) {
				t.Errorf("classify = %d, seq %d; want %d, seq %d", kind, f.Seq, tt.kind, tt.seq)
			}
		})
	}
}

func TestResumeRules(t *testing.T) {
	c := &drainClient{applied: 2, resuming: true}
	for _, s := range []int64{5, 3, 4, 3} { // live and replayed, out of order, one twice
		c.held = append(c.held, s)
	}
	c.endResume()
	if c.applied != 5 || c.gaps != 0 || c.dups != 1 || c.resuming {
		t.Fatalf("after resume: applied %d, gaps %d, dups %d, resuming %v", c.applied, c.gaps, c.dups, c.resuming)
	}
	c.apply(5)
	c.apply(7)
	if c.applied != 7 || c.gaps != 1 || c.dups != 2 || c.progress.Load() != 7 {
		t.Fatalf("live: applied %d, gaps %d, dups %d", c.applied, c.gaps, c.dups)
	}
}

func TestBackoffDelay(t *testing.T) {
	for range 100 {
		if d := backoffDelay(500*time.Millisecond, 1); d < 250*time.Millisecond || d > 500*time.Millisecond {
			t.Fatalf("first attempt waits %s, want 250–500 ms", d)
		}
		if d := backoffDelay(500*time.Millisecond, 3); d < time.Second || d > 2*time.Second {
			t.Fatalf("third attempt waits %s, want 1–2 s", d)
		}
		if d := backoffDelay(500*time.Millisecond, 30); d < backoffMax/2 || d > backoffMax {
			t.Fatalf("30th attempt waits %s, want at most %s", d, backoffMax)
		}
	}
	if d := backoffDelay(0, 1); d != 0 {
		t.Errorf("--backoff 0 waits %s", d)
	}
}
