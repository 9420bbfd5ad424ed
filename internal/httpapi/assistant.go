package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

// The assistant's endpoints (internal/firstline). 转人工 exists on every
// desk (a bot conversation can outlive a configuration); drafts and the
// review of exchanges only where an assistant is configured.
func (a *API) assistantRoutes(mux *http.ServeMux) {
	agent, employee := desk.RoleAgent, desk.RoleEmployee
	mux.Handle("POST /api/conversations/{id}/handover", a.authed(a.lifecycle(func(ctx context.Context, p desk.Principal, id string) (desk.Conversation, error) {
		return a.Conversations.Handover(ctx, p, id, conversation.HandoverAsked)
	}), employee))
	if !a.Assistant.Enabled() {
		return
	}
	mux.Handle("GET /api/conversations/{id}/assistant", a.authed(func(w http.ResponseWriter, r *http.Request, p desk.Principal) {
		id, err := conversationID(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if _, err := a.Conversations.Get(r.Context(), p, id); err != nil {
			a.writeError(w, r, err)
			return
		}
		xs, err := a.Assistant.Exchanges(r.Context(), id)
		a.answer(w, r, http.StatusOK, map[string]any{"exchanges": xs}, err)
	}, agent))
	mux.Handle("POST /api/conversations/{id}/assistant/draft", a.authed(a.draft, agent))
}

// draftWithin bounds a draft, from the request to the last byte.
const draftWithin = 100 * time.Second

// draft streams a reply drafted for the agent as Server-Sent Events:
// "delta" events carry {"text"} (all of it so far), then one "done" with
// {"text","articles"} or one "error" with the error body the API uses
// everywhere ({"error":{"code","message"}}).
func (a *API) draft(w http.ResponseWriter, r *http.Request, p desk.Principal) {
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
	ctx, cancel := context.WithTimeout(r.Context(), draftWithin)
	defer cancel()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(draftWithin + 5*time.Second))
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: stream, do not buffer
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		rc.Flush()
	}
	var sofar []byte
	res, err := a.Assistant.Draft(ctx, p, v.Conversation, func(delta string) {
		sofar = append(sofar, delta...)
		send("delta", map[string]string{"text": string(sofar)})
	})
	if err != nil {
		code, msg := desk.ErrorCode(err), err.Error()
		if code == desk.EInternal {
			msg = "internal error"
		}
		send("error", map[string]any{"error": map[string]string{"code": string(code), "message": msg}})
		return
	}
	send("done", res)
}
