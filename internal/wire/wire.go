// Package wire is the vocabulary of the public WebSocket protocol, in one
// place: close codes and reasons, frame types, and the codes of error
// frames. The gateway, the hub, the desk's services and the Go client all
// speak it; docs/protocol.md describes it for everyone else. Values here
// are a contract with clients written against that document: add, never
// change.
package wire

// Close codes the server sends.
const (
	// CloseUnauthorized is the seed's code for every authentication failure
	// and for a revoked or expired token: log in again.
	CloseUnauthorized = 4001
	// CloseUnsupportedData: a binary frame.
	CloseUnsupportedData = 1003
	// ClosePolicyViolation: too many frames (or sockets) for one user.
	ClosePolicyViolation = 1008
	// CloseTooBig: a message over the size limit.
	CloseTooBig = 1009
	// CloseInternal: the server failed while handling this connection.
	CloseInternal = 1011
	// CloseServiceRestart: the node is draining or restarting, or lost its
	// event bus: reconnect (to another node) and resume.
	CloseServiceRestart = 1012
	// CloseTryAgainLater: a slow consumer whose outbound queue overflowed,
	// a gap that could not be filled from the database, or a node that
	// cannot hear its event bus turning new sockets away: reconnect with
	// backoff and resume.
	CloseTryAgainLater = 1013
)

// The seed's close reasons for CloseUnauthorized, byte for byte: its front
// ends match on them.
const (
	ReasonMissingToken     = "Missing token"
	ReasonInvalidToken     = "Invalid or expired token"
	ReasonAgentMismatch    = "Token-agent mismatch"
	ReasonEmployeeMismatch = "Token-employee mismatch"
	ReasonStoreUnavailable = "Authentication service unavailable"
	ReasonTokenRevoked     = "Token revoked"
)

// Other close reasons, for people reading logs and close frames.
const (
	ReasonBinary             = "binary frames are not supported"
	ReasonRateExceeded       = "message rate exceeded"
	ReasonServerShuttingDown = "server shutting down"
	ReasonServerRestarting   = "server restarting"
	ReasonBusUnavailable     = "event bus unavailable"
	ReasonSlowConsumer       = "slow consumer: outbound queue full"
	ReasonCatchUp            = "could not catch up; resume"
	ReasonInternal           = "internal error"
	ReasonTooManySocketsUser = "too many connections for this user"
	ReasonTooManySocketsAddr = "too many connections from this address"
)

// Frame types a client sends.
const (
	TypePing           = "ping"
	TypeTyping         = "typing"
	TypeMessage        = "message"
	TypeResume         = "resume"
	TypeRead           = "read"
	TypePresence       = "presence"
	TypePresenceFollow = "presence.follow"
)

// Frame types the server sends besides conversation events (whose types
// are desk.EventType) and TypeTyping and TypePresence.
const (
	TypePong          = "pong"
	TypeAck           = "ack"
	TypeResumed       = "resumed"
	TypeError         = "error"
	TypeQueuePosition = "queue.position"
	// TypeAssistantDelta: the assistant's answer as it is written, to the
	// employee only and not stored: text is all of it so far (a lost frame
	// costs nothing), done ends it. The stored answer follows as a
	// message.created with sender_type "bot"; clients may ignore these.
	TypeAssistantDelta = "assistant.delta"
)

// Codes of error frames that are about the frame itself. Refusals by the
// desk carry the desk's own error code instead (invalid, not_found,
// forbidden, conflict, rate_limited, unavailable).
const (
	CodeInvalidJSON  = "invalid_json"
	CodeInvalidFrame = "invalid_frame"
	CodeUnknownType  = "unknown_type"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal_error"
)
