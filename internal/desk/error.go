package desk

import (
	"errors"
	"fmt"
)

// Error codes. Each surface maps them once: httpapi to HTTP statuses,
// gateway to WebSocket close codes and error frames.
const (
	EInvalid      = "invalid"      // the request itself is malformed or breaks a rule
	EUnauthorized = "unauthorized" // missing or wrong credentials
	EForbidden    = "forbidden"    // authenticated, but not allowed
	ENotFound     = "not_found"    // no such thing (or not visible to the caller)
	EConflict     = "conflict"     // valid, but clashes with the current state
	ERateLimited  = "rate_limited" // too many attempts; try later
	EUnavailable  = "unavailable"  // a dependency (token store, database) is down
	EInternal     = "internal"     // a bug or an unexpected failure
	ETooLarge     = "too_large"    // a file over its limit (or over the sender's quota)
	EUnsupported  = "unsupported"  // content the desk does not take (an executable, a file lying about its type)
)

// Error is the domain's one error type. Message is safe to show to the
// caller; anything internal stays in the wrapped error and the logs.
type Error struct {
	Code    string
	Message string
	// Reason, when set, says more precisely why, in a word a client can
	// key its own wording on ("empty", "executable", "type_mismatch"…).
	Reason string
	Err    error // the cause, for logs and errors.Is; never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a caller-visible message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with a caller-visible message and a hidden cause.
func Wrap(code string, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, or EInternal
// for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns what the caller may see: the *Error's message, or
// "internal error" for anything else so raw causes never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "internal error"
}

// WithReason sets e's Reason and returns e.
func (e *Error) WithReason(reason string) *Error {
	e.Reason = reason
	return e
}

// ErrorReason returns the Reason of the first *Error in err's chain.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
