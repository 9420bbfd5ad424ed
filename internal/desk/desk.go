// Package desk holds the service desk's domain: who talks to it, the rules
// they follow, the error codes every surface maps from, and the seams
// (token store, event bus, storage) that the adapters plug into.
//
// It imports the standard library only, so every other package can depend on
// it without cycles.
package desk

import (
	"fmt"
	"regexp"
)

// Role says which side of the desk a principal is on.
type Role string

// The two roles. Their string values appear in token keys, log lines and the
// typing frame's sender_type, so they are part of the wire contract.
const (
	RoleAgent    Role = "agent"
	RoleEmployee Role = "employee"
	// RoleBot is the desk's AI assistant (internal/firstline): it writes
	// messages (sender_type "bot") but never signs in, so it is not Valid.
	RoleBot Role = "bot"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r == RoleAgent || r == RoleEmployee }

// Principal identifies one user of the desk: an agent or an employee.
type Principal struct {
	Role Role
	ID   string
}

func (p Principal) String() string { return string(p.Role) + ":" + p.ID }

// idPattern accepts WeCom UserIDs (1–64 of letters, digits, "_", "-", "@",
// ".") and our own generated agent ids, and nothing that could break a
// Redis key, a URL path segment or a log line.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// ValidateID checks a user id taken from a path or a request body.
func ValidateID(role Role, id string) error {
	if !idPattern.MatchString(id) {
		return Errorf(EInvalid, "%s id must be 1-64 letters, digits or _ . @ -", role)
	}
	return nil
}

// Agent is an IT agent account (坐席).
type Agent struct {
	ID           string
	Username     string
	Name         string
	PasswordHash string
	// Role is AgentRoleAgent or AgentRoleAdmin; empty reads as an agent.
	Role string
}

// Agent roles: admins manage the desk (agents, shared canned replies…)
// from the console, and what they do is audited.
const (
	AgentRoleAgent = "agent"
	AgentRoleAdmin = "admin"
)

// IsAdmin reports whether the agent may manage the desk.
func (a Agent) IsAdmin() bool { return a.Role == AgentRoleAdmin }

// String keeps the password hash out of any accidental %v.
func (a Agent) String() string { return fmt.Sprintf("Agent(%s %q)", a.ID, a.Username) }
