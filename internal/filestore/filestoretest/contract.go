// Package filestoretest is the contract every file store answers: the
// directory and S3 stores run it, and so must any other.
package filestoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Store is a file store under test.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Delete(ctx context.Context, key string) error
}

// Run checks s. Keys are made unique per run, so a shared bucket is fine.
func Run(t *testing.T, s Store) {
	ctx := t.Context()
	prefix := fmt.Sprintf("t/%x/", randomBytes(t, 6))
	key := func(name string) string { return prefix + name }

	t.Run("roundtrip", func(t *testing.T) {
		want := randomBytes(t, 3<<20+17) // several of any buffer size
		mustPut(t, s, key("big.bin"), want)
		if got := read(t, s, key("big.bin")); !bytes.Equal(got, want) {
			t.Fatalf("read %d bytes back, not the %d put", len(got), len(want))
		}
	})
	t.Run("overwrite", func(t *testing.T) {
		mustPut(t, s, key("x"), []byte("first"))
		mustPut(t, s, key("x"), []byte("second"))
		if got := read(t, s, key("x")); string(got) != "second" {
			t.Fatalf("after overwrite: %q", got)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		mustPut(t, s, key("empty"), nil)
		if got := read(t, s, key("empty")); len(got) != 0 {
			t.Fatalf("read %q", got)
		}
	})
	t.Run("missing is not found", func(t *testing.T) {
		_, _, err := s.Open(ctx, key("never-put"))
		if desk.ErrorCode(err) != desk.ENotFound {
			t.Fatalf("Open of a missing key = %v, want %s", err, desk.ENotFound)
		}
	})
	t.Run("delete", func(t *testing.T) {
		mustPut(t, s, key("gone"), []byte("bye"))
		if err := s.Delete(ctx, key("gone")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Open(ctx, key("gone")); desk.ErrorCode(err) != desk.ENotFound {
			t.Fatalf("Open after Delete = %v, want %s", err, desk.ENotFound)
		}
		if err := s.Delete(ctx, key("gone")); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}
	})
	t.Run("keys outside the store are refused", func(t *testing.T) {
		for _, bad := range []string{"", "../etc/passwd", "/abs", "a/../../b", "UPPER", "a b", "a/", "a\\b"} {
			if err := s.Put(ctx, bad, bytes.NewReader([]byte("x")), 1, "text/plain"); desk.ErrorCode(err) != desk.EInvalid {
				t.Errorf("Put(%q) = %v, want %s", bad, err, desk.EInvalid)
			}
			if _, _, err := s.Open(ctx, bad); desk.ErrorCode(err) != desk.EInvalid {
				t.Errorf("Open(%q) = %v, want %s", bad, err, desk.EInvalid)
			}
		}
	})
	t.Run("a failed put leaves nothing", func(t *testing.T) {
		err := s.Put(ctx, key("half"), io.MultiReader(bytes.NewReader([]byte("part")), failing{}), 100, "application/octet-stream")
		if err == nil {
			t.Fatal("a put whose reader failed succeeded")
		}
		if _, _, err := s.Open(ctx, key("half")); desk.ErrorCode(err) != desk.ENotFound {
			t.Fatalf("after a failed put, Open = %v, want %s", err, desk.ENotFound)
		}
	})
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, fmt.Errorf("the phone went away") }

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPut(t *testing.T, s Store, key string, b []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), "application/octet-stream"); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func read(t *testing.T, s Store, key string) []byte {
	t.Helper()
	r, size, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Errorf("Open(%s) said %d bytes, read %d", key, size, len(b))
	}
	return b
}
