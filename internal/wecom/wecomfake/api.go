package wecomfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errmsgs are WeCom's errmsg texts for the errcodes the fake answers.
var errmsgs = map[int]string{
	-1:    "system busy",
	40001: "invalid credential",
	40013: "invalid corpid",
	40014: "invalid access_token",
	40029: "invalid code",
	40056: "invalid agentid",
	40058: "invalid parameter",
	41001: "access_token missing",
	41008: "missing code",
	41009: "missing userid",
	42001: "access_token expired",
	45009: "api freq out of limit",
	45033: "api concurrent out of limit",
	48002: "api forbidden",
	50001: "redirect_url not login trusted",
	60011: "no privilege to access/modify contact/party/agent",
	60020: "not allow to access from your ip",
	60111: "userid not found",
	60123: "invalid party id",
	81013: "user & party & tag all invalid",
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers errcode the way WeCom does: HTTP 200, errcode and an errmsg
// with a hint, the caller's IP and a link.
func fail(w http.ResponseWriter, r *http.Request, errcode int) {
	msg := errmsgs[errcode]
	if msg == "" {
		msg = "error"
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip == "" {
		ip = "127.0.0.1"
	}
	writeJSON(w, map[string]any{
		"errcode": errcode,
		"errmsg": fmt.Sprintf("%s, hint: [%d_fake], from ip: %s, more info at https://open.work.weixin.qq.com/devtool/query?e=%d",
			msg, time.Now().Unix(), ip, errcode),
	})
}

// injected pops the next errcode FailNext queued for path.
func (f *Fake) injected(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.failures[path]
	if len(q) == 0 {
		return 0
	}
	f.failures[path] = q[1:]
	return q[0]
}

func (f *Fake) getToken(w http.ResponseWriter, r *http.Request) {
	if code := f.injected(r.URL.Path); code != 0 {
		fail(w, r, code)
		return
	}
	q := r.URL.Query()
	if q.Get("corpid") != f.opts.CorpID {
		fail(w, r, 40013)
		return
	}
	if q.Get("corpsecret") != f.opts.Secret {
		fail(w, r, 40001)
		return
	}
	f.mu.Lock()
	tok := randomString(64)
	ttl := f.tokenTTL
	f.tokens[tok] = time.Now().Add(ttl)
	f.issued = append(f.issued, tok)
	f.mu.Unlock()
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": int64(ttl / time.Second)})
}

// authed checks access_token, then injected failures, then the rate limit.
func (f *Fake) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("access_token")
		if tok == "" {
			fail(w, r, 41001)
			return
		}
		f.mu.Lock()
		exp, ok := f.tokens[tok]
		limited := f.rateLimited
		f.mu.Unlock()
		switch {
		case !ok:
			fail(w, r, 40014)
			return
		case !time.Now().Before(exp):
			fail(w, r, 42001)
			return
		}
		if code := f.injected(r.URL.Path); code != 0 {
			fail(w, r, code)
			return
		}
		if limited {
			fail(w, r, 45033)
			return
		}
		h(w, r)
	}
}

func (f *Fake) getUserInfo(w http.ResponseWriter, r *http.Request) {
	s := r.URL.Query().Get("code")
	if s == "" {
		fail(w, r, 41008)
		return
	}
	f.mu.Lock()
	c, ok := f.codes[s]
	valid := ok && !c.used && time.Since(c.issued) < CodeTTL
	if ok {
		c.used = true
	}
	legacy := f.legacyUserID
	f.mu.Unlock()
	if !valid {
		fail(w, r, 40029)
		return
	}
	if c.userID == "" {
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "openid": c.openID, "external_userid": "wm" + c.openID})
		return
	}
	key := "userid"
	if legacy {
		key = "UserId"
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", key: c.userID})
}

func (f *Fake) getUser(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("userid")
	if id == "" {
		fail(w, r, 41009)
		return
	}
	m, ok := f.member(id)
	switch {
	case !ok:
		fail(w, r, 60111)
		return
	case m.Hidden:
		fail(w, r, 60011)
		return
	}
	status := m.Status
	if status == 0 {
		status = 1
	}
	order := make([]int64, len(m.Department))
	leader := make([]int, len(m.Department))
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok",
		"userid": m.UserID, "name": m.Name,
		"department": m.Department, "order": order, "main_department": m.MainDepartment,
		"position": m.Position, "is_leader_in_dept": leader, "direct_leader": []string{},
		"status": status, "alias": "", "telephone": "",
		"extattr": map[string]any{"attrs": []any{}},
	})
}

func (f *Fake) getDepartment(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		fail(w, r, 60123)
		return
	}
	for _, d := range f.opts.Departments {
		if d.ID != id {
			continue
		}
		if d.Hidden {
			fail(w, r, 60011)
			return
		}
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "department": map[string]any{
			"id": d.ID, "name": d.Name, "name_en": d.NameEn, "department_leader": []string{},
			"parentid": d.ParentID, "order": d.Order,
		}})
		return
	}
	fail(w, r, 60123)
}

type sendRequest struct {
	ToUser   string `json:"touser"`
	MsgType  string `json:"msgtype"`
	AgentID  int64  `json:"agentid"`
	TextCard *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		URL         string `json:"url"`
		BtnTxt      string `json:"btntxt"`
	} `json:"textcard"`
	Text *struct {
		Content string `json:"content"`
	} `json:"text"`
	EnableDuplicateCheck   int   `json:"enable_duplicate_check"`
	DuplicateCheckInterval int64 `json:"duplicate_check_interval"`
}

func (f *Fake) sendMessage(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req sendRequest
	if err != nil || json.Unmarshal(body, &req) != nil {
		fail(w, r, 40058)
		return
	}
	if req.AgentID != f.opts.AgentID {
		fail(w, r, 40056)
		return
	}
	msg := Message{ToUser: req.ToUser, MsgType: req.MsgType, AgentID: req.AgentID,
		EnableDuplicateCheck: req.EnableDuplicateCheck, DuplicateCheckInterval: req.DuplicateCheckInterval}
	switch {
	case req.MsgType == "textcard" && req.TextCard != nil && req.TextCard.Title != "" && req.TextCard.Description != "" && req.TextCard.URL != "":
		msg.Title, msg.Description, msg.URL, msg.BtnTxt = req.TextCard.Title, req.TextCard.Description, req.TextCard.URL, req.TextCard.BtnTxt
	case req.MsgType == "text" && req.Text != nil && req.Text.Content != "":
		msg.Description = req.Text.Content
	default:
		fail(w, r, 40058)
		return
	}
	var valid, invalid []string
	for _, u := range strings.Split(req.ToUser, "|") {
		if m, ok := f.member(u); ok && !m.Hidden && (m.Status == 0 || m.Status == 1) {
			valid = append(valid, m.UserID)
		} else if u != "" {
			invalid = append(invalid, strings.ToLower(u))
		}
	}
	if len(valid) == 0 {
		fail(w, r, 81013)
		return
	}
	now := time.Now()
	msgID := randomString(32)
	f.mu.Lock()
	dup := false
	if req.EnableDuplicateCheck == 1 {
		window := time.Duration(req.DuplicateCheckInterval) * time.Second
		if window <= 0 {
			window = 1800 * time.Second
		}
		if until, ok := f.dupes[string(body)]; ok && now.Before(until) {
			dup = true
			f.deduplicated++
		} else {
			f.dupes[string(body)] = now.Add(window)
		}
	}
	for _, u := range valid {
		if dup {
			break
		}
		key := strings.ToLower(u)
		recent := f.perUser[key][:0]
		for _, t := range f.perUser[key] {
			if now.Sub(t) < time.Minute {
				recent = append(recent, t)
			}
		}
		if len(recent) >= MessagesPerMinute {
			f.perUser[key] = recent
			f.dropped[key]++
			continue
		}
		f.perUser[key] = append(recent, now)
		m := msg
		m.ToUser, m.At = u, now
		f.messages = append(f.messages, m)
	}
	f.mu.Unlock()
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok",
		"invaliduser": strings.Join(invalid, "|"), "invalidparty": "", "invalidtag": "", "unlicenseduser": "",
		"msgid": msgID,
	})
}
