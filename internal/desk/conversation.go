package desk

import (
	"encoding/json"
	"time"
)

// Status is where a conversation is in its life.
type Status string

// Conversation statuses.
const (
	StatusQueued   Status = "queued"   // waiting for an agent to claim it
	StatusOpen     Status = "open"     // an agent is assigned
	StatusResolved Status = "resolved" // done; the employee's next message reopens it
	// StatusPending: the agent asked the employee something and waits for
	// the answer; the employee's next message makes it open again.
	StatusPending Status = "pending"
	// StatusBot: the desk's assistant answers first (internal/firstline);
	// the employee may ask for a person (转人工) at any time, and the
	// conversation then joins the queue at the place it would have had.
	// Only desks with an assistant configured ever have it.
	StatusBot Status = "bot"
)

// Priorities, lowest first. An agent sets one; new conversations are normal.
var Priorities = []string{"low", "normal", "high", "urgent"}

// Types of request: something broke (incident), or something is wanted
// (a service request: an account, a laptop, access).
var Types = []string{"incident", "request"}

// Tag limits: a few short labels, not a second message.
const (
	MaxTags     = 10
	MaxTagRunes = 32
)

// Categories a new desk starts with: the IT desk's usual triage buckets.
// Admins add, rename and retire categories from then on (Category).
var Categories = []string{"account", "network", "hardware", "software", "other"}

// Category is a bucket an employee files a request under. Conversations
// keep the Key, so renaming never touches them, and a retired category
// (Active false) is refused for new requests but still names old ones.
type Category struct {
	Key    string `json:"key"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
	// Color is "#rrggbb", or empty for the pages' default chip.
	Color string `json:"color"`
	// DefaultPriority is a new request's priority (one of Priorities), or
	// empty for normal.
	DefaultPriority string `json:"default_priority"`
	Active          bool   `json:"active"`
	Position        int    `json:"position"`
	// TeamID is the team whose routing its requests follow, if any.
	TeamID string `json:"team_id"`
}

// ValidCategoryKey reports whether k can name a category: a short
// lowercase slug, so it reads well in URLs, exports and reports.
func ValidCategoryKey(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for _, r := range k {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// Conversation is one employee's request for help.
type Conversation struct {
	ID         string     `json:"id"`
	EmployeeID string     `json:"employee_id"`
	Subject    string     `json:"subject"`
	Category   string     `json:"category"`
	Status     Status     `json:"status"`
	AssigneeID string     `json:"assignee_id,omitempty"`
	Seq        int64      `json:"seq"` // the last event's sequence number
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	QueuedAt   *time.Time `json:"queued_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Ref is the number both sides quote: "IT-2026-000123".
	Ref      string   `json:"ref,omitempty"`
	Priority string   `json:"priority,omitempty"`
	Type     string   `json:"type,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	// TeamID is the team the conversation's category routes to, if any.
	TeamID string `json:"team_id,omitempty"`
	// ClientMsgID is the first message's client id: a retried create
	// returns the same conversation.
	ClientMsgID string `json:"-"`
	// PublicSeq is the seq of the last event the employee may see (not
	// private), and BroadcastSeq that of the last event sent to every
	// agent. Each event's live copies carry the previous one of their
	// audience (Event.Prev), so a connection can tell a gap it must fill
	// from a seq it was never meant to see.
	PublicSeq    int64 `json:"-"`
	BroadcastSeq int64 `json:"-"`
}

// Participant is someone in a conversation: its employee, or an agent who
// claimed it or was invited. Agents who left are kept with Active false.
type Participant struct {
	Role        Role      `json:"role"`
	ID          string    `json:"id"`
	Name        string    `json:"name,omitempty"`
	Active      bool      `json:"active"`
	LastReadSeq int64     `json:"last_read_seq"`
	JoinedAt    time.Time `json:"joined_at"`
}

// Principal returns who the participant is.
func (p Participant) Principal() Principal { return Principal{Role: p.Role, ID: p.ID} }

// EventType names a persisted change to a conversation.
type EventType string

// Event types. Each is stored with the conversation's next sequence number
// in the same transaction as the change it records; the lifecycle ones are
// the conversation's system messages.
const (
	EventCreated     EventType = "conversation.created"
	EventMessage     EventType = "message.created"
	EventNote        EventType = "note.created" // agents only, never the employee
	EventClaimed     EventType = "conversation.claimed"
	EventJoined      EventType = "participant.joined"
	EventLeft        EventType = "participant.left"
	EventTransferred EventType = "conversation.transferred"
	EventResolved    EventType = "conversation.resolved"
	EventReopened    EventType = "conversation.reopened"
	EventRead        EventType = "conversation.read"
	// EventUpdated: an agent changed priority, type or tags (data: what
	// changed, and by whom).
	EventUpdated EventType = "conversation.updated"
	// EventPending: the assignee is waiting for the employee's answer.
	EventPending EventType = "conversation.pending"
	// EventWithdrawn: the employee closed their own request.
	EventWithdrawn EventType = "conversation.withdrawn"
	// EventHandedOver: a conversation the assistant answered first went to
	// the queue for a person: the employee asked (by "employee"), wrote
	// again, or the assistant could not help (by "assistant", with reason).
	EventHandedOver EventType = "conversation.handed_over"
)

// ConvEvent is one entry of a conversation's ordered, persisted history, as
// both the polling endpoint and the WebSocket deliver it.
type ConvEvent struct {
	ConversationID string          `json:"conversation_id"`
	Seq            int64           `json:"seq"`
	Type           EventType       `json:"type"`
	Data           json.RawMessage `json:"data"`
	Actor          Principal       `json:"-"`
	// Private events (notes) are for agents only.
	Private     bool      `json:"-"`
	ClientMsgID string    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
}

// Message is the data of an EventMessage or EventNote.
type Message struct {
	ID          string    `json:"id"` // "{conversation_id}:{seq}"
	Body        string    `json:"body"`
	SenderType  Role      `json:"sender_type"`
	SenderID    string    `json:"sender_id"`
	SenderName  string    `json:"sender_name,omitempty"`
	ClientMsgID string    `json:"client_msg_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	// Attachments the message carries, in the order they were sent.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Mentions are the agents a note names with @username: each is told,
	// and may read the conversation from then on.
	Mentions []string `json:"mentions,omitempty"`
	// Articles are the knowledge-base articles an assistant's answer cites,
	// in the order of its [1], [2] markers.
	Articles []ArticleRef `json:"articles,omitempty"`
}

// ArticleRef names a knowledge-base article a message cites.
type ArticleRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Rating is an employee's satisfaction with one resolution of their
// conversation: 1 (poor) to 5 (excellent), with an optional comment.
type Rating struct {
	ConversationID string    `json:"conversation_id"`
	ResolvedAt     time.Time `json:"resolved_at"` // which resolution it rates
	EmployeeID     string    `json:"employee_id"`
	AgentID        string    `json:"agent_id"` // who had the conversation
	Score          int       `json:"score"`
	Comment        string    `json:"comment,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// AgentRatings sums up one agent's ratings over a period.
type AgentRatings struct {
	AgentID string  `json:"agent_id"`
	Count   int     `json:"count"`
	Average float64 `json:"average"`
	// Scores counts the ratings of each score: Scores[0] is 1 star.
	Scores [5]int `json:"scores"`
}

// SLAClock is one service-level clock of a conversation as stored: its
// kind, its state as internal/sla encodes it, and, while it runs towards
// a breach, when that falls due (what the breach sweep looks for).
type SLAClock struct {
	Kind  string
	Data  []byte
	DueAt *time.Time
	// State and Breached repeat the clock's outcome for the reports.
	State    string
	Breached bool
}

// TeamRatings is the ratings of the conversations routed to one team.
type TeamRatings struct {
	TeamID  string  `json:"team_id"`
	Count   int     `json:"count"`
	Average float64 `json:"average"`
	Scores  [5]int  `json:"scores"`
}

// EventRated: the employee rated (or re-rated) the last resolution.
const EventRated EventType = "conversation.rated"

// Team is a group of agents answering some categories. Routing says how
// their conversations reach them: RoutingManual (the shared queue, agents
// claim) or RoutingAuto (the online member with the fewest open
// conversations, under Capacity each, gets it; with nobody free it waits).
type Team struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Routing    string   `json:"routing"`
	Capacity   int      `json:"capacity"`
	Members    []string `json:"members"`
	Categories []string `json:"categories"`
	// LeadID is the agent service-level escalations may call in.
	LeadID string `json:"lead_id"`
}

// Routing modes.
const (
	RoutingManual = "manual"
	RoutingAuto   = "auto"
)
