package desk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// TokenStore maps bearer tokens to the principal they were issued to.
//
// Keys follow the seed's layout, "agent:token:{token}" → agent id and
// "employee:token:{token}" → employee id, so a login service that writes
// Redis directly keeps working against us.
//
// Contract, shared by every implementation and checked by one test suite:
//   - Lookup of a missing, expired or deleted token fails with ENotFound.
//   - Any failure of the store itself (unreachable, erroring, too slow for
//     ctx) fails with EUnavailable, never ENotFound: callers fail closed.
//   - Delete of a missing token succeeds.
//   - All methods are safe for concurrent use.
type TokenStore interface {
	Put(ctx context.Context, role Role, token, id string, ttl time.Duration) error
	Lookup(ctx context.Context, role Role, token string) (id string, err error)
	Delete(ctx context.Context, role Role, token string) error
	// DeleteAll revokes every token this store issued to id and returns how
	// many were live.
	DeleteAll(ctx context.Context, role Role, id string) (int, error)
}

// TokenHash is what a store that keeps tokens in a database keeps of one:
// its SHA-256. Tokens are 256-bit random, so no salt or slow hash is
// needed; a copy of the table holds no usable credential.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CheckTokenPut is the validation every TokenStore applies to Put.
func CheckTokenPut(role Role, token, id string, ttl time.Duration) error {
	switch {
	case !role.Valid():
		return Errorf(EInvalid, "unknown role %q", role)
	case token == "":
		return Errorf(EInvalid, "token must not be empty")
	case id == "":
		return Errorf(EInvalid, "%s id must not be empty", role)
	case ttl <= 0:
		return Errorf(EInvalid, "token ttl must be positive")
	}
	return nil
}

// TokenKey is the seed's storage key for a token.
func TokenKey(role Role, token string) string { return string(role) + ":token:" + token }

// TokenFingerprint names a token where the token itself must not go: the
// event bus, the hub's index, metrics. It is a one-way hash, so a
// fingerprint in a log or on the wire cannot be replayed as a credential.
func TokenFingerprint(token string) string {
	fp := TokenFingerprintOf(token)
	return hex.EncodeToString(fp[:])
}

// Fingerprint is a TokenFingerprint's bytes, before hex: what a holder of
// many (the hub, one per connection) keeps, at half the size and no
// allocation of its own.
type Fingerprint [12]byte

// TokenFingerprintOf returns token's fingerprint as bytes.
func TokenFingerprintOf(token string) Fingerprint {
	sum := sha256.Sum256([]byte(token))
	return Fingerprint(sum[:12])
}

// ParseFingerprint reads a TokenFingerprint back into bytes; ok is false
// for a string that is not one.
func ParseFingerprint(s string) (fp Fingerprint, ok bool) {
	if hex.DecodedLen(len(s)) != len(fp) {
		return fp, false
	}
	if _, err := hex.Decode(fp[:], []byte(s)); err != nil {
		return fp, false
	}
	// Only the lower-case form TokenFingerprint writes names a token.
	var back [2 * len(Fingerprint{})]byte
	hex.Encode(back[:], fp[:])
	return fp, string(back[:]) == s
}

// AudienceKind says how an Event picks its connections.
type AudienceKind uint8

// Audience kinds.
const (
	ToUser              AudienceKind = iota + 1 // every connection of one principal
	ToAllAgents                                 // every agent connection
	ToToken                                     // every connection opened with one token
	ToUsers                                     // every connection of each of several principals
	ToPresenceFollowers                         // every agent connection that asked to follow presence
)

// Audience selects the live connections an Event goes to, on every node.
type Audience struct {
	Kind        AudienceKind
	User        Principal   // for ToUser
	Users       []Principal // for ToUsers
	Fingerprint string      // for ToToken, see TokenFingerprint
}

// Close asks the receiving connections to close with a WebSocket close code.
type Close struct {
	Code   int
	Reason string
}

// Event is one thing for the gateway to do to live connections: send Frame
// (a JSON text frame, delivered byte for byte) or, when Close is set, close
// them.
type Event struct {
	To    Audience
	Frame []byte
	Close *Close
	// ConversationID and Seq are set when Frame is a conversation event, so
	// a connection that is resuming that conversation can hold it back and
	// drop what it has already been sent.
	ConversationID string
	Seq            int64
	// Prev is the seq of the conversation's previous event that this
	// audience was sent (0 if none or unknown). A connection that has been
	// sent less than Prev of the conversation has missed an event, and
	// fills the gap from the store before delivering this one.
	Prev int64
}

// Bus carries events to the connections they address, wherever they live.
//
// Contract, shared by every implementation and checked by one test suite:
//   - Publish never blocks on a slow receiver; it returns once the event is
//     handed to the transport (memory: delivered; Redis: published).
//   - Events published by one goroutine are delivered in the order published.
//   - A failure to publish is EUnavailable; the event may be lost, and the
//     caller decides whether that matters.
//   - Safe for concurrent use.
type Bus interface {
	Publish(ctx context.Context, ev Event) error
}

// AgentStore keeps agent accounts.
//
// Contract: lookups of unknown agents fail with ENotFound (never a zero
// Agent and nil); creating a username that exists fails with EConflict.
type AgentStore interface {
	CreateAgent(ctx context.Context, a Agent) error
	AgentByUsername(ctx context.Context, username string) (Agent, error)
	AgentByID(ctx context.Context, id string) (Agent, error)
	// Agents lists every enabled agent, ordered by name; password hashes
	// are left empty.
	Agents(ctx context.Context) ([]Agent, error)
	// SetAgentDisabled disables or re-enables an agent (ENotFound if there
	// is no such agent). A disabled agent is not found by the lookups.
	SetAgentDisabled(ctx context.Context, id string, disabled bool) error
	// SetAgentRole makes an agent AgentRoleAdmin or AgentRoleAgent.
	SetAgentRole(ctx context.Context, id, role string) error
	// DisabledAgentIDs lists the ids of every disabled agent. Agents
	// unknown to the store are not disabled (their tokens may come from
	// another login service).
	DisabledAgentIDs(ctx context.Context) ([]string, error)
}
