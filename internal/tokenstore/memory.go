// Package tokenstore implements desk.TokenStore: Memory for a single node,
// Redis for several nodes or for sharing tokens with the seed's login
// service. Both pass the same contract suite.
package tokenstore

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ desk.TokenStore = (*Memory)(nil)

// minSweepInterval is the fewest Puts between sweeps, so a small store does
// not rescan its whole map on every login.
const minSweepInterval = 64

// Memory is an in-process desk.TokenStore. Tokens vanish on restart, which
// only logs everyone out.
//
// Expired entries are never returned, and Put sweeps them out once there
// have been as many Puts as the map held after the last sweep: each sweep's
// cost is paid for by the Puts before it, and no goroutine has to be owned
// and stopped.
type Memory struct {
	now func() time.Time

	mu         sync.Mutex
	entries    map[string]memoryEntry // by desk.TokenKey
	untilSweep int                    // Puts left before the next sweep
}

type memoryEntry struct {
	id      string
	expires time.Time
}

// NewMemory returns an empty store that reads the time from now, or from
// time.Now when now is nil; tests pass a fake clock to expire tokens.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, entries: make(map[string]memoryEntry), untilSweep: minSweepInterval}
}

// Put stores token for id until ttl has passed, replacing any earlier entry.
func (m *Memory) Put(_ context.Context, role desk.Role, token, id string, ttl time.Duration) error {
	if err := checkPut(role, token, id, ttl); err != nil {
		return err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[desk.TokenKey(role, token)] = memoryEntry{id: id, expires: now.Add(ttl)}
	if m.untilSweep--; m.untilSweep <= 0 {
		m.sweep(now)
	}
	return nil
}

// Lookup returns the id token was issued to, or ENotFound.
func (m *Memory) Lookup(_ context.Context, role desk.Role, token string) (string, error) {
	now := m.now()
	key := desk.TokenKey(role, token)
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		return "", errNotFound()
	}
	if e.expired(now) {
		delete(m.entries, key)
		return "", errNotFound()
	}
	return e.id, nil
}

// Delete forgets token; deleting a missing token succeeds.
func (m *Memory) Delete(_ context.Context, role desk.Role, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, desk.TokenKey(role, token))
	return nil
}

// DeleteAll revokes every live token issued to id and reports how many.
// It scans the store: revoking a user is rare, logging in is not.
func (m *Memory) DeleteAll(_ context.Context, role desk.Role, id string) (int, error) {
	now := m.now()
	prefix := desk.TokenKey(role, "")
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for key, e := range m.entries {
		if e.id == id && strings.HasPrefix(key, prefix) {
			delete(m.entries, key)
			if !e.expired(now) {
				n++
			}
		}
	}
	return n, nil
}

// sweep drops every expired entry. The caller holds m.mu.
func (m *Memory) sweep(now time.Time) {
	for key, e := range m.entries {
		if e.expired(now) {
			delete(m.entries, key)
		}
	}
	m.untilSweep = max(minSweepInterval, len(m.entries))
}

// expired treats the deadline itself as past, as Redis does.
func (e memoryEntry) expired(now time.Time) bool { return !now.Before(e.expires) }

// checkPut rejects what no store should keep. A ttl of zero would mean
// "forever" to Redis, and a token that never expires is a credential that
// can never be retired, so both stores refuse it.
func checkPut(role desk.Role, token, id string, ttl time.Duration) error {
	return desk.CheckTokenPut(role, token, id, ttl)
}

func errNotFound() error { return desk.Errorf(desk.ENotFound, "token not found") }
