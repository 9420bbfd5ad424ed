package main

import "testing"

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		seq   int
		sent  int64
		ok    bool
	}{
		{"compact", `{"type":"typing","data":{"conversation_id":"lt-7-123456","sender_id":"lt-sender"}}`, 7, 123456, true},
		{"spaced", `{"type": "typing", "data": {"conversation_id": "lt-0-42"}}`, 0, 42, true},
		{"probe", `{"type":"typing","data":{"conversation_id":"probe-1"}}`, 0, 0, false},
		{"pong", `{"type":"pong"}`, 0, 0, false},
		{"no send time", `{"data":{"conversation_id":"lt-3"}}`, 0, 0, false},
		{"not digits", `{"data":{"conversation_id":"lt-3-x1"}}`, 0, 0, false},
		{"unterminated", `{"data":{"conversation_id":"lt-3-1`, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, sent, ok := parseEvent([]byte(tt.frame))
			if ok != tt.ok || (ok && (seq != tt.seq || sent != tt.sent)) {
				t.Errorf("parseEvent = %d, %d, %v; want %d, %d, %v", seq, sent, ok, tt.seq, tt.sent, tt.ok)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	s := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		p    float64
		want int32
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}, {0.01, 1}} {
		if got := percentile(s, tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %d, want %d", tt.p, got, tt.want)
		}
	}
	if got := percentile([]int32(nil), 0.5); got != 0 {
		t.Errorf("percentile of empty = %d, want 0", got)
	}
}
