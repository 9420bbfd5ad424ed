package httpapi

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/limits"
)

// statuses maps each desk error code to its HTTP status, once for the
// whole API.
var statuses = map[string]int{
	desk.EInvalid:      http.StatusBadRequest,
	desk.EUnauthorized: http.StatusUnauthorized,
	desk.EForbidden:    http.StatusForbidden,
	desk.ENotFound:     http.StatusNotFound,
	desk.EConflict:     http.StatusConflict,
	desk.ERateLimited:  http.StatusTooManyRequests,
	desk.EUnavailable:  http.StatusServiceUnavailable,
	desk.EInternal:     http.StatusInternalServerError,
	desk.ETooLarge:     http.StatusRequestEntityTooLarge,
	desk.EUnsupported:  http.StatusUnsupportedMediaType,
}

// retryUnavailableSeconds is the Retry-After of a 503.
const retryUnavailableSeconds = 2

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"`
}

// writeError answers with err's status and caller-safe message. Failures
// that are ours (internal, unavailable) are logged here, once; the cause
// never reaches the client.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := desk.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		// A code this table does not know is a bug; treat it as one.
		code, status = desk.EInternal, http.StatusInternalServerError
	}
	message := desk.ErrorMessage(err)
	switch code {
	case desk.EInternal:
		message = "internal error"
		a.Log.Error("internal error", slog.String("request_id", RequestID(r.Context())), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("error", err))
	case desk.EUnavailable:
		// The database or bus restarting, failing over or overloaded:
		// seconds, not minutes. Clients retry the same request (the same
		// client_msg_id) after this.
		w.Header().Set("Retry-After", strconv.Itoa(retryUnavailableSeconds))
		a.Log.Warn("dependency unavailable", slog.String("request_id", RequestID(r.Context())), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Any("error", err))
	case desk.EUnauthorized:
		w.Header().Set("WWW-Authenticate", "Bearer")
	case desk.ERateLimited:
		var refused *limits.Refused
		if errors.As(err, &refused) {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(refused.RetryAfter.Seconds())))))
		} else if wait, ok := auth.RetryAfter(err); ok {
			// Whole seconds, rounded up so a client that waits exactly this
			// long is not refused again.
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		}
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message, Reason: desk.ErrorReason(err)}})
}
