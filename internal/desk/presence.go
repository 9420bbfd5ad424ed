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
	// PresenceBusy: connected and working, but taking nothing new (a long
	// call, a site visit): like away, automatic routing gives them nothing;
	// unlike away, colleagues see they are there. Kept like away.
	PresenceBusy PresenceStatus = "busy"
	// PresenceOffline: no live connection on any live node.
	PresenceOffline PresenceStatus = "offline"
)

// Settable reports whether an agent may choose s: online, away or busy.
func (s PresenceStatus) Settable() bool {
	return s == PresenceOnline || s == PresenceAway || s == PresenceBusy
}
