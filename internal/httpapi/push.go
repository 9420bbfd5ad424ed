package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Push lets the rest of the system (the seed's other modules called the
// connection manager in-process) send an event to live connections.
type Push struct {
	// Key is the shared secret callers send as X-API-Key; empty turns the
	// endpoint off.
	Key string
	Bus desk.Bus
	// Reach counts this node's connections an audience selects.
	Reach func(desk.Audience) int
	// Participants returns the active participants of a conversation.
	Participants func(r *http.Request, conversationID string) ([]desk.Principal, error)
}

// maxPushEvent bounds a pushed event: it becomes one WebSocket frame, and
// clients refuse larger ones by default.
const maxPushEvent = 64 << 10

type pushRequest struct {
	To struct {
		AgentID        string `json:"agent_id"`
		EmployeeID     string `json:"employee_id"`
		ConversationID string `json:"conversation_id"`
		AllAgents      bool   `json:"all_agents"`
	} `json:"to"`
	Event json.RawMessage `json:"event"`
}

type pushResponse struct {
	// Delivered counts the connections reached on the node that answered.
	Delivered int `json:"delivered"`
	// Published says the event went out on the bus: to every node when the
	// bus is Redis, to this one when it is in process.
	Published bool `json:"published"`
}

func (a *API) push(w http.ResponseWriter, r *http.Request) {
	var req pushRequest
	if err := decodeJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	to, err := a.pushAudience(r, req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	event := bytes.TrimSpace(req.Event)
	switch {
	case len(event) == 0 || event[0] != '{':
		a.writeError(w, r, desk.Errorf(desk.EInvalid, "event must be a JSON object"))
		return
	case len(event) > maxPushEvent:
		a.writeError(w, r, desk.Errorf(desk.EInvalid, "event must be at most %d bytes", maxPushEvent))
		return
	}
	var compact bytes.Buffer
	json.Compact(&compact, event) // valid: decodeJSON parsed it
	n := a.Push.Reach(to)
	if err := a.Push.Bus.Publish(r.Context(), desk.Event{To: to, Frame: compact.Bytes()}); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pushResponse{Delivered: n, Published: true})
}

// pushAudience reads the one recipient the request names.
func (a *API) pushAudience(r *http.Request, req pushRequest) (desk.Audience, error) {
	t := req.To
	named := 0
	for _, set := range []bool{t.AgentID != "", t.EmployeeID != "", t.ConversationID != "", t.AllAgents} {
		if set {
			named++
		}
	}
	if named != 1 {
		return desk.Audience{}, desk.Errorf(desk.EInvalid, `"to" must name exactly one of agent_id, employee_id, conversation_id, all_agents`)
	}
	switch {
	case t.AllAgents:
		return desk.Audience{Kind: desk.ToAllAgents}, nil
	case t.AgentID != "":
		return userAudience(desk.RoleAgent, t.AgentID)
	case t.EmployeeID != "":
		return userAudience(desk.RoleEmployee, t.EmployeeID)
	}
	users, err := a.Push.Participants(r, t.ConversationID)
	if err != nil {
		return desk.Audience{}, err
	}
	return desk.Audience{Kind: desk.ToUsers, Users: users}, nil
}

func userAudience(role desk.Role, id string) (desk.Audience, error) {
	if err := desk.ValidateID(role, id); err != nil {
		return desk.Audience{}, err
	}
	return desk.Audience{Kind: desk.ToUser, User: desk.Principal{Role: role, ID: id}}, nil
}
