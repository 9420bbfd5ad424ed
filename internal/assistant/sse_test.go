package assistant

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		end  error // what follows the events
	}{
		{"LF", "data: a\n\ndata: b\n\n", []string{"a", "b"}, io.EOF},
		{"CRLF", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"a", "b"}, io.EOF},
		{"CR", "data: a\r\rdata: b\r\r", []string{"a", "b"}, io.EOF},
		{"comments and blank runs", ": keep-alive\n\n: keep-alive\n\n\n\ndata: a\n\n", []string{"a"}, io.EOF},
		{"multi-line data", "data: {\"a\":\ndata: 1}\n\n", []string{"{\"a\":\n1}"}, io.EOF},
		{"other fields ignored", "event: x\nid: 1\nretry: 5\nfoo\ndata:a\n\n", []string{"a"}, io.EOF},
		{"one space stripped only", "data:  a\n\n", []string{" a"}, io.EOF},
		{"last event without blank line", "data: a\n\ndata: [DONE]\n", []string{"a", "[DONE]"}, io.EOF},
		{"[DONE] without newline", "data: [DONE]", []string{"[DONE]"}, io.EOF},
		{"cut inside a line", "data: a\n\ndata: {\"x", []string{"a"}, ErrTruncated},
		{"only comments", ": keep-alive\n", nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSSEReader(strings.NewReader(tt.in))
			var got []string
			for {
				d, err := r.next()
				if err != nil {
					if !errors.Is(err, tt.end) {
						t.Errorf("ended with %v, want %v", err, tt.end)
					}
					break
				}
				got = append(got, d)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSSEReaderLineCap(t *testing.T) {
	r := newSSEReader(strings.NewReader("data: " + strings.Repeat("x", maxLine+1) + "\n\n"))
	if _, err := r.next(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an endless line gave %v, want ErrMalformed", err)
	}
}
