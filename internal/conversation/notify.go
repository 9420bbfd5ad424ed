package conversation

import (
	"context"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Who is owed a card for what, decided with the events in the writer's
// transaction so a card can never be lost to a crash between the two. The
// sender (internal/notify) sends it when due, unless the person has seen
// the event by then, and WeCom is there to send it.

// owe notes that to is owed a card about the conversation, for the event
// seq.
func (w *eventWriter) owe(to desk.Principal, kind desk.NotificationKind, seq int64) {
	if w.s.notifyDelay <= 0 || to.ID == "" || w.err != nil {
		return
	}
	w.owed = append(w.owed, desk.Notification{
		To: to, ConversationID: w.c.ID, Kind: kind, Seq: seq, DueAt: w.now.Add(w.s.notifyDelay),
	})
}

// oweEmployee notes the card the employee is owed for an agent's doing.
func (w *eventWriter) oweEmployee(kind desk.NotificationKind, seq int64) {
	w.owe(desk.Principal{Role: desk.RoleEmployee, ID: w.c.EmployeeID}, kind, seq)
}

func agentPrincipal(id string) desk.Principal { return desk.Principal{Role: desk.RoleAgent, ID: id} }

// Reach is what the desk knows of WeCom's reach, kept by the SQL stores:
// whether cards still reach a person (the console says so), and which
// agents a card can reach at all.
type Reach interface {
	NotificationsBlocked(ctx context.Context, to desk.Principal) (bool, error)
	WeComAgentIDs(ctx context.Context) ([]string, error)
}

// oweQueued notes, when the conversation entered the queue at seq while no
// agent is online, a card to every agent bound to WeCom: somebody has to
// hear that an employee is waiting. The sender drops it if an agent has
// come online or the conversation was claimed by the time it is due.
func (w *eventWriter) oweQueued(seq int64) {
	if w.s.notifyDelay <= 0 || w.err != nil || w.s.presence.OnlineCount() > 0 {
		return
	}
	if w.s.reach == nil {
		return
	}
	ids, err := w.s.reach.WeComAgentIDs(w.ctx)
	if err != nil {
		// A card is a courtesy: the employee's request does not fail for it.
		w.s.log.Warn("list agents to tell of a queued conversation", "conversation_id", w.c.ID, "error", err)
		return
	}
	for _, id := range ids {
		w.owe(agentPrincipal(id), desk.NotifyQueued, seq)
	}
}
