package desk

import (
	"context"
	"time"
)

// ConversationStore keeps conversations, their participants, their ordered
// event history and the employees behind them. SQLite and PostgreSQL
// implement it, and one contract suite (internal/store/storetest) runs
// unchanged against both.
//
// Contract:
//   - Update runs fn in one read-write transaction and commits only if fn
//     returns nil. Writers are serialised per conversation at least (SQLite:
//     one writer; PostgreSQL: the conversation row is locked by
//     ConversationForUpdate), so seq numbers never collide.
//   - Lookups of unknown rows fail with ENotFound, never (zero, nil).
//   - Times are UTC with millisecond precision.
//   - Safe for concurrent use.
type ConversationStore interface {
	ConversationReader
	Outbox
	Update(ctx context.Context, fn func(tx ConversationTx) error) error
	// RatingsSince sums up the ratings given in [from, to) per agent, and
	// counts the conversations agents last resolved in it and how many of
	// those resolutions were rated (the response rate).
	RatingsSince(ctx context.Context, from, to time.Time) (per []AgentRatings, resolved, rated int, err error)
	// TeamRatingsSince sums up the ratings given in [from, to) per team
	// the rated conversations were routed to (Scores only).
	TeamRatingsSince(ctx context.Context, from, to time.Time) ([]TeamRatings, error)
	// Search returns the newest documents matching q, newest first.
	Search(ctx context.Context, q SearchQuery) ([]SearchHit, error)
	// RecentTags returns the tags of the newest conversations that have
	// any, at most limit conversations' worth, for suggestions.
	RecentTags(ctx context.Context, limit int) ([][]string, error)
}

// OutboxEntry is one committed batch's deliveries, kept until they are
// published. Deliveries is the writer's own encoding; stores keep it as
// they were given it.
type OutboxEntry struct {
	ID         int64
	CreatedAt  time.Time
	Deliveries []byte
}

// Outbox is the durable side of publishing: every batch's deliveries are
// written with the batch (ConversationTx.AddOutbox) and deleted once
// published, and whatever stays behind (a bus that was down, a node that
// died between commit and publish) is claimed and published by a sweeper on
// any node.
//
// Contract:
//   - ClaimOutbox returns up to limit entries created before createdBefore
//     whose lease has run out, oldest first, and leases them until
//     leaseUntil: two sweepers never claim one entry at once.
//   - ReleaseOutbox ends the lease of entries that could not be published
//     yet, so the next sweep takes them again.
//   - DeleteOutbox of a missing entry succeeds.
type Outbox interface {
	ClaimOutbox(ctx context.Context, createdBefore, leaseUntil time.Time, limit int) ([]OutboxEntry, error)
	ReleaseOutbox(ctx context.Context, ids []int64) error
	DeleteOutbox(ctx context.Context, ids []int64) error
}

// ConversationReader is every read, inside or outside a transaction.
type ConversationReader interface {
	Conversation(ctx context.Context, id string) (Conversation, error)
	// ConversationByClientMsgID finds the conversation an employee created
	// with that first-message client id, so a retried create is stored once.
	ConversationByClientMsgID(ctx context.Context, employeeID, clientMsgID string) (Conversation, error)
	// Participants returns active and former participants, oldest first,
	// with names filled in from agents and employees where known.
	Participants(ctx context.Context, conversationID string) ([]Participant, error)
	// EventByClientMsgID finds the event an actor stored with a client id
	// in a conversation (ENotFound if none).
	EventByClientMsgID(ctx context.Context, conversationID string, actor Principal, clientMsgID string) (ConvEvent, error)
	// Events returns up to limit events with seq > afterSeq in ascending
	// seq; private events only when includePrivate.
	Events(ctx context.Context, conversationID string, afterSeq int64, limit int, includePrivate bool) ([]ConvEvent, error)
	// ListConversations returns conversations matching q, most recently
	// updated first (queued: oldest queued first), with the viewer's unread
	// count.
	ListConversations(ctx context.Context, q ConversationQuery) ([]ConversationSummary, error)
	// Queue returns every queued conversation, oldest queued first: the
	// order agents should take them in and employees' queue positions.
	Queue(ctx context.Context) ([]Conversation, error)
	// QueueRank returns how many queued conversations come before one
	// queued at queuedAt with that id, and how many are queued: an
	// employee's place in the queue in two index counts, not a read of the
	// whole queue.
	QueueRank(ctx context.Context, queuedAt time.Time, id string) (before, length int, err error)
	// Rating returns the rating of one resolution (ENotFound if none).
	Rating(ctx context.Context, conversationID string, resolvedAt time.Time) (Rating, error)
	Employee(ctx context.Context, id string) (Employee, error)
}

// LockHint names a conversation that a batched command will lock and
// read first, and the client id it will look up there ("" for none), so
// that a store whose every statement is a round trip can lock and read a
// whole batch's conversations at once.
type LockHint struct {
	ConversationID string
	Actor          Principal
	ClientMsgID    string
}

// ConversationTx is what a transaction can do besides reading.
type ConversationTx interface {
	ConversationReader
	// ConversationForUpdate reads a conversation and locks it until the
	// transaction ends.
	ConversationForUpdate(ctx context.Context, id string) (Conversation, error)
	// CreateConversation inserts c (its ID is set by the caller).
	CreateConversation(ctx context.Context, c Conversation) error
	// SaveConversation writes c's mutable fields: status, assignee, seq,
	// updated, queued and resolved times.
	SaveConversation(ctx context.Context, c Conversation) error
	// SaveParticipant inserts or updates one participant (active flag,
	// last-read seq).
	SaveParticipant(ctx context.Context, conversationID string, p Participant) error
	// AppendEvent stores ev. An existing (conversation, seq) or (conversation,
	// actor, client id) is EConflict.
	AppendEvent(ctx context.Context, ev ConvEvent) error
	SaveEmployee(ctx context.Context, e Employee) error
	// AddOutbox stores a batch's deliveries (e.ID is ignored) and returns
	// the entry's id; DeleteOutbox removes entries already published.
	AddOutbox(ctx context.Context, e OutboxEntry) (int64, error)
	DeleteOutbox(ctx context.Context, ids []int64) error
	// Notify owes n.To a card (see NotificationStore).
	Notify(ctx context.Context, n Notification) error
	// Index makes a message's (or, at seq 0, the conversation's subject
	// line's) terms searchable (see internal/search).
	Index(ctx context.Context, conversationID string, seq int64, terms string) error
	// SaveRating stores r, replacing the rating of the same resolution.
	SaveRating(ctx context.Context, r Rating) error
	// TeamForCategory returns the team a category routes to, with its
	// members (ENotFound if none).
	TeamForCategory(ctx context.Context, category string) (Team, error)
	// Category returns the category with key k (ENotFound if none).
	Category(ctx context.Context, key string) (Category, error)
	// SLAClocks returns the conversation's service-level clocks;
	// SaveSLAClock creates or replaces one.
	SLAClocks(ctx context.Context, conversationID string) ([]SLAClock, error)
	SaveSLAClock(ctx context.Context, conversationID string, c SLAClock) error
	// RecordFirstResponse keeps the conversation's first answer: the
	// first call wins, later ones change nothing.
	RecordFirstResponse(ctx context.Context, conversationID string, at time.Time, agentID string) error
	// AgentLoad counts the conversations assigned to the agent and not
	// resolved, holding the agent until the transaction ends, so two
	// assignments at once cannot both see room for one more.
	AgentLoad(ctx context.Context, agentID string) (int, error)
	// NextNumber counts up the named counter and returns its new value
	// (1 the first time): reference numbers, one counter per year.
	NextNumber(ctx context.Context, name string) (int64, error)
	// UseAttachments gives a message the owner's unused attachments, in
	// the order of ids: ENotFound if one is not theirs or not there,
	// EConflict if another message took it already.
	UseAttachments(ctx context.Context, ids []string, owner Principal, conversationID string, private bool) ([]Attachment, error)
	// Savepoint runs fn inside a savepoint and rolls back just fn's writes
	// if it fails, so one refused command does not undo a whole batch.
	Savepoint(ctx context.Context, fn func() error) error
}

// ConversationQuery selects conversations for a list.
type ConversationQuery struct {
	Statuses   []Status // any of these; empty means all
	EmployeeID string   // only this employee's
	// ParticipantAgentID: only those where this agent is an active
	// participant (assignee or invited).
	ParticipantAgentID string
	// FormerAgentID: only those this agent was in and has left (handed
	// over, transferred away): they may still read them.
	FormerAgentID string
	// Viewer is whose unread counts to compute.
	Viewer Principal
	// Paging, by the order of the list: items strictly after the cursor
	// (UpdatedAt/QueuedAt, ID) of the last item of the previous page.
	AfterTime time.Time
	AfterID   string
	Limit     int
}

// ConversationSummary is one row of a conversation list.
type ConversationSummary struct {
	Conversation
	EmployeeName string   `json:"employee_name,omitempty"`
	Unread       int64    `json:"unread"`
	LastMessage  *Message `json:"last_message,omitempty"`
}

// Employee is someone who asks for help, known by their WeCom UserID.
// Department (the path from the top, "总部/信息技术部") and Position come from
// the WeCom directory at sign-in; they are empty for dev mock logins.
type Employee struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Department string    `json:"department,omitempty"`
	Position   string    `json:"position,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// SearchQuery selects search documents. FTS and TS are the same query for
// SQLite's FTS5 and PostgreSQL's to_tsquery('simple', …) (internal/search
// writes both); the rest filters by the conversation.
type SearchQuery struct {
	FTS, TS string
	// AgentID: only conversations this agent may read (queued, or one
	// they are or were in); empty for all of them (an admin).
	AgentID    string
	Statuses   []Status
	Category   string
	Priority   string
	Tag        string
	AssigneeID string
	From, To   time.Time // created in [From, To), when set
	BeforeID   int64     // paging: documents older than this one
	Limit      int
}

// SearchHit is one matching document: a message or note (Seq), or the
// conversation's subject line (Seq 0).
type SearchHit struct {
	DocID          int64
	ConversationID string
	Seq            int64
}
