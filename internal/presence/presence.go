// Package presence knows which agents are online, away or offline across
// every node, and pushes each change to the agents' connections.
//
// Memory serves a single node; Redis lets several nodes share one view, and
// keeps it true when a node dies: each node's entries expire unless it keeps
// refreshing them. Both pass the same contract suite (runContract in
// contract_test.go).
package presence

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// Status is an agent's presence; the type lives in desk, where the
// desk's rules use it without depending on how presence is tracked.
type Status = desk.PresenceStatus

// The statuses (see desk.PresenceStatus).
const (
	Online  = desk.PresenceOnline
	Away    = desk.PresenceAway
	Busy    = desk.PresenceBusy
	Offline = desk.PresenceOffline
)

// Tracker is what the rest of the desk uses of presence.
//
// Contract, shared by every implementation and checked by one test suite:
//   - Connected and Disconnected count the node's local connections of an
//     agent; the agent is online on this node while Connected calls
//     outnumber Disconnected ones. They never block and never call the bus,
//     so a hub may call them with its own lock held; the work happens in Run.
//   - Each change of an agent's cluster-wide status is published once, as
//     Frame, to every agent connection that follows presence
//     (desk.ToPresenceFollowers), however many nodes there are; with Redis,
//     by whichever node first notices it.
//   - SetStatus records an agent's choice (online or away, else EInvalid),
//     publishes the change if there is one before returning, and returns the
//     agent's resulting status and whether it changed.
//   - Status and Statuses reflect this node's Connected and Disconnected
//     once Run has caught up (Memory: at once), other nodes' once they
//     have, and SetStatus as soon as it returns. A connection that comes and
//     goes before Run looks need not be announced at all.
//   - A failure of the shared store is EUnavailable.
//   - Safe for concurrent use.
type Tracker interface {
	Connected(agentID string)
	Disconnected(agentID string)
	SetStatus(ctx context.Context, agentID string, s Status) (Status, bool, error)
	Status(ctx context.Context, agentID string) (Status, error)
	// Statuses returns every agent who is not offline.
	Statuses(ctx context.Context) (map[string]Status, error)
	// OnlineCount is how many agents are online and not away, for employees
	// waiting in the queue. It does no I/O: Redis answers from its last sync.
	OnlineCount() int
	// Run does the tracker's I/O and announcements until ctx ends.
	Run(ctx context.Context)
}

// Options are what every tracker takes.
type Options struct {
	// OnChange, if set, is called after this node has announced one or more
	// changes, from the tracker's goroutine with no lock held; it must not
	// block. The desk uses it to push fresh queue positions.
	OnChange func()
	Log      *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// publishTimeout bounds one announcement, so a stuck bus cannot stall the
// tracker's loop for long.
const publishTimeout = 2 * time.Second

// announceDelay gathers the changes of a burst (a node restarting and
// hundreds of agents reconnecting) into one announcement. Announcing each
// agent to every agent would cost agents² frames: 10,000 agents
// reconnecting would be 10⁸ frames.
const announceDelay = 250 * time.Millisecond

// frame is the presence frame, the same whether announced or sent back to
// an agent whose choice changed nothing.
type frame struct {
	Type string    `json:"type"`
	Data frameData `json:"data"`
}

type frameData struct {
	Agents []change `json:"agents"`
}

// change is one agent's new cluster-wide status, to announce.
type change struct {
	AgentID string `json:"agent_id"`
	Status  Status `json:"status"`
}

// Frame returns the presence frame for one agent's status:
// {"type":"presence","data":{"agents":[{"agent_id":"…","status":"…"}]}}.
func Frame(agentID string, s Status) []byte { return frameOf([]change{{agentID, s}}) }

func frameOf(changes []change) []byte {
	b, _ := json.Marshal(frame{Type: wire.TypePresence, Data: frameData{Agents: changes}})
	return b
}

// announce publishes changes, in order, as one frame. It returns them all
// if that failed, so the caller can have them announced again later.
func announce(ctx context.Context, bus desk.Bus, log *slog.Logger, changes []change) []change {
	if len(changes) == 0 {
		return nil
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	// Only consoles that follow presence get it: announcing every agent to
	// every agent socket costs agents² bytes, which a program holding
	// thousands of agent sockets does not need to pay.
	err := bus.Publish(pctx, desk.Event{To: desk.Audience{Kind: desk.ToPresenceFollowers}, Frame: frameOf(changes)})
	if err != nil {
		log.Warn("publish presence", "agents", len(changes), "error", err)
		return changes
	}
	return nil
}

// gather waits d after a first change, so the ones that follow go out with
// it. It reports false if ctx ended meanwhile.
func gather(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func invalidStatus(s Status) error {
	return desk.Errorf(desk.EInvalid, "status must be %q or %q, not %q", Online, Away, s)
}

// local counts this node's connections per agent. The hub calls into it
// with its lock held, so it only records and nudges the loop.
type local struct {
	mu      sync.Mutex
	conns   map[string]int      // agent → live local connections
	dirty   map[string]struct{} // agents whose local state changed since take
	changed bool                // the set of locally online agents changed since take
	kick    chan struct{}       // capacity 1: "there is work"
}

func newLocal() local {
	return local{conns: make(map[string]int), dirty: make(map[string]struct{}), kick: make(chan struct{}, 1)}
}

// Connected records one more local connection of agentID. It never blocks.
func (l *local) Connected(agentID string) {
	l.mu.Lock()
	l.conns[agentID]++
	if l.conns[agentID] == 1 {
		l.markLocked(agentID)
	}
	l.mu.Unlock()
}

// Disconnected records one local connection of agentID fewer. It never
// blocks; a Disconnected without a matching Connected is ignored.
func (l *local) Disconnected(agentID string) {
	l.mu.Lock()
	switch n := l.conns[agentID]; {
	case n > 1:
		l.conns[agentID] = n - 1
	case n == 1:
		delete(l.conns, agentID)
		l.markLocked(agentID)
	}
	l.mu.Unlock()
}

func (l *local) markLocked(agentID string) {
	l.dirty[agentID] = struct{}{}
	l.changed = true
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// online reports whether agentID has a local connection.
func (l *local) online(agentID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[agentID] > 0
}

// take returns and clears the agents marked dirty, with the agents online
// here now and whether that set changed since the last take.
func (l *local) take() (dirty, online []string, changed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for a := range l.dirty {
		dirty = append(dirty, a)
	}
	clear(l.dirty)
	online = make([]string, 0, len(l.conns))
	for a := range l.conns {
		online = append(online, a)
	}
	changed, l.changed = l.changed, false
	return dirty, online, changed
}

// remark marks agents dirty again after a sync that took them failed.
func (l *local) remark(agents []string) {
	if len(agents) == 0 {
		return
	}
	l.mu.Lock()
	for _, a := range agents {
		l.dirty[a] = struct{}{}
	}
	l.mu.Unlock()
}

// markChanged makes the next take report a change, so a failed write of
// the local set is tried again.
func (l *local) markChanged() {
	l.mu.Lock()
	l.changed = true
	l.mu.Unlock()
}
