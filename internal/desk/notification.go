package desk

import (
	"context"
	"time"
)

// NotificationKind says what a card is about.
type NotificationKind string

// The kinds of card. Employees hear of agents' replies, joins and
// resolutions; agents of being invited or transferred to, and of an
// employee writing in their conversation while they are away.
const (
	NotifyReply         NotificationKind = "reply"
	NotifyJoined        NotificationKind = "joined"
	NotifyResolved      NotificationKind = "resolved"
	NotifyInvited       NotificationKind = "invited"
	NotifyTransferred   NotificationKind = "transferred"
	NotifyEmployeeWrote NotificationKind = "employee_message"
	NotifyQueued        NotificationKind = "queued"    // to agents, while none is online
	NotifyMentioned     NotificationKind = "mentioned" // an agent named in a colleague's note
	NotifySLA           NotificationKind = "sla"       // a service-level escalation
)

// Notification is a card owed to someone about a conversation: sent once
// it falls due, unless by then they have seen what it is about.
type Notification struct {
	ID             int64
	To             Principal
	ConversationID string
	Kind           NotificationKind
	Seq            int64 // the latest event it is about
	DueAt          time.Time
}

// How a notification ended.
const (
	NotificationSent    = "sent"
	NotificationSkipped = "skipped" // seen in time, or nobody to send it to
	NotificationFailed  = "failed"
)

// NotificationStore keeps the cards owed and those sent. Cards are
// written with the events they are about (ConversationTx.Notify).
//
// Contract:
//   - Notify keeps one pending card per person and conversation: a second
//     one before the first is sent raises its seq and takes its kind, and
//     keeps its due time, so a burst of replies makes one card.
//   - ClaimNotifications leases up to limit pending cards due by dueBefore,
//     earliest first, until leaseUntil; two senders never hold one card.
//   - FinishNotification records how a card ended; it is no longer pending.
//   - SentSince counts the cards sent to to since since, on every node.
type NotificationStore interface {
	ClaimNotifications(ctx context.Context, dueBefore, leaseUntil time.Time, limit int) ([]Notification, error)
	FinishNotification(ctx context.Context, id int64, status string, at time.Time) error
	PostponeNotification(ctx context.Context, id int64, due time.Time) error
	SentSince(ctx context.Context, to Principal, since time.Time) (int, error)
	BlockNotifications(ctx context.Context, to Principal, reason string, at time.Time) error
	NotificationsBlocked(ctx context.Context, to Principal) (bool, error)
}
