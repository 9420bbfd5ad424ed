package assistant

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxLine caps one line of the event stream. A chunk is a few hundred
// bytes; a megabyte is a broken or hostile server, not a long answer.
const maxLine = 1 << 20

// sseReader reads the data of server-sent events as the HTML living
// standard defines them: lines end in LF, CRLF or CR; a blank line ends an
// event; lines starting with ":" are comments (DeepSeek's ": keep-alive"
// while a request waits for capacity); of the fields only data matters
// here, and several data lines join with "\n".
type sseReader struct {
	r       *bufio.Reader
	started bool
	pending []string // lines split off a chunk at a lone CR, not yet read
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the data of the next event that has any. It returns io.EOF
// when the stream ends cleanly between lines, and an error wrapping
// ErrTruncated when it ends inside a line or inside an event.
func (s *sseReader) next() (string, error) {
	var data []string
	for {
		line, err := s.line()
		if err != nil {
			if err == io.EOF && data != nil {
				// A server that closes right after its last data line,
				// without the blank one: keep what is complete.
				return strings.Join(data, "\n"), nil
			}
			return "", err
		}
		if line == "" {
			if data != nil {
				return strings.Join(data, "\n"), nil
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		if field == "data" {
			data = append(data, strings.TrimPrefix(value, " "))
		}
	}
}

// line returns the next line without its ending.
func (s *sseReader) line() (string, error) {
	if len(s.pending) > 0 {
		l := s.pending[0]
		s.pending = s.pending[1:]
		return l, nil
	}
	var buf []byte
	for {
		frag, err := s.r.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > maxLine {
			return "", fmt.Errorf("%w: a line longer than %d bytes", ErrMalformed, maxLine)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			// A stream ending in a lone CR still ends its line.
			if len(buf) == 0 {
				return "", io.EOF
			}
			// The terminator alone may miss its line ending; anything
			// else cut off mid-line is a broken stream, not bad JSON.
			if buf[len(buf)-1] != '\r' && !isDoneLine(buf) {
				return "", fmt.Errorf("%w: cut inside a line", ErrTruncated)
			}
			break
		}
		return "", err
	}
	if !s.started {
		s.started = true
		buf = bytes.TrimPrefix(buf, []byte("\xef\xbb\xbf"))
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	if bytes.IndexByte(buf, '\r') < 0 {
		return string(buf), nil
	}
	// Lone CRs inside: each ends a line of its own.
	parts := strings.Split(string(buf), "\r")
	s.pending = append(s.pending, parts[1:]...)
	return parts[0], nil
}

func isDoneLine(b []byte) bool {
	field, value, ok := bytes.Cut(b, []byte(":"))
	return ok && string(field) == "data" && string(bytes.TrimSpace(value)) == "[DONE]"
}
