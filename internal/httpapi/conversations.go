package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/limits"
)

// conversationRoutes registers the conversation endpoints. Each names the
// roles it serves; the caller's role comes from its token alone.
func (a *API) conversationRoutes(mux *http.ServeMux) {
	const (
		employee = desk.RoleEmployee
		agent    = desk.RoleAgent
	)
	c := a.Conversations
	mux.Handle("POST /api/h5/conversations", a.authed(a.createConversation, employee))
	mux.Handle("GET /api/h5/conversations", a.authed(a.employeeConversations, employee))
	mux.Handle("GET /api/agents", a.authed(a.listAgents, agent))
	mux.Handle("GET /api/agents/queue", a.authed(a.queue, agent))
	mux.Handle("GET /api/agents/conversations", a.authed(a.agentConversations, agent))
	mux.Handle("GET /api/employees/{id}", a.authed(a.getEmployee, agent))
	mux.Handle("GET /api/conversations/{id}", a.authed(a.getConversation, employee, agent))
	mux.Handle("GET /api/conversations/{id}/events", a.authed(a.events, employee, agent))
	mux.Handle("POST /api/conversations/{id}/messages", a.authed(a.sendMessage, employee, agent))
	mux.Handle("POST /api/conversations/{id}/read", a.authed(a.read, employee, agent))
	mux.Handle("POST /api/conversations/{id}/notes", a.authed(a.addNote, agent))
	mux.Handle("POST /api/conversations/{id}/claim", a.authed(a.lifecycle(c.Claim), agent))
	mux.Handle("POST /api/conversations/{id}/leave", a.authed(a.lifecycle(c.Leave), agent))
	mux.Handle("POST /api/conversations/{id}/resolve", a.authed(a.lifecycle(c.Resolve), agent))
	mux.Handle("POST /api/conversations/{id}/pending", a.authed(a.lifecycle(c.Pend), agent))
	mux.Handle("POST /api/conversations/{id}/withdraw", a.authed(a.lifecycle(c.Withdraw), employee))
	mux.Handle("POST /api/conversations/{id}/fields", a.authed(a.updateFields, agent))
	mux.Handle("POST /api/conversations/{id}/rating", a.authed(a.rate, employee))
	mux.Handle("GET /api/csat", a.authed(a.csat, agent))
	mux.Handle("GET /api/me", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		me, err := a.Conversations.Who(r.Context(), p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, me)
	}, employee, agent))
	mux.Handle("GET /api/search", a.authed(a.search, agent))
	mux.Handle("GET /api/tags", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		tags, err := a.Conversations.TagSuggestions(r.Context(), p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
	}, agent))
	mux.Handle("POST /api/conversations/{id}/invite", a.authed(a.withAgent(c.Invite), agent))
	mux.Handle("POST /api/conversations/{id}/transfer", a.authed(a.withAgent(c.Transfer), agent))
}

// listAgents answers {"agents":[{id,username,name}]}, for the console's
// invite and transfer pickers.
func (a *API) listAgents(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	agents, err := a.Conversations.Agents(r.Context(), p)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": agents})
}

// conversationID is the {id} path segment. Ids we issue are "cv_" and 16
// base32 characters; anything that could not be one is simply not found,
// without asking the store.
func conversationID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !desk.ValidConversationID(id) {
		return "", desk.Errorf(desk.ENotFound, "conversation not found")
	}
	return id, nil
}

type createRequest struct {
	Subject     string `json:"subject"`
	Category    string `json:"category"`
	Body        string `json:"body"`
	ClientMsgID string `json:"client_msg_id"`
	// ArticleIDs: the knowledge-base articles read before asking anyway.
	ArticleIDs []string `json:"article_ids"`
}

// createConversation answers 201 with the new conversation as its employee
// sees it (with the queue position), or 200 with the original when the
// client_msg_id was seen before: a retry after a lost answer.
func (a *API) createConversation(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	var req createRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.Creates != nil {
		if ok, wait := a.Creates.Allow(limits.Key(p)); !ok {
			a.writeError(w, r, limits.Err("too many new requests; try again later", wait))
			return
		}
	}
	c, created, err := a.Conversations.Create(r.Context(), p, conversation.NewConversation{
		Subject: req.Subject, Category: req.Category, Body: req.Body, ClientMsgID: req.ClientMsgID, Articles: req.ArticleIDs,
		Assistant: a.Assistant.Wants(r.Context(), p, req.Category),
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if created {
		a.Assistant.Start(c)
	}
	v, err := a.Conversations.Get(r.Context(), p, c.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/conversations/"+c.ID)
	}
	writeJSON(w, status, v)
}

func (a *API) employeeConversations(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	a.listConversations(w, r, p, conversation.ListEmployee, "")
}

// queue lists the queue, or with ?status=bot the requests the assistant is
// answering.
func (a *API) queue(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	a.listConversations(w, r, p, conversation.ListQueue, desk.Status(r.URL.Query().Get("status")))
}

// agentConversations lists the caller's open conversations, or with
// ?status=resolved the resolved ones.
func (a *API) agentConversations(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	status := desk.Status(r.URL.Query().Get("status"))
	if status == "" {
		status = desk.StatusOpen
	}
	// involvement=former lists those the agent left (transferred away,
	// left to a colleague), which the read rule still lets them open.
	switch r.URL.Query().Get("involvement") {
	case "", "active":
		a.listConversations(w, r, p, conversation.ListAgent, status)
	case "former":
		a.listConversations(w, r, p, conversation.ListFormer, status)
	case "all":
		// Admins: every conversation, with ?status= one status only.
		a.listConversations(w, r, p, conversation.ListAll, desk.Status(r.URL.Query().Get("status")))
	default:
		a.writeError(w, r, desk.Errorf(desk.EInvalid, "involvement must be active, former or all"))
	}
}

func (a *API) listConversations(w http.ResponseWriter, r *http.Request, p desk.Principal, list conversation.List, status desk.Status) {
	q := r.URL.Query()
	limit, err := queryInt(q, "limit", 1, conversation.MaxPageSize)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	page, err := a.Conversations.Conversations(r.Context(), p, list, status, q.Get("cursor"), int(limit))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *API) getConversation(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	id, err := conversationID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.Conversations.Get(r.Context(), p, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// eventsPage is one page of a conversation's history. NextAfterSeq is what
// to pass as after_seq for the next page: the last event's seq, or the
// after_seq asked for when nothing came.
type eventsPage struct {
	Events       []desk.ConvEvent `json:"events"`
	NextAfterSeq int64            `json:"next_after_seq"`
}

func (a *API) events(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	id, err := conversationID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	after, err := queryInt(q, "after_seq", 0, math.MaxInt64)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit, err := queryInt(q, "limit", 1, conversation.MaxPageSize)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	evs, err := a.Conversations.Events(r.Context(), p, id, after, int(limit))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	page := eventsPage{Events: evs, NextAfterSeq: after}
	if len(evs) > 0 {
		page.NextAfterSeq = evs[len(evs)-1].Seq
	} else {
		page.Events = []desk.ConvEvent{} // [] rather than null, for clients
	}
	writeJSON(w, http.StatusOK, page)
}

type sendRequest struct {
	Body        string   `json:"body"`
	ClientMsgID string   `json:"client_msg_id"`
	Attachments []string `json:"attachments"`
}

// sentMessage is a stored message: the message itself, and where it sits
// in its conversation's history.
type sentMessage struct {
	desk.Message
	Seq            int64  `json:"seq"`
	ConversationID string `json:"conversation_id"`
}

// sendMessage answers 201 with the stored message, or 200 with the
// original when the sender used the client_msg_id before.
func (a *API) sendMessage(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	id, err := conversationID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req sendRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	ev, created, err := a.Conversations.Send(r.Context(), p, id, req.Body, req.ClientMsgID, req.Attachments...)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var m sentMessage
	if err := json.Unmarshal(ev.Data, &m.Message); err != nil {
		a.writeError(w, r, fmt.Errorf("decode stored message %s:%d: %w", ev.ConversationID, ev.Seq, err))
		return
	}
	m.Seq, m.ConversationID = ev.Seq, ev.ConversationID
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, m)
}

type noteRequest struct {
	Body        string   `json:"body"`
	Attachments []string `json:"attachments"`
}

// addNote answers 201 with the note's event, which only agents ever see.
func (a *API) addNote(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	id, err := conversationID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req noteRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	ev, err := a.Conversations.Note(r.Context(), p, id, req.Body, req.Attachments...)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ev)
}

type readRequest struct {
	Seq *int64 `json:"seq"` // a pointer, so a missing seq is an error, not 0
}

type readResponse struct {
	LastReadSeq int64 `json:"last_read_seq"`
}

func (a *API) read(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	id, err := conversationID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req readRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Seq == nil {
		a.writeError(w, r, desk.Errorf(desk.EInvalid, "seq is required"))
		return
	}
	seq, err := a.Conversations.Read(r.Context(), p, id, *req.Seq)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, readResponse{LastReadSeq: seq})
}

// lifecycle serves a change that needs only the conversation (claim, leave,
// resolve) and answers 200 with the conversation as saved. Any request body
// is ignored.
func (a *API) lifecycle(change func(ctx context.Context, agent desk.Principal, id string) (desk.Conversation, error)) principalHandler {
	return func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		id, err := conversationID(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		c, err := change(r.Context(), p, id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}

// updateFields sets priority, type or tags; fields left out stay.
func (a *API) updateFields(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	id, err := conversationID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var f conversation.Fields
	if err := decodeJSON(w, r, &f); err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.Conversations.Update(r.Context(), p, id, f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// rate records the employee's 1–5 rating of the last resolution.
func (a *API) rate(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	id, err := conversationID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var in struct {
		Score   int    `json:"score"`
		Comment string `json:"comment"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		a.writeError(w, r, err)
		return
	}
	out, err := a.Conversations.Rate(r.Context(), p, id, in.Score, in.Comment)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// csat answers admins with the ratings of a period (?from=&to=, RFC 3339
// or dates; the last 30 days by default), per agent and overall.
func (a *API) csat(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	from, to, err := queryPeriod(r.URL.Query(), time.Now())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	st, err := a.Conversations.Ratings(r.Context(), p, from, to)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// search finds messages, notes and subjects: ?q= and the filters status
// (repeatable), category, priority, tag, assignee, from, to (dates), and
// cursor/limit for paging.
func (a *API) search(w http.ResponseWriter, r *http.Request, p desk.Principal) {
	q := r.URL.Query()
	params := conversation.SearchParams{Q: q.Get("q"), Category: q.Get("category"), Priority: q.Get("priority"),
		Tag: q.Get("tag"), AssigneeID: q.Get("assignee"), Cursor: q.Get("cursor")}
	for _, st := range q["status"] {
		params.Statuses = append(params.Statuses, desk.Status(st))
	}
	for name, dst := range map[string]*time.Time{"from": &params.From, "to": &params.To} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				a.writeError(w, r, desk.Errorf(desk.EInvalid, "%s must be a date like 2026-12-01", name))
				return
			}
			*dst = t
		}
	}
	limit, err := queryInt(q, "limit", 1, 100)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	params.Limit = int(limit)
	page, err := a.Conversations.Search(r.Context(), p, params)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

type agentRequest struct {
	AgentID string `json:"agent_id"`
}

// withAgent serves a change that names another agent (invite, transfer)
// and answers 200 with the conversation as saved.
func (a *API) withAgent(change func(ctx context.Context, assignee desk.Principal, id, agentID string) (desk.Conversation, error)) principalHandler {
	return func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		id, err := conversationID(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req agentRequest
		if err := decodeJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := desk.ValidateID(desk.RoleAgent, req.AgentID); err != nil {
			a.writeError(w, r, err)
			return
		}
		c, err := change(r.Context(), p, id, req.AgentID)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}

// queryPeriod reads the ?from=&to= of the statistics endpoints (RFC 3339
// times or dates, a date being its midnight UTC), the last 30 days before
// now for a bound left out. It is not reports.ParsePeriod: the reports
// read dates in the desk's zone and a "to" date as the whole day, while
// these endpoints' meaning and messages are already public (README) and
// stay as they were.
func queryPeriod(q url.Values, now time.Time) (from, to time.Time, err error) {
	from, to = now.AddDate(0, 0, -30), now
	// from before to, so that a request with both wrong always names from.
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(b.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.Parse(time.DateOnly, v)
		}
		if err != nil {
			return time.Time{}, time.Time{}, desk.Errorf(desk.EInvalid, "%s must be a date (2026-12-01) or an RFC 3339 time", b.name)
		}
		*b.dst = t
	}
	return from, to, nil
}

// queryInt reads an optional integer query parameter in [lo, hi]; absent
// or empty is 0, which the service reads as its default.
func queryInt(q url.Values, name string, lo, hi int64) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err == nil && n >= lo && n <= hi:
		return n, nil
	case hi == math.MaxInt64:
		return 0, desk.Errorf(desk.EInvalid, "%s must be an integer of at least %d", name, lo)
	default:
		return 0, desk.Errorf(desk.EInvalid, "%s must be an integer from %d to %d", name, lo, hi)
	}
}
