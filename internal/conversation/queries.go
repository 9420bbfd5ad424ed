package conversation

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/sla"
)

// View is one conversation as its viewer may see it.
type View struct {
	desk.Conversation
	Participants  []desk.Participant `json:"participants"`
	QueuePosition int                `json:"queue_position,omitempty"`
	AgentsOnline  int                `json:"agents_online,omitempty"`
	// EstimatedWait: see queuePositionData.
	EstimatedWait int `json:"estimated_wait_seconds,omitempty"`
	// Rating is the employee's rating of the last resolution, if any.
	Rating *desk.Rating `json:"rating,omitempty"`
	// SLA is the conversation's service-level clocks, for agents.
	SLA []sla.Clock `json:"sla,omitempty"`
}

// Get returns a conversation the viewer may read.
func (s *Service) Get(ctx context.Context, viewer desk.Principal, id string) (View, error) {
	c, parts, err := s.readable(ctx, viewer, id)
	if err != nil {
		return View{}, err
	}
	if viewer.Role == desk.RoleAgent && c.Status != desk.StatusQueued && c.Status != desk.StatusBot && !wasParticipant(parts, viewer) && s.audit != nil {
		// An admin reading outside the rule is on record.
		if err := s.audit.Record(ctx, viewer, "conversation.read", c.ID, nil, nil); err != nil {
			return View{}, err
		}
	}
	v := View{Conversation: forViewer(c, viewer), Participants: parts}
	if c.Status == desk.StatusResolved && c.ResolvedAt != nil {
		if r, err := s.store.Rating(ctx, c.ID, *c.ResolvedAt); err == nil {
			v.Rating = &r
		} else if desk.ErrorCode(err) != desk.ENotFound {
			return View{}, err
		}
	}
	if c.Status == desk.StatusQueued {
		if v.QueuePosition, err = s.queuePosition(ctx, c); err != nil {
			return View{}, err
		}
		v.AgentsOnline = s.presence.OnlineCount()
		v.EstimatedWait = int(s.waits.estimate(s.now(), v.QueuePosition).Seconds())
	}
	if viewer.Role == desk.RoleAgent {
		if v.SLA, err = s.clocksOf(ctx, c.ID); err != nil {
			return View{}, err
		}
	}
	return v, nil
}

// forViewer hides the desk's own labels (priority, type, tags) from the
// employee; the reference number is for both sides.
func forViewer(c desk.Conversation, viewer desk.Principal) desk.Conversation {
	if viewer.Role == desk.RoleEmployee {
		c.Priority, c.Type, c.Tags = "", "", nil
	}
	return c
}

// Events returns up to limit events after afterSeq, in order. Employees
// never see private notes; their seq numbers simply skip them.
func (s *Service) Events(ctx context.Context, viewer desk.Principal, id string, afterSeq int64, limit int) ([]desk.ConvEvent, error) {
	if afterSeq < 0 {
		return nil, desk.Errorf(desk.EInvalid, "after_seq must not be negative")
	}
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	if _, _, err := s.readable(ctx, viewer, id); err != nil {
		return nil, err
	}
	return s.store.Events(ctx, id, afterSeq, limit, viewer.Role == desk.RoleAgent)
}

// readable applies the read rule: an employee reads only their own
// conversations (others do not exist for them); an agent reads the queue,
// the requests the assistant is answering, and conversations they are or were a participant of; an admin reads all.
func (s *Service) readable(ctx context.Context, viewer desk.Principal, id string) (desk.Conversation, []desk.Participant, error) {
	c, err := s.store.Conversation(ctx, id)
	if err != nil {
		return c, nil, err
	}
	if viewer.Role == desk.RoleEmployee && c.EmployeeID != viewer.ID {
		return c, nil, desk.Errorf(desk.ENotFound, "conversation not found")
	}
	parts, err := s.store.Participants(ctx, id)
	if err != nil {
		return c, nil, err
	}
	if viewer.Role == desk.RoleAgent && c.Status != desk.StatusQueued && c.Status != desk.StatusBot && !wasParticipant(parts, viewer) && !s.isAdmin(ctx, viewer) {
		return c, nil, desk.Errorf(desk.EForbidden, "you are not a participant of this conversation")
	}
	return c, parts, nil
}

// isAdmin: admins may read any conversation; Get records each such read.
func (s *Service) isAdmin(ctx context.Context, p desk.Principal) bool {
	a, err := s.agents.AgentByID(ctx, p.ID)
	return err == nil && a.IsAdmin()
}

// Auditor records what admins did (*audit.Log).
type Auditor interface {
	Record(ctx context.Context, actor desk.Principal, action, target string, before, after any) error
}

func wasParticipant(parts []desk.Participant, who desk.Principal) bool {
	for _, p := range parts {
		if p.Principal() == who {
			return true
		}
	}
	return false
}

// TypingAudience returns who should see sender typing in a conversation
// (its other active participants) and the sender's name as the desk knows
// it: a client does not get to say who is typing. Only an active
// participant may type.
func (s *Service) TypingAudience(ctx context.Context, sender desk.Principal, id string) ([]desk.Principal, string, error) {
	c, err := s.store.Conversation(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if sender.Role == desk.RoleEmployee && c.EmployeeID != sender.ID {
		return nil, "", desk.Errorf(desk.ENotFound, "conversation not found")
	}
	parts, err := s.store.Participants(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if !isActive(parts, sender) {
		return nil, "", desk.Errorf(desk.EForbidden, "you are not a participant of this conversation")
	}
	var out []desk.Principal
	name := sender.ID
	for _, p := range parts {
		if p.Principal() == sender && p.Name != "" {
			name = p.Name
		}
		if p.Active && p.Principal() != sender {
			out = append(out, p.Principal())
		}
	}
	return out, name, nil
}

// ActiveParticipants returns who is in a conversation now: its employee and
// its active agents.
func (s *Service) ActiveParticipants(ctx context.Context, id string) ([]desk.Principal, error) {
	if _, err := s.store.Conversation(ctx, id); err != nil {
		return nil, err
	}
	parts, err := s.store.Participants(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []desk.Principal
	for _, p := range parts {
		if p.Active {
			out = append(out, p.Principal())
		}
	}
	return out, nil
}

// List names one of the conversation lists.
type List string

// The lists.
const (
	ListEmployee List = "employee" // an employee's own conversations
	ListQueue    List = "queue"    // every queued conversation, oldest first
	ListAgent    List = "agent"    // an agent's conversations with one status
	ListFormer   List = "former"   // those an agent left (handed over), with one status
	// ListAll is every conversation, newest change first, optionally with
	// one status: admins only. Listing reveals subjects, not messages:
	// opening one is audited as any admin read outside the rule is.
	ListAll List = "all"
)

// Summary is one row of a list.
type Summary struct {
	desk.ConversationSummary
	QueuePosition int `json:"queue_position,omitempty"`
	// SLA is the conversation's service-level clocks, for agents.
	SLA []sla.Clock `json:"sla,omitempty"`
}

// Page is one page of a list; pass NextCursor back for the next.
type Page struct {
	Conversations []Summary `json:"conversations"`
	NextCursor    string    `json:"next_cursor,omitempty"`
}

// Conversations returns one page of a list for viewer.
func (s *Service) Conversations(ctx context.Context, viewer desk.Principal, list List, status desk.Status, cursor string, limit int) (Page, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxPageSize)
	q := desk.ConversationQuery{Viewer: viewer, Limit: limit}
	switch {
	case list == ListEmployee && viewer.Role == desk.RoleEmployee:
		q.EmployeeID = viewer.ID
	case list == ListQueue && viewer.Role == desk.RoleAgent:
		// status=bot: the requests the assistant is answering, which any
		// agent may take over as from the queue.
		q.Statuses = []desk.Status{desk.StatusQueued}
		if status == desk.StatusBot {
			q.Statuses = []desk.Status{desk.StatusBot}
		}
	case list == ListAgent && viewer.Role == desk.RoleAgent:
		if status != desk.StatusOpen && status != desk.StatusResolved {
			return Page{}, desk.Errorf(desk.EInvalid, "status must be open or resolved")
		}
		q.Statuses, q.ParticipantAgentID = statusesOf(status), viewer.ID
	case list == ListFormer && viewer.Role == desk.RoleAgent:
		if status != desk.StatusOpen && status != desk.StatusResolved {
			return Page{}, desk.Errorf(desk.EInvalid, "status must be open or resolved")
		}
		q.Statuses, q.FormerAgentID = statusesOf(status), viewer.ID
	case list == ListAll && viewer.Role == desk.RoleAgent && s.isAdmin(ctx, viewer):
		switch status {
		case "":
		case desk.StatusQueued, desk.StatusOpen, desk.StatusPending, desk.StatusResolved, desk.StatusBot:
			q.Statuses = []desk.Status{status}
		default:
			return Page{}, desk.Errorf(desk.EInvalid, "status must be queued, open, pending, resolved or bot")
		}
	default:
		return Page{}, desk.Errorf(desk.EForbidden, "this list is not yours")
	}
	var err error
	if q.AfterTime, q.AfterID, err = parseCursor(cursor); err != nil {
		return Page{}, err
	}
	rows, err := s.store.ListConversations(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Conversations: make([]Summary, 0, len(rows))}
	next := 0 // the queue list is in queue order: rank its first row only
	for _, r := range rows {
		r.Conversation = forViewer(r.Conversation, viewer)
		sum := Summary{ConversationSummary: r}
		if r.Status == desk.StatusQueued {
			if list == ListQueue && next > 0 {
				sum.QueuePosition = next
			} else if sum.QueuePosition, err = s.queuePosition(ctx, r.Conversation); err != nil {
				return Page{}, err
			}
			next = sum.QueuePosition + 1
		}
		page.Conversations = append(page.Conversations, sum)
	}
	if viewer.Role == desk.RoleAgent && s.slaStore != nil && len(page.Conversations) > 0 {
		ids := make([]string, len(page.Conversations))
		for i, c := range page.Conversations {
			ids[i] = c.ID
		}
		all, err := s.slaStore.SLAClocksOf(ctx, ids)
		if err != nil {
			return Page{}, err
		}
		for i, c := range page.Conversations {
			if page.Conversations[i].SLA, err = decodeClocks(all[c.ID]); err != nil {
				return Page{}, err
			}
		}
	}
	if len(rows) == limit {
		last := rows[len(rows)-1]
		t := last.UpdatedAt
		if list == ListQueue && last.QueuedAt != nil {
			t = *last.QueuedAt
		}
		page.NextCursor = fmt.Sprintf("%d.%s", t.UnixMilli(), last.ID)
	}
	return page, nil
}

// statusesOf: an agent's "open" list holds what waits on the employee too.
func statusesOf(s desk.Status) []desk.Status {
	if s == desk.StatusOpen {
		return []desk.Status{desk.StatusOpen, desk.StatusPending}
	}
	return []desk.Status{s}
}

// parseCursor reads a NextCursor: "<unix ms>.<id>".
func parseCursor(cursor string) (time.Time, string, error) {
	if cursor == "" {
		return time.Time{}, "", nil
	}
	ms, id, ok := strings.Cut(cursor, ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", desk.Errorf(desk.EInvalid, "cursor is not one this server returned")
	}
	return time.UnixMilli(n).UTC(), id, nil
}

// Attachments lists the files a conversation's messages carry that viewer
// may see: under the read rule, and a note's only for agents. An
// employee's guess at another conversation's id is simply not found.
func (s *Service) Attachments(ctx context.Context, viewer desk.Principal, conversationID string) ([]desk.Attachment, error) {
	c, _, err := s.readable(ctx, viewer, conversationID)
	if err != nil {
		return nil, err
	}
	if s.attachments == nil {
		return []desk.Attachment{}, nil
	}
	as, err := s.attachments.ConversationAttachments(ctx, c.ID, viewer.Role == desk.RoleAgent)
	if as == nil {
		as = []desk.Attachment{}
	}
	return as, err
}

// TagSuggestions lists the tags agents have used lately, most used first.
func (s *Service) TagSuggestions(ctx context.Context, viewer desk.Principal) ([]string, error) {
	if viewer.Role != desk.RoleAgent {
		return nil, desk.Errorf(desk.EForbidden, "only agents tag conversations")
	}
	recent, err := s.store.RecentTags(ctx, 2000)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	for _, tags := range recent {
		for _, t := range tags {
			count[t]++
		}
	}
	out := make([]string, 0, len(count))
	for t := range count {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b string) int {
		if count[a] != count[b] {
			return count[b] - count[a]
		}
		return strings.Compare(a, b)
	})
	return out[:min(len(out), 50)], nil
}
