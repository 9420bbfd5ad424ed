package conversation

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/search"
)

// SearchParams is what an agent searches for: words (Chinese found by
// substring, see internal/search), and filters on the conversation.
type SearchParams struct {
	Q          string
	Statuses   []desk.Status
	Category   string
	Priority   string
	Tag        string
	AssigneeID string
	From, To   time.Time
	Cursor     string
	Limit      int
}

// SearchResult is one matching message, note or subject line, with its
// conversation and the match in context.
type SearchResult struct {
	Conversation desk.Conversation `json:"conversation"`
	EmployeeName string            `json:"employee_name,omitempty"`
	Seq          int64             `json:"seq"`  // 0: the subject line matched
	Kind         string            `json:"kind"` // "subject", "message" or "note"
	SenderName   string            `json:"sender_name,omitempty"`
	At           time.Time         `json:"at"`
	Snippet      search.Snippet    `json:"snippet"`
}

// SearchPage is one page of results, newest first.
type SearchPage struct {
	Results    []SearchResult `json:"results"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// snippetContext is how much text a result shows on each side of the match.
const snippetContext = 30

// Search finds messages, notes and subject lines in the conversations the
// agent may read (an admin: all of them).
func (s *Service) Search(ctx context.Context, viewer desk.Principal, p SearchParams) (SearchPage, error) {
	if viewer.Role != desk.RoleAgent {
		return SearchPage{}, desk.Errorf(desk.EForbidden, "only agents search conversations")
	}
	q, ok := search.Parse(p.Q)
	if !ok {
		return SearchPage{}, desk.Errorf(desk.EInvalid, "type something to search for")
	}
	me, err := s.agents.AgentByID(ctx, viewer.ID)
	if err != nil {
		return SearchPage{}, err
	}
	limit := p.Limit
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	sq := desk.SearchQuery{FTS: q.FTS5(), TS: q.TSQuery(), Statuses: p.Statuses, Category: p.Category, Priority: p.Priority,
		Tag: p.Tag, AssigneeID: p.AssigneeID, From: p.From, To: p.To, Limit: limit}
	if !me.IsAdmin() {
		sq.AgentID = viewer.ID
	}
	if p.Cursor != "" {
		if sq.BeforeID, err = strconv.ParseInt(p.Cursor, 10, 64); err != nil || sq.BeforeID <= 0 {
			return SearchPage{}, desk.Errorf(desk.EInvalid, "cursor is not one this server returned")
		}
	}
	hits, err := s.store.Search(ctx, sq)
	if err != nil {
		return SearchPage{}, err
	}
	page := SearchPage{Results: make([]SearchResult, 0, len(hits))}
	convs := map[string]desk.Conversation{}
	for _, h := range hits {
		c, ok := convs[h.ConversationID]
		if !ok {
			if c, err = s.store.Conversation(ctx, h.ConversationID); err != nil {
				return SearchPage{}, err
			}
			convs[h.ConversationID] = c
		}
		r := SearchResult{Conversation: c, Seq: h.Seq, Kind: "subject", At: c.CreatedAt}
		if e, err := s.store.Employee(ctx, c.EmployeeID); err == nil {
			r.EmployeeName = e.Name
		}
		text := c.Subject
		if h.Seq > 0 {
			evs, err := s.store.Events(ctx, c.ID, h.Seq-1, 1, true)
			if err != nil {
				return SearchPage{}, err
			}
			if len(evs) == 0 || evs[0].Seq != h.Seq {
				continue // deleted since it was indexed
			}
			var m desk.Message
			json.Unmarshal(evs[0].Data, &m)
			text, r.At, r.SenderName, r.Kind = m.Body, m.CreatedAt, m.SenderName, "message"
			if evs[0].Type == desk.EventNote {
				r.Kind = "note"
			}
			for _, a := range m.Attachments {
				text += " " + a.Name
			}
		}
		r.Snippet, _ = q.Highlight(text, snippetContext)
		page.Results = append(page.Results, r)
	}
	if len(hits) == limit {
		page.NextCursor = strconv.FormatInt(hits[len(hits)-1].DocID, 10)
	}
	return page, nil
}
