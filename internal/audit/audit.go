// Package audit keeps what admins did to the desk (who, what, to what,
// when, before and after) for admins to read back.
package audit

import (
	"context"
	"encoding/json"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Entry is one recorded admin action.
type Entry struct {
	ID      int64           `json:"id"`
	At      time.Time       `json:"at"`
	ActorID string          `json:"actor_id"`
	Action  string          `json:"action"` // e.g. "canned.create", "agent.disable"
	Target  string          `json:"target"` // the id of what was acted on
	Before  json.RawMessage `json:"before,omitempty"`
	After   json.RawMessage `json:"after,omitempty"`
}

// Store keeps entries; AuditEntries lists those with an id below before
// (0: from the newest), newest first.
type Store interface {
	AppendAudit(ctx context.Context, e Entry) error
	AuditEntries(ctx context.Context, before int64, limit int) ([]Entry, error)
}

// Log records and lists.
type Log struct {
	store Store
	now   func() time.Time
}

// New returns a Log on store, reading the time from now (time.Now when nil).
func New(store Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: store, now: now}
}

// Record notes that actor did action to target; before and after are
// what it was and became (nil for nothing), kept as JSON.
func (l *Log) Record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error {
	e := Entry{At: l.now().UTC(), ActorID: actor.ID, Action: action, Target: target}
	var err error
	if e.Before, err = encode(before); err != nil {
		return err
	}
	if e.After, err = encode(after); err != nil {
		return err
	}
	return l.store.AppendAudit(ctx, e)
}

func encode(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, desk.Wrap(desk.EInternal, err, "encode audit entry")
	}
	return b, nil
}

// List returns a page of entries, newest first.
func (l *Log) List(ctx context.Context, before int64, limit int) ([]Entry, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	out, err := l.store.AuditEntries(ctx, before, limit)
	if out == nil {
		out = []Entry{}
	}
	return out, err
}
