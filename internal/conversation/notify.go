package conversation

import "github.com/servicedesk/servicedesk/internal/desk"

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
