// Package notify sends the WeCom app-message cards the desk owes people
// (desk.Notification): an employee who closed the page hears that an agent
// replied, joined or resolved; an agent hears of being invited or
// transferred to, of an employee writing while they are away, and of a
// conversation entering the queue while no agent is online.
//
// Cards are owed in the transaction of the event they are about and sent
// when due by whichever node claims them first. Before sending, the sender
// asks whether the card is still worth it: a person who has read the event
// by then, or is connected, gets nothing. A card claimed by a node that dies
// before recording it is claimed again when its lease runs out; WeCom's
// duplicate check (the card's request is the same byte for byte) keeps the
// member from seeing it twice.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wecom"
)

// Defaults.
const (
	// DefaultDelay is how long after an event its card waits: long enough
	// for someone with the page open to read it (and for a burst of replies
	// to become one card), short enough that a reply is not missed for long.
	DefaultDelay = 2 * time.Minute
	// DefaultInterval is how often each node looks for due cards.
	DefaultInterval = 5 * time.Second
	// DefaultPerMinute caps the cards to one member per minute, on every
	// node together: WeCom drops (silently) what passes 30, so 20 leaves
	// room for the desk's other messages.
	DefaultPerMinute = 20
	// DefaultLease is how long a claimed card is one node's: far longer
	// than a send takes, short enough that a node dying mid-send delays
	// the card by a minute only.
	DefaultLease = time.Minute
	claimBatch   = 50
	retryLater   = 30 * time.Second
)

// Store is what the sender reads and records.
type Store interface {
	desk.NotificationStore
	Conversation(ctx context.Context, id string) (desk.Conversation, error)
	Participants(ctx context.Context, conversationID string) ([]desk.Participant, error)
	AgentWeComUserID(ctx context.Context, agentID string) (string, error)
}

// Cards sends a textcard (*wecom.Client).
type Cards interface {
	SendTextCard(ctx context.Context, card wecom.TextCard) (string, error)
}

// Presence says whether an agent is connected anywhere, and how many are
// online and not away.
type Presence interface {
	Status(ctx context.Context, agentID string) (desk.PresenceStatus, error)
	OnlineCount() int
}

// Conns counts a person's live connections on this node.
type Conns interface {
	UserConns(user desk.Principal) int
}

// Config wires a Sender.
type Config struct {
	Store    Store
	Cards    Cards
	Presence Presence
	Conns    Conns
	// PublicURL is the desk's external origin; cards link into it.
	PublicURL string
	Interval  time.Duration
	PerMinute int
	// Lease is how long a claimed card is this node's alone (DefaultLease).
	Lease time.Duration
	Log   *slog.Logger
	Now   func() time.Time
}

// Sender sends due cards.
type Sender struct{ cfg Config }

// New returns a Sender; call Run.
func New(cfg Config) *Sender {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.PerMinute <= 0 {
		cfg.PerMinute = DefaultPerMinute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg}
}

// Run sends due cards every Interval until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.Sweep(ctx)
	}
}

// Sweep sends the cards due now and returns how many it sent.
func (s *Sender) Sweep(ctx context.Context) int {
	now := s.cfg.Now()
	due, err := s.cfg.Store.ClaimNotifications(ctx, now, time.Now().Add(s.cfg.Lease), claimBatch)
	if err != nil {
		s.cfg.Log.Warn("claim notifications", "error", err)
		return 0
	}
	sent := 0
	for _, n := range due {
		status, later := s.handle(ctx, n)
		var err error
		if later.IsZero() {
			err = s.cfg.Store.FinishNotification(ctx, n.ID, status, s.cfg.Now())
		} else {
			err = s.cfg.Store.PostponeNotification(ctx, n.ID, later)
		}
		if err != nil {
			s.cfg.Log.Warn("record notification", "error", err)
		}
		if status == desk.NotificationSent {
			sent++
		}
	}
	return sent
}

// handle decides and sends one card: how it ended, or when to try again.
func (s *Sender) handle(ctx context.Context, n desk.Notification) (string, time.Time) {
	log := s.cfg.Log.With("conversation_id", n.ConversationID, string(n.To.Role)+"_id", n.To.ID, "kind", string(n.Kind))
	if blocked, err := s.cfg.Store.NotificationsBlocked(ctx, n.To); err != nil {
		return "", s.cfg.Now().Add(retryLater)
	} else if blocked {
		return desk.NotificationSkipped, time.Time{}
	}
	c, err := s.cfg.Store.Conversation(ctx, n.ConversationID)
	if desk.ErrorCode(err) == desk.ENotFound {
		return desk.NotificationSkipped, time.Time{}
	} else if err != nil {
		return "", s.cfg.Now().Add(retryLater)
	}
	parts, err := s.cfg.Store.Participants(ctx, n.ConversationID)
	if err != nil {
		return "", s.cfg.Now().Add(retryLater)
	}
	if seen(parts, n) || s.looking(ctx, n) || s.queueAttended(c, n) {
		return desk.NotificationSkipped, time.Time{}
	}
	to := n.To.ID
	if n.To.Role == desk.RoleAgent {
		if to, err = s.cfg.Store.AgentWeComUserID(ctx, n.To.ID); err != nil {
			return "", s.cfg.Now().Add(retryLater)
		} else if to == "" {
			return desk.NotificationSkipped, time.Time{} // not bound to a WeCom member
		}
	}
	if count, err := s.cfg.Store.SentSince(ctx, n.To, s.cfg.Now().Add(-time.Minute)); err != nil {
		return "", s.cfg.Now().Add(retryLater)
	} else if count >= s.cfg.PerMinute {
		return "", s.cfg.Now().Add(retryLater)
	}
	_, err = s.cfg.Cards.SendTextCard(ctx, s.card(n, c, to))
	switch {
	case err == nil:
		log.Info("notification sent")
		return desk.NotificationSent, time.Time{}
	case errors.Is(err, wecom.ErrRecipientGone):
		// Gone from WeCom or out of the app's range: stop, and say so
		// where agents look.
		if err := s.cfg.Store.BlockNotifications(ctx, n.To, "wecom_recipient_gone", s.cfg.Now()); err != nil {
			log.Warn("block notifications", "error", err)
		}
		log.Warn("notification recipient unreachable; no more cards to them", "error", err)
		return desk.NotificationFailed, time.Time{}
	case errors.Is(err, wecom.ErrRateLimited):
		return "", s.cfg.Now().Add(time.Minute)
	case desk.ErrorCode(err) == desk.EUnavailable:
		return "", s.cfg.Now().Add(retryLater)
	default:
		log.Warn("notification failed", "error", err)
		return desk.NotificationFailed, time.Time{}
	}
}

// seen: the person has read up to the event the card is about.
func seen(parts []desk.Participant, n desk.Notification) bool {
	for _, p := range parts {
		if p.Principal() == n.To {
			return p.LastReadSeq >= n.Seq
		}
	}
	return false
}

// looking: the person has the desk open and will see it there. An employee
// with a socket on this node, an agent online on any (for what happens in
// their conversations; an invitation or a transfer is worth a card anyway).
func (s *Sender) looking(ctx context.Context, n desk.Notification) bool {
	if s.cfg.Conns != nil && s.cfg.Conns.UserConns(n.To) > 0 {
		return true
	}
	if n.To.Role == desk.RoleAgent && n.Kind == desk.NotifyEmployeeWrote && s.cfg.Presence != nil {
		st, err := s.cfg.Presence.Status(ctx, n.To.ID)
		// Busy is at the desk, only not taking new work; away is not there.
		return err == nil && (st == desk.PresenceOnline || st == desk.PresenceBusy)
	}
	return false
}

// queueAttended: a card about a conversation waiting in the queue is moot
// once it left the queue or an agent is online to see it there.
func (s *Sender) queueAttended(c desk.Conversation, n desk.Notification) bool {
	if n.Kind != desk.NotifyQueued {
		return false
	}
	return c.Status != desk.StatusQueued || (s.cfg.Presence != nil && s.cfg.Presence.OnlineCount() > 0)
}

// card is n as WeCom shows it. It depends only on n and the conversation,
// so a card sent again after a crash is the same request, which WeCom's
// duplicate check then drops.
func (s *Sender) card(n desk.Notification, c desk.Conversation, to string) wecom.TextCard {
	page := "/auth/wecom/h5"
	if n.To.Role == desk.RoleAgent {
		page = "/auth/wecom/agent"
	}
	link := s.cfg.PublicURL + page + "?" + url.Values{"next": {"/c/" + c.ID}}.Encode()
	title := "IT 服务台：" + c.Subject
	var what string
	switch n.Kind {
	case desk.NotifyReply:
		what = "IT 工程师回复了你的问题"
	case desk.NotifyJoined:
		what = "IT 工程师已接手你的问题"
	case desk.NotifyResolved:
		what = "你的问题已标记为解决，欢迎为本次服务评分；如仍有问题，直接回复即可"
	case desk.NotifyInvited:
		what = "你被邀请协助处理这个会话"
	case desk.NotifyTransferred:
		what = "这个会话已转交给你"
	case desk.NotifyEmployeeWrote:
		what = "员工在你的会话中发来了新消息"
	case desk.NotifyQueued:
		what = "有员工在排队等待 IT 支持，目前没有坐席在线"
	case desk.NotifyMentioned:
		what = "同事在内部备注中提到了你"
	case desk.NotifySLA:
		what = "有会话即将或已经超出服务时限，请尽快处理"
	default:
		what = "会话有新动态"
	}
	desc := fmt.Sprintf(`<div class="gray">%s</div><div class="normal">%s</div>`, c.ID, what)
	return wecom.TextCard{ToUser: to, Title: title, Description: desc, URL: link, ButtonText: "查看"}
}
