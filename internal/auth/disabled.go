package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DisabledRecheck bounds how long another node's disabling takes to reach
// this one. Disabling revokes the agent's tokens everywhere at once; the
// check only matters for a token another login service issued after that,
// so a few seconds' delay costs nothing while one read per handshake and
// per REST request cost the gateway a tenth of its CPU at 10,000 sockets.
const DisabledRecheck = 5 * time.Second

// disabledAgents answers "is this agent disabled?" from the set of
// disabled agents, read from the store at most every maxAge: the set is
// small (it grows only when an admin disables someone), and one query per
// period replaces one per handshake.
type disabledAgents struct {
	list   func(ctx context.Context) ([]string, error)
	maxAge time.Duration
	now    func() time.Time

	snap atomic.Pointer[disabledSnapshot]
	// gen counts this node's own changes, so a reload that began before
	// one is not taken as fresh.
	gen    atomic.Uint64
	reload sync.Mutex // one reload at a time; the rest wait for its answer
}

type disabledSnapshot struct {
	ids    map[string]bool
	readAt time.Time
}

// disabled reports whether id is disabled. A store that cannot answer
// when the set is due refuses (the caller fails closed).
func (d *disabledAgents) disabled(ctx context.Context, id string) (bool, error) {
	if s := d.snap.Load(); d.fresh(s) {
		return s.ids[id], nil
	}
	d.reload.Lock()
	defer d.reload.Unlock()
	if s := d.snap.Load(); d.fresh(s) { // another caller reloaded it meanwhile
		return s.ids[id], nil
	}
	gen, start := d.gen.Load(), d.now()
	list, err := d.list(ctx)
	if err != nil {
		return false, err
	}
	s := &disabledSnapshot{ids: make(map[string]bool, len(list)), readAt: start}
	for _, v := range list {
		s.ids[v] = true
	}
	if d.gen.Load() == gen { // else it may predate the change: answer, keep nothing
		d.snap.Store(s)
	}
	return s.ids[id], nil
}

func (d *disabledAgents) fresh(s *disabledSnapshot) bool {
	return s != nil && d.now().Sub(s.readAt) < d.maxAge
}

// changed has the set read again before it is next trusted, after this
// node changed an agent: the change is then known here at once.
func (d *disabledAgents) changed() {
	d.gen.Add(1)
	d.snap.Store(nil)
}

// AgentDisabled reports whether id names a disabled agent, as of at most
// DisabledRecheck ago (at once for changes made through this Service).
// Unknown ids are not disabled: their tokens may come from another login
// service.
func (s *Service) AgentDisabled(ctx context.Context, id string) (bool, error) {
	return s.disabled.disabled(ctx, id)
}
