package desk

// PresenceStatus is an agent's presence.
type PresenceStatus string

// The statuses. Their string values are part of the wire contract: the
// presence frame and GET /api/agents carry them.
const (
	// PresenceOnline: at least one live connection on some node, and not
	// away.
	PresenceOnline PresenceStatus = "online"
	// PresenceAway: connected, but the agent said they are not taking work.
	// The choice outlives the agent's connections: it holds until the agent
	// sets online again, so a reconnect or a node drain does not undo it.
	PresenceAway PresenceStatus = "away"
	// PresenceOffline: no live connection on any live node.
	PresenceOffline PresenceStatus = "offline"
)

// Settable reports whether an agent may choose s: online or away.
func (s PresenceStatus) Settable() bool { return s == PresenceOnline || s == PresenceAway }
