package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// maxBodyBytes bounds a request body. The largest legitimate one is a login
// of a few hundred bytes; 64 KiB leaves room without letting a client make
// us buffer megabytes.
const maxBodyBytes = 64 << 10

// decodeJSON reads r's body as exactly one JSON object into dst, refusing
// other content types, trailing data and oversized bodies with EInvalid and
// a message that says which. Unknown fields are ignored, as the seed's
// FastAPI (pydantic) models ignored them: its front ends must keep working.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	return decodeJSONUpTo(w, r, dst, maxBodyBytes)
}

// decodeJSONUpTo is decodeJSON for the few requests that carry more than
// maxBodyBytes by design (a knowledge-base article's body).
func decodeJSONUpTo(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	// Requiring the JSON type also keeps plain HTML forms on other sites
	// from posting here: they cannot set it without a CORS preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return desk.Errorf(desk.EInvalid, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return decodeError(err, limit)
	}
	// encoding/json would quietly turn invalid bytes into U+FFFD: refuse
	// them instead, so what was sent is what is stored, or nothing.
	if !utf8.Valid(body) {
		return desk.Errorf(desk.EInvalid, "request body must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return desk.Errorf(desk.EInvalid, "request body must be a single JSON object")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		sizeErr   *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return desk.Wrap(desk.EInvalid, err, "request body is empty")
	case errors.As(err, &sizeErr):
		return desk.Wrap(desk.EInvalid, err, fmt.Sprintf("request body must be at most %d bytes", limit))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return desk.Wrap(desk.EInvalid, err, "request body is not valid JSON")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return desk.Wrap(desk.EInvalid, err, "request body must be a JSON object")
		}
		return desk.Wrap(desk.EInvalid, err, fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type))
	default:
		return desk.Wrap(desk.EInvalid, err, "request body could not be read")
	}
}

// writeJSON writes v with status. Every response here is personal, and some
// carry tokens, so none may be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// A JSON answer echoing user text must never be sniffed into HTML.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// The client may have gone; there is no one left to tell.
	_ = json.NewEncoder(w).Encode(v)
}
