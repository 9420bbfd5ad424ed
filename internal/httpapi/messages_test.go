package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
)

func TestMessages(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	a, b := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleAgent, bob)
	conv := cs.create(t, emp, "VPN down", "")
	p := "/api/conversations/" + conv.ID + "/messages"

	resp, raw := cs.call(t, "POST", p, emp, map[string]string{"body": "还是不行", "client_msg_id": "m-1"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d; body %s", resp.StatusCode, raw)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "seq", "conversation_id", "body", "sender_type", "sender_id", "client_msg_id", "created_at"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("message lacks %q: %s", k, raw)
		}
	}
	var m sentMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Seq != conv.Seq+1 || m.ConversationID != conv.ID || m.Body != "还是不行" || m.SenderType != desk.RoleEmployee ||
		m.SenderID != "zhangsan" || m.ClientMsgID != "m-1" || m.ID == "" {
		t.Errorf("message %s", raw)
	}

	// The retry is the same message, stored once.
	again := ok[sentMessage](t, cs, http.StatusOK, "POST", p, emp, map[string]string{"body": "还是不行", "client_msg_id": "m-1"})
	if again.ID != m.ID || again.Seq != m.Seq {
		t.Errorf("retry got %s seq %d, want %s seq %d", again.ID, again.Seq, m.ID, m.Seq)
	}
	if got := cs.get(t, emp, conv.ID).Seq; got != m.Seq {
		t.Errorf("seq after the retry %d, want %d", got, m.Seq)
	}

	for _, tt := range []struct {
		name, contentType string
		body              string
		code              string
		status            int
	}{
		{"empty body", "application/json", `{"body": ""}`, desk.EInvalid, 400},
		{"blank body", "application/json", `{"body": " \n "}`, desk.EInvalid, 400},
		{"no body field", "application/json", `{}`, desk.EInvalid, 400},
		{"oversize body", "application/json", `{"body": "` + strings.Repeat("a", conversation.DefaultMaxBodyBytes+1) + `"}`, desk.EInvalid, 400},
		{"malformed JSON", "application/json", `{"body": "x"`, desk.EInvalid, 400},
		{"no content type", "", `{"body": "x"}`, desk.EInvalid, 400},
		{"bad client_msg_id", "application/json", `{"body": "x", "client_msg_id": "` + strings.Repeat("k", 65) + `"}`, desk.EInvalid, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", cs.URL+p, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+emp)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := cs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantError(t, resp, raw, tt.status, tt.code)
		})
	}
	// Exactly the maximum is fine.
	cs.send(t, emp, conv.ID, strings.Repeat("a", conversation.DefaultMaxBodyBytes))
	afterMax := cs.get(t, emp, conv.ID).Seq
	if afterMax != m.Seq+1 {
		t.Errorf("seq %d after the refused ones and one at the limit, want %d: something refused was stored", afterMax, m.Seq+1)
	}

	// An agent must claim first; then their message carries their name.
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p, a, map[string]string{"body": "hello"})
	cs.claim(t, a, conv.ID)
	reply := cs.send(t, a, conv.ID, "请重启一下")
	if reply.SenderType != desk.RoleAgent || reply.SenderID != alice || reply.SenderName != "Alice" {
		t.Errorf("agent's message %+v", reply)
	}
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p, b, map[string]string{"body": "me too"})
	refused(t, cs, http.StatusNotFound, desk.ENotFound, "POST", "/api/conversations/cv_nosuchthing0000/messages", a, map[string]string{"body": "x"})
}

func TestNotesArePrivate(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	a, b := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleAgent, bob)
	conv := cs.create(t, emp, "VPN down", "")
	p := "/api/conversations/" + conv.ID + "/notes"

	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p, a, map[string]string{"body": "unclaimed"})
	cs.claim(t, a, conv.ID)
	note := ok[desk.ConvEvent](t, cs, http.StatusCreated, "POST", p, a, map[string]string{"body": "用户是 VIP"})
	if note.Type != desk.EventNote || note.ConversationID != conv.ID || note.Seq == 0 {
		t.Errorf("note %+v", note)
	}
	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", p, a, map[string]string{"body": ""})
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p, b, map[string]string{"body": "not mine"})
	cs.send(t, a, conv.ID, "hello")

	agentSees := cs.events(t, a, conv.ID, "").Events
	if !hasEvent(agentSees, note.Seq, desk.EventNote) {
		t.Errorf("the agent's history lacks the note: %v", agentSees)
	}
	empSees := cs.events(t, emp, conv.ID, "")
	for _, ev := range empSees.Events {
		if ev.Type == desk.EventNote || strings.Contains(string(ev.Data), "VIP") {
			t.Errorf("the employee sees the note: %+v", ev)
		}
	}
	if len(empSees.Events) != len(agentSees)-1 {
		t.Errorf("employee sees %d events, agent %d; want one fewer", len(empSees.Events), len(agentSees))
	}
	// The employee's list never shows a note as the last message.
	cs.note(t, a, conv.ID, "最后一条是备注")
	if s := summary(t, cs.list(t, emp, "/api/h5/conversations"), conv.ID); s.LastMessage == nil || s.LastMessage.Body != "hello" {
		t.Errorf("employee's last message %+v", s.LastMessage)
	}
}

func TestReadAndUnread(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	a, b := cs.token(t, desk.RoleAgent, alice), cs.token(t, desk.RoleAgent, bob)
	conv := cs.create(t, emp, "VPN down", "")
	p := "/api/conversations/" + conv.ID + "/read"
	cs.claim(t, a, conv.ID)

	if s := summary(t, cs.list(t, a, "/api/agents/conversations"), conv.ID); s.Unread != 0 {
		t.Errorf("unread right after the claim: %d, want 0", s.Unread)
	}
	m := cs.send(t, emp, conv.ID, "还是不行")
	if s := summary(t, cs.list(t, a, "/api/agents/conversations"), conv.ID); s.Unread != 1 {
		t.Errorf("agent's unread after the employee wrote: %d, want 1", s.Unread)
	}
	got := ok[readResponse](t, cs, http.StatusOK, "POST", p, a, map[string]int64{"seq": m.Seq})
	if got.LastReadSeq != m.Seq {
		t.Errorf("last_read_seq %d, want %d", got.LastReadSeq, m.Seq)
	}
	if s := summary(t, cs.list(t, a, "/api/agents/conversations"), conv.ID); s.Unread != 0 {
		t.Errorf("agent's unread after reading: %d, want 0", s.Unread)
	}
	// Reading backwards changes nothing.
	if got := ok[readResponse](t, cs, http.StatusOK, "POST", p, a, map[string]int64{"seq": 1}); got.LastReadSeq != m.Seq {
		t.Errorf("after reading backwards last_read_seq %d, want %d", got.LastReadSeq, m.Seq)
	}
	if v := cs.get(t, a, conv.ID); lastReadOf(v, desk.RoleAgent, alice) != m.Seq {
		t.Errorf("participants %+v", v.Participants)
	}

	// And the other way round.
	cs.send(t, a, conv.ID, "请重启一下")
	if s := summary(t, cs.list(t, emp, "/api/h5/conversations"), conv.ID); s.Unread != 1 {
		t.Errorf("employee's unread after the agent wrote: %d, want 1", s.Unread)
	}
	latest := cs.get(t, emp, conv.ID).Seq
	if got := ok[readResponse](t, cs, http.StatusOK, "POST", p, emp, map[string]int64{"seq": latest}); got.LastReadSeq != latest {
		t.Errorf("employee's last_read_seq %d, want %d", got.LastReadSeq, latest)
	}
	if s := summary(t, cs.list(t, emp, "/api/h5/conversations"), conv.ID); s.Unread != 0 {
		t.Errorf("employee's unread after reading: %d, want 0", s.Unread)
	}

	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", p, a, map[string]int64{"seq": -1})
	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", p, a, map[string]string{})
	refused(t, cs, http.StatusBadRequest, desk.EInvalid, "POST", p, a, map[string]string{"seq": "3"})
	refused(t, cs, http.StatusForbidden, desk.EForbidden, "POST", p, b, map[string]int64{"seq": 1})
}

func TestEventsPaging(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	a := cs.token(t, desk.RoleAgent, alice)
	conv := cs.create(t, emp, "VPN down", "")
	cs.claim(t, a, conv.ID)
	for i := range 4 {
		cs.send(t, emp, conv.ID, "employee says "+string(rune('a'+i)))
		cs.note(t, a, conv.ID, "note "+string(rune('a'+i)))
		cs.send(t, a, conv.ID, "agent says "+string(rune('a'+i)))
	}
	last := cs.get(t, a, conv.ID).Seq

	all := cs.events(t, a, conv.ID, "")
	if int64(len(all.Events)) != last || all.NextAfterSeq != last {
		t.Fatalf("agent sees %d events up to %d, want every one of %d", len(all.Events), all.NextAfterSeq, last)
	}
	for i, ev := range all.Events {
		if ev.Seq != int64(i+1) || ev.ConversationID != conv.ID {
			t.Fatalf("event %d is %+v: not ascending from 1", i, ev)
		}
	}
	var public []desk.ConvEvent
	for _, ev := range all.Events {
		if ev.Type != desk.EventNote {
			public = append(public, ev)
		}
	}

	for _, tt := range []struct {
		name, token string
		want        []desk.ConvEvent
	}{
		{"agent", a, all.Events},
		{"employee", emp, public},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, limit := range []string{"1", "2", "5"} {
				var got []desk.ConvEvent
				after := int64(0)
				for range 100 {
					page := cs.events(t, tt.token, conv.ID, "?after_seq="+itoa(after)+"&limit="+limit)
					if len(page.Events) == 0 {
						if page.NextAfterSeq != after {
							t.Errorf("empty page's next_after_seq %d, want %d", page.NextAfterSeq, after)
						}
						break
					}
					if page.NextAfterSeq != page.Events[len(page.Events)-1].Seq {
						t.Errorf("next_after_seq %d, last event %d", page.NextAfterSeq, page.Events[len(page.Events)-1].Seq)
					}
					got = append(got, page.Events...)
					after = page.NextAfterSeq
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("limit %s: paged %d events, want %d (the same as in one page)", limit, len(got), len(tt.want))
				}
			}
			// Past the end: nothing, and the cursor stays.
			if page := cs.events(t, tt.token, conv.ID, "?after_seq="+itoa(last+10)); len(page.Events) != 0 || page.NextAfterSeq != last+10 {
				t.Errorf("past the end %+v", page)
			}
		})
	}
	raw := func(q string) string {
		_, b := cs.call(t, "GET", "/api/conversations/"+conv.ID+"/events"+q, a, nil)
		return string(b)
	}
	if !strings.Contains(raw("?after_seq=999"), `"events":[]`) {
		t.Errorf("an empty page is not []: %s", raw("?after_seq=999"))
	}
	for _, q := range []string{"?after_seq=-1", "?after_seq=x", "?after_seq=1.5", "?limit=0", "?limit=501", "?limit=abc", "?after_seq=99999999999999999999"} {
		refused(t, cs, http.StatusBadRequest, desk.EInvalid, "GET", "/api/conversations/"+conv.ID+"/events"+q, a, nil)
	}
}

func TestEmployeeMessageReopens(t *testing.T) {
	cs := newConvServer(t)
	emp := cs.token(t, desk.RoleEmployee, "zhangsan")
	a := cs.token(t, desk.RoleAgent, alice)
	conv := cs.create(t, emp, "VPN down", "")
	p := "/api/conversations/" + conv.ID
	cs.claim(t, a, conv.ID)
	ok[desk.Conversation](t, cs, http.StatusOK, "POST", p+"/resolve", a, nil)
	if got := cs.get(t, emp, conv.ID); got.Status != desk.StatusResolved {
		t.Fatalf("status %s after resolve", got.Status)
	}

	refused(t, cs, http.StatusConflict, desk.EConflict, "POST", p+"/messages", a, map[string]string{"body": "one more thing"})
	m := cs.send(t, emp, conv.ID, "又断了")
	v := cs.get(t, emp, conv.ID)
	if v.Status != desk.StatusOpen || v.AssigneeID != alice || v.ResolvedAt != nil {
		t.Errorf("after the employee wrote: %+v", v.Conversation)
	}
	evs := cs.events(t, emp, conv.ID, "?after_seq="+itoa(m.Seq-2)).Events
	if !hasEvent(evs, m.Seq-1, desk.EventReopened) || !hasEvent(evs, m.Seq, desk.EventMessage) {
		t.Errorf("history after the reopening message: %+v", evs)
	}
	if got := ids(cs.list(t, a, "/api/agents/conversations")); !reflect.DeepEqual(got, []string{conv.ID}) {
		t.Errorf("alice's open list %v", got)
	}
}

func TestMockLoginRemembersEmployee(t *testing.T) {
	cs := newConvServer(t)
	resp, raw := cs.call(t, "POST", "/api/h5/mock-login", "", map[string]string{"employee_id": "zhangsan", "name": "张三"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mock login: %d %s", resp.StatusCode, raw)
	}
	var lr mockLoginResponse
	if err := json.Unmarshal(raw, &lr); err != nil {
		t.Fatal(err)
	}
	conv := cs.create(t, lr.Token, "VPN down", "")
	// A later login without a name keeps the one known.
	cs.call(t, "POST", "/api/h5/mock-login", "", map[string]string{"employee_id": "zhangsan"})

	a := cs.token(t, desk.RoleAgent, alice)
	if s := summary(t, cs.list(t, a, "/api/agents/queue"), conv.ID); s.EmployeeName != "张三" {
		t.Errorf("employee_name %q, want 张三", s.EmployeeName)
	}
	if m := cs.send(t, lr.Token, conv.ID, "在吗"); m.SenderName != "张三" {
		t.Errorf("sender_name %q, want 张三", m.SenderName)
	}
}

func TestConversationRoutesNeedTheService(t *testing.T) {
	ts := newTestServer(t, true) // an API without Conversations
	resp, err := ts.Client().Get(ts.URL + "/api/agents/queue")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404: the routes should not exist", resp.StatusCode)
	}
}
