package presence

import (
	"context"
	"sync"

	"github.com/servicedesk/servicedesk/internal/desk"
)

var _ Tracker = (*Memory)(nil)

// Memory is the single-node Tracker: an agent is online while this node
// holds one of their connections.
type Memory struct {
	local
	bus  desk.Bus
	opts Options

	mu   sync.Mutex
	away map[string]Status // the agents who chose away or busy

	// announceMu serialises comparing and publishing, so announcements
	// leave in the order the state changed.
	announceMu sync.Mutex
	announced  map[string]Status // the last status announced; offline agents are absent
}

// NewMemory returns a tracker that announces changes on bus. Call Run to
// have the changes hub callbacks report announced.
func NewMemory(bus desk.Bus, opts Options) *Memory {
	return &Memory{
		local: newLocal(), bus: bus, opts: opts.withDefaults(),
		away: make(map[string]Status), announced: make(map[string]Status),
	}
}

// Run announces the changes Connected and Disconnected record, until ctx
// ends.
func (m *Memory) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		}
		if !gather(ctx, announceDelay) {
			return
		}
		dirty, _, _ := m.take()
		m.settle(ctx, dirty)
	}
}

// SetStatus records the agent's choice and announces the change, if any.
func (m *Memory) SetStatus(ctx context.Context, agentID string, s Status) (Status, bool, error) {
	if !s.Settable() {
		return "", false, invalidStatus(s)
	}
	// Choosing under announceMu keeps the loop from announcing the choice
	// before SetStatus can tell its caller it changed something.
	m.announceMu.Lock()
	m.mu.Lock()
	if s == Online {
		delete(m.away, agentID)
	} else {
		m.away[agentID] = s
	}
	m.mu.Unlock()
	now, changed, failed := m.settleLocked(ctx, []string{agentID})
	m.announceMu.Unlock()
	if changed {
		m.opts.OnChange()
	}
	if failed {
		return now, changed, desk.Errorf(desk.EUnavailable, "could not announce the change; try again")
	}
	return now, changed, nil
}

// Status returns the agent's status.
func (m *Memory) Status(_ context.Context, agentID string) (Status, error) {
	return m.status(agentID), nil
}

// Statuses returns every agent who is online or away.
func (m *Memory) Statuses(context.Context) (map[string]Status, error) {
	m.local.mu.Lock()
	online := make([]string, 0, len(m.conns))
	for a := range m.conns {
		online = append(online, a)
	}
	m.local.mu.Unlock()
	out := make(map[string]Status, len(online))
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range online {
		out[a] = Online
		if chosen, ok := m.away[a]; ok {
			out[a] = chosen
		}
	}
	return out, nil
}

// OnlineCount returns how many agents are online and not away.
func (m *Memory) OnlineCount() int {
	all, _ := m.Statuses(context.Background())
	n := 0
	for _, s := range all {
		if s == Online {
			n++
		}
	}
	return n
}

func (m *Memory) status(agentID string) Status {
	if !m.online(agentID) {
		return Offline
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if chosen, ok := m.away[agentID]; ok {
		return chosen
	}
	return Online
}

// settle announces each agent's status that differs from the last one
// announced.
func (m *Memory) settle(ctx context.Context, agents []string) {
	m.announceMu.Lock()
	_, changed, _ := m.settleLocked(ctx, agents)
	m.announceMu.Unlock()
	if changed {
		m.opts.OnChange()
	}
}

// settleLocked is settle with announceMu held. For a single agent it also
// returns that agent's status; it returns whether anything changed and
// whether announcing it failed.
func (m *Memory) settleLocked(ctx context.Context, agents []string) (Status, bool, bool) {
	var changes []change
	var now Status
	for _, a := range agents {
		now = m.status(a)
		prev, ok := m.announced[a]
		if !ok {
			prev = Offline
		}
		if now == prev {
			continue
		}
		if now == Offline {
			delete(m.announced, a)
		} else {
			m.announced[a] = now
		}
		changes = append(changes, change{a, now})
	}
	failed := announce(ctx, m.bus, m.opts.Log, changes)
	for _, c := range failed {
		// Matches no status, so the agent's next settle announces again.
		m.announced[c.AgentID] = ""
	}
	return now, len(changes) > 0, len(failed) > 0
}
