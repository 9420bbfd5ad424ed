package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
)

func TestCreateConversation(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")

	resp, raw := cs.call(t, "POST", "/api/h5/conversations", emp,
		map[string]string{"subject": "VPN down", "category": "network", "body": "VPN 连不上", "client_msg_id": "c-1"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d; body %s", resp.StatusCode, raw)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "status", "seq", "employee_id", "participants", "queue_position"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("response lacks %q: %s", k, raw)
		}
	}
	var v conversation.View
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.ID, "cv_") || v.Status != desk.StatusQueued || v.Seq != 2 || v.EmployeeID != "zhangsan" ||
		v.Subject != "VPN down" || v.Category != "network" || v.QueuePosition != 1 || len(v.Participants) != 1 {
		t.Errorf("created %s", raw)
	}
	if got := resp.Header.Get("Location"); got != "/api/conversations/"+v.ID {
		t.Errorf("Location = %q", got)
	}

	// A retry after a lost answer gets the same conversation, with 200.
	again := ok[conversation.View](t, cs, http.StatusOK, "POST", "/api/h5/conversations", emp,
		map[string]string{"subject": "VPN down", "category": "network", "body": "VPN 连不上", "client_msg_id": "c-1"})
	if again.ID != v.ID || again.Seq != v.Seq {
		t.Errorf("retry got %s seq %d, want %s seq %d", again.ID, again.Seq, v.ID, v.Seq)
	}
	if got := ids(cs.list(t, emp, "/api/h5/conversations")); len(got) != 1 {
		t.Errorf("after a retry the employee has %v, want one conversation", got)
	}

	for _, tt := range []struct {
		name string
		body any
	}{
		{"no subject", map[string]string{"body": "help"}},
		{"unknown category", map[string]string{"subject": "x", "category": "coffee", "body": "help"}},
		{"empty body", map[string]string{"subject": "x", "body": "  "}},
		{"malformed JSON", `{"subject": "x",`},
		{"bad client_msg_id", map[string]string{"subject": "x", "body": "help", "client_msg_id": "a b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", "/api/h5/conversations", emp, tt.body)
		})
	}
}

// TestAuthentication runs every conversation route without a token, with
// an unknown one, and with the other role's token.
func TestAuthentication(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	agent := cs.token(t, desk.RoleAgent, alice)
	conv := cs.create(t, emp, "VPN down", "")
	c := "/api/conversations/" + conv.ID

	routes := []struct {
		method, path string
		forbidden    string // the role's token that gets 403; "" if both may call
	}{
		{"POST", "/api/h5/conversations", agent},
		{"GET", "/api/h5/conversations", agent},
		{"GET", "/api/agents/queue", emp},
		{"GET", "/api/agents/conversations", emp},
		{"GET", c, ""},
		{"GET", c + "/events", ""},
		{"POST", c + "/messages", ""},
		{"POST", c + "/read", ""},
		{"POST", c + "/notes", emp},
		{"POST", c + "/claim", emp},
		{"POST", c + "/invite", emp},
		{"POST", c + "/transfer", emp},
		{"POST", c + "/leave", emp},
		{"POST", c + "/resolve", emp},
	}
	for _, r := range routes {
		t.Run(r.method+" "+strings.ReplaceAll(r.path, conv.ID, "{id}"), func(t *testing.T) {
			for _, tok := range []string{"", "never-issued", strings.Repeat("x", 600)} {
				resp, raw := cs.call(t, r.method, r.path, tok, "{}")
				wantError(t, resp, raw, http.StatusUnauthorized, desk.EUnauthorized)
				if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			}
			if r.forbidden != "" {
				refused(t, cs, http.StatusForbidden, desk.EForbidden, r.method, r.path, r.forbidden, "{}")
			}
		})
	}
	if got := cs.get(t, emp, conv.ID); got.Status != desk.StatusQueued || got.Seq != conv.Seq {
		t.Errorf("refused calls changed the conversation: %+v", got)
	}
}

func TestTokenStoreDown(t *testing.T) {
	// A real Redis store whose server is not there: lookups fail, and the
	// API must fail closed with 503 rather than 401 or a guess.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { client.Close() })
	cs := newConvServer(t, func(a *API) {
		a.Tokens = tokenstore.NewRedis(client, time.Second)
		a.StoreTimeout = time.Second
	})
	resp, raw := cs.call(t, "GET", "/api/agents/queue", "some-token", nil)
	wantError(t, resp, raw, http.StatusServiceUnavailable, desk.EUnavailable)
}

func TestEmployeesSeeOnlyTheirOwn(t *testing.T) {
	cs := newConvServer(t)
	zhang := cs.token(t, desk.RoleEmployee, "zhangsan")
	li := cs.token(t, desk.RoleEmployee, "lisi")
	a := cs.create(t, zhang, "VPN down", "")
	b := cs.create(t, zhang, "Printer jammed", "")
	c := cs.create(t, li, "Password expired", "")

	if got, want := ids(cs.list(t, zhang, "/api/h5/conversations")), []string{a.ID, b.ID}; !sameSet(got, want) {
		t.Errorf("zhangsan lists %v, want %v", got, want)
	}
	if got, want := ids(cs.list(t, li, "/api/h5/conversations")), []string{c.ID}; !sameSet(got, want) {
		t.Errorf("lisi lists %v, want %v", got, want)
	}

	// Someone else's conversation does not exist for an employee.
	p := "/api/conversations/" + a.ID
	refused(t, cs, http.StatusNotFound, desk.ENotFound, "GET", p, li, nil)
	refused(t, cs, http.StatusNotFound, desk.ENotFound, "GET", p+"/events", li, nil)
	refused(t, cs, http.StatusNotFound, desk.ENotFound, "POST", p+"/messages", li, map[string]string{"body": "hi"})
	refused(t, cs, http.StatusNotFound, desk.ENotFound, "POST", p+"/read", li, map[string]int{"seq": 1})
	if got := cs.get(t, zhang, a.ID); got.Seq != a.Seq {
		t.Errorf("lisi's attempts changed the conversation: seq %d, want %d", got.Seq, a.Seq)
	}

	for _, id := range []string{"cv_doesnotexist0000", strings.Repeat("x", 65)} {
		refused(t, cs, http.StatusNotFound, desk.ENotFound, "GET", "/api/conversations/"+id, zhang, nil)
		refused(t, cs, http.StatusNotFound, desk.ENotFound, "GET", "/api/conversations/"+id+"/events", zhang, nil)
		refused(t, cs, http.StatusNotFound, desk.ENotFound, "POST", "/api/conversations/"+id+"/messages", zhang, map[string]string{"body": "hi"})
	}
}

func TestListPaging(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	agent := cs.token(t, desk.RoleAgent, alice)
	var want []string
	for _, s := range []string{"one", "two", "three"} {
		want = append(want, cs.create(t, emp, s, "").ID)
	}
	for _, path := range []string{"/api/h5/conversations", "/api/agents/queue"} {
		token := emp
		if strings.HasPrefix(path, "/api/agents") {
			token = agent
		}
		t.Run(path, func(t *testing.T) {
			first := cs.list(t, token, path+"?limit=2")
			if len(first.Conversations) != 2 || first.NextCursor == "" {
				t.Fatalf("first page %+v", first)
			}
			second := cs.list(t, token, path+"?limit=2&cursor="+first.NextCursor)
			if got := append(ids(first), ids(second)...); len(got) != 3 || !sameSet(got, want) {
				t.Errorf("pages hold %v, want %v once each", got, want)
			}
			refused(t, cs, http.StatusBadRequest, desk.EInvalid, "GET", path+"?cursor=garbage", token, nil)
			for _, limit := range []string{"0", "-1", "501", "ten"} {
				refused(t, cs, http.StatusBadRequest, desk.EInvalid, "GET", path+"?limit="+limit, token, nil)
			}
		})
	}
	// The queue is oldest first.
	if got := ids(cs.list(t, agent, "/api/agents/queue")); !reflect.DeepEqual(got, want) {
		t.Errorf("queue order %v, want %v", got, want)
	}
}

func TestQueueAndClaim(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	a, b := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleAgent, bob)
	conv := cs.create(t, emp, "VPN down", "")

	queue := cs.list(t, a, "/api/agents/queue")
	if s := summary(t, queue, conv.ID); s.QueuePosition != 1 || s.Status != desk.StatusQueued {
		t.Errorf("queue row %+v", s)
	}
	// Any agent may look at a queued conversation before claiming it.
	if got := cs.get(t, b, conv.ID); got.QueuePosition != 1 {
		t.Errorf("queued conversation as bob sees it: %+v", got)
	}

	claimed := cs.claim(t, a, conv.ID)
	if claimed.Status != desk.StatusOpen || claimed.AssigneeID != alice || claimed.ID != conv.ID {
		t.Errorf("claimed %+v", claimed)
	}
	e := refused(t, cs, http.StatusConflict, desk.EConflict, "POST", "/api/conversations/"+conv.ID+"/claim", b, nil)
	if !strings.Contains(e.Message, "claimed") {
		t.Errorf("message = %q", e.Message)
	}
	if got := ids(cs.list(t, a, "/api/agents/queue")); len(got) != 0 {
		t.Errorf("queue after the claim: %v", got)
	}
	if got := ids(cs.list(t, a, "/api/agents/conversations")); !reflect.DeepEqual(got, []string{conv.ID}) {
		t.Errorf("alice's open list: %v", got)
	}
	if got := ids(cs.list(t, b, "/api/agents/conversations?status=open")); len(got) != 0 {
		t.Errorf("bob's open list: %v", got)
	}
	// An open conversation is for its participants only.
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "GET", "/api/conversations/"+conv.ID, b, nil)
	for _, status := range []string{"queued", "bogus"} {
		refused(t, cs, http.StatusBadRequest, desk.EInvalid, "GET", "/api/agents/conversations?status="+status, a, nil)
	}
	refused(t, cs, http.StatusNotFound, desk.ENotFound, "POST", "/api/conversations/cv_nosuchthing0000/claim", a, nil)
}

func TestConcurrentClaims(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	agents := map[string]string{alice: cs.token(t, desk.RoleAgent, alice), bob: cs.token(t, desk.RoleAgent, bob)}
	for range 5 {
		conv := cs.create(t, emp, "VPN down", "")
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			mu       sync.Mutex
			statuses = map[int]int{}
			winner   string
		)
		for id, tok := range agents {
			wg.Go(func() {
				<-start
				resp, raw, err := cs.do("POST", "/api/conversations/"+conv.ID+"/claim", tok, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusOK {
					winner = id
				} else if !strings.Contains(string(raw), `"conflict"`) {
					t.Errorf("loser's body %s", raw)
				}
			})
		}
		close(start)
		wg.Wait()
		if statuses[http.StatusOK] != 1 || statuses[http.StatusConflict] != 1 {
			t.Fatalf("statuses %v, want one 200 and one 409", statuses)
		}
		if got := cs.get(t, agents[winner], conv.ID); got.AssigneeID != winner {
			t.Errorf("assignee %q, want the winner %q", got.AssigneeID, winner)
		}
	}
}

func TestInviteTransferLeaveResolve(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	a, b, c := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleAgent, bob), cs.token(t, desk.RoleAgent, carol)
	conv := cs.create(t, emp, "VPN down", "")
	p := "/api/conversations/" + conv.ID
	cs.claim(t, a, conv.ID)

	// Only the assignee invites.
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p+"/invite", b, map[string]string{"agent_id": carol})
	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", p+"/invite", a, map[string]string{"agent_id": ""})
	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", p+"/invite", a, map[string]string{"agent_id": "a b"})
	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", p+"/invite", a, `{"agent_id":`)
	refused(t, cs, http.StatusNotFound, desk.ENotFound, "POST", p+"/invite", a, map[string]string{"agent_id": "agt_nobody"})
	invited := ok[desk.Conversation](t, cs, http.StatusOK, "POST", p+"/invite", a, map[string]string{"agent_id": bob})
	if invited.AssigneeID != alice || invited.Status != desk.StatusOpen {
		t.Errorf("after invite %+v", invited)
	}
	refused(t, cs, http.StatusConflict, desk.EConflict, "POST", p+"/invite", a, map[string]string{"agent_id": bob})
	v := cs.get(t, b, conv.ID)
	if !isActiveIn(v, desk.RoleAgent, bob) || !isActiveIn(v, desk.RoleAgent, alice) {
		t.Errorf("participants after invite %+v", v.Participants)
	}
	if got := ids(cs.list(t, b, "/api/agents/conversations")); !reflect.DeepEqual(got, []string{conv.ID}) {
		t.Errorf("bob's open list after the invite: %v", got)
	}

	// Only the assignee transfers, and not to themselves.
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p+"/transfer", b, map[string]string{"agent_id": carol})
	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", p+"/transfer", a, map[string]string{"agent_id": alice})
	moved := ok[desk.Conversation](t, cs, http.StatusOK, "POST", p+"/transfer", a, map[string]string{"agent_id": carol})
	if moved.AssigneeID != carol {
		t.Errorf("after transfer %+v", moved)
	}
	v = cs.get(t, a, conv.ID) // a former participant still reads it
	if isActiveIn(v, desk.RoleAgent, alice) || !isActiveIn(v, desk.RoleAgent, carol) {
		t.Errorf("participants after transfer %+v", v.Participants)
	}
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p+"/resolve", a, nil)
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p+"/leave", a, nil)
	// Alice can find it again: not among hers, but among those she handed over.
	if got := ids(cs.list(t, a, "/api/agents/conversations")); len(got) != 0 {
		t.Errorf("alice's open list after the transfer: %v", got)
	}
	if got := ids(cs.list(t, a, "/api/agents/conversations?status=open&involvement=former")); !reflect.DeepEqual(got, []string{conv.ID}) {
		t.Errorf("alice's handed-over list: %v", got)
	}
	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "GET", "/api/agents/conversations?involvement=bogus", a, nil)

	// Bob leaves; carol is still the assignee.
	left := ok[desk.Conversation](t, cs, http.StatusOK, "POST", p+"/leave", b, nil)
	if left.AssigneeID != carol || left.Status != desk.StatusOpen {
		t.Errorf("after bob left %+v", left)
	}
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p+"/leave", b, nil)

	resolved := ok[desk.Conversation](t, cs, http.StatusOK, "POST", p+"/resolve", c, nil)
	if resolved.Status != desk.StatusResolved || resolved.ResolvedAt == nil {
		t.Errorf("after resolve %+v", resolved)
	}
	refused(t, cs, http.StatusConflict, desk.EConflict, "POST", p+"/resolve", c, nil)
	refused(t, cs, http.StatusConflict, desk.EConflict, "POST", p+"/invite", c, map[string]string{"agent_id": bob})
	if got := ids(cs.list(t, c, "/api/agents/conversations?status=resolved")); !reflect.DeepEqual(got, []string{conv.ID}) {
		t.Errorf("carol's resolved list: %v", got)
	}
	if got := ids(cs.list(t, c, "/api/agents/conversations")); len(got) != 0 {
		t.Errorf("carol's open list: %v", got)
	}

	var types []desk.EventType
	for _, ev := range cs.events(t, c, conv.ID, "").Events {
		types = append(types, ev.Type)
	}
	want := []desk.EventType{desk.EventCreated, desk.EventMessage, desk.EventClaimed, desk.EventJoined,
		desk.EventTransferred, desk.EventLeft, desk.EventResolved}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("history %v, want %v", types, want)
	}
}

func TestLastAgentLeavingRequeues(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	a, b := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleAgent, bob)
	conv := cs.create(t, emp, "VPN down", "")
	cs.claim(t, a, conv.ID)
	left := ok[desk.Conversation](t, cs, http.StatusOK, "POST", "/api/conversations/"+conv.ID+"/leave", a, nil)
	if left.Status != desk.StatusQueued || left.AssigneeID != "" {
		t.Errorf("after the only agent left %+v", left)
	}
	if got := ids(cs.list(t, b, "/api/agents/queue")); !reflect.DeepEqual(got, []string{conv.ID}) {
		t.Errorf("queue %v", got)
	}
	if got := cs.get(t, emp, conv.ID); got.QueuePosition != 1 {
		t.Errorf("employee sees %+v", got)
	}
	cs.claim(t, b, conv.ID)
}

func TestListAgents(t *testing.T) {
	cs := newConvServer(t)
	resp, body := cs.call(t, http.MethodGet, "/api/agents", cs.token(t, desk.RoleAgent, alice), nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"id":"`+alice+`"`) || strings.Contains(string(body), "password") {
		t.Fatalf("GET /api/agents: %d %s", resp.StatusCode, body)
	}
	resp, _ = cs.call(t, http.MethodGet, "/api/agents", cs.token(t, desk.RoleEmployee, "e1"), nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("employee listing agents: %d, want 403", resp.StatusCode)
	}
}

func TestQueryPeriod(t *testing.T) {
	now := time.Date(2026, 3, 15, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name, query string
		from, to    time.Time
		err         string
	}{
		{"the last 30 days by default", "", now.AddDate(0, 0, -30), now, ""},
		{"a date is its midnight UTC", "from=2026-01-01&to=2026-02-01",
			time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), ""},
		{"an RFC 3339 time as given", "to=2026-02-01T08:00:00%2B08:00",
			now.AddDate(0, 0, -30), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), ""},
		{"a wrong from", "from=yesterday", time.Time{}, time.Time{}, "from must be a date (2026-12-01) or an RFC 3339 time"},
		{"a wrong to", "to=2026-13-01", time.Time{}, time.Time{}, "to must be a date (2026-12-01) or an RFC 3339 time"},
		{"both wrong names from", "from=x&to=y", time.Time{}, time.Time{}, "from must be a date (2026-12-01) or an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			from, to, err := queryPeriod(q, now)
			if tt.err != "" {
				if desk.ErrorCode(err) != desk.EInvalid || desk.ErrorMessage(err) != tt.err {
					t.Fatalf("err = %v, want %s %q", err, desk.EInvalid, tt.err)
				}
				return
			}
			if err != nil || !from.Equal(tt.from) || !to.Equal(tt.to) {
				t.Fatalf("= %v, %v, %v; want %v, %v", from, to, err, tt.from, tt.to)
			}
		})
	}
}
