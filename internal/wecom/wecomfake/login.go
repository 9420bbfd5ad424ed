package wecomfake

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
)

// loginPage stands in for the WeCom client (OAuth) or the QR page (SSO):
// the person picks who they are, and the fake redirects to redirect_uri
// with code and state. Links carry data-userid so a browser test can click
// one by member.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}a{display:block;padding:.75rem;margin:.5rem 0;border:1px solid #ccc;border-radius:6px;text-decoration:none;color:#07c}small{color:#888}</style>
</head><body>
<h1>{{.Title}}</h1>
<p><small>Fake WeCom · corp {{.CorpID}} · app {{.AgentID}}</small></p>
{{range .Members}}<a href="{{.Href}}" data-userid="{{.ID}}">{{.Name}} <small>{{.ID}}{{if .Note}} · {{.Note}}{{end}}</small></a>
{{end}}</body></html>`))

type pageEntry struct {
	ID, Name, Note string
	Href           string
}

func (f *Fake) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("appid") != f.opts.CorpID:
		http.Error(w, "参数错误: appid", http.StatusBadRequest)
	case q.Get("response_type") != "code" || (q.Get("scope") != "snsapi_base" && q.Get("scope") != "snsapi_privateinfo"):
		http.Error(w, "参数错误: response_type or scope", http.StatusBadRequest)
	default:
		f.renderLogin(w, r, "企业微信授权登录 (fake)", q.Get("redirect_uri"), q.Get("state"))
	}
}

func (f *Fake) ssoPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("login_type") != "CorpApp":
		http.Error(w, "参数错误: login_type", http.StatusBadRequest)
	case q.Get("appid") != f.opts.CorpID || q.Get("agentid") != strconv.FormatInt(f.opts.AgentID, 10):
		http.Error(w, "参数错误: appid or agentid", http.StatusBadRequest)
	default:
		f.renderLogin(w, r, "企业微信扫码登录 (fake)", q.Get("redirect_uri"), q.Get("state"))
	}
}

// redirectOK checks redirect_uri as WeCom does: absolute, and on the
// trusted domain when one is set.
func (f *Fake) redirectOK(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	f.mu.Lock()
	trusted := f.trusted
	f.mu.Unlock()
	return u, trusted == "" || u.Host == trusted
}

func (f *Fake) renderLogin(w http.ResponseWriter, r *http.Request, title, redirect, state string) {
	if _, ok := f.redirectOK(redirect); !ok {
		http.Error(w, "redirect_uri 需使用应用可信域名", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	auto := f.autoLogin
	f.mu.Unlock()
	if auto != "" {
		f.redirectWithCode(w, r, redirect, state, f.IssueCode(auto))
		return
	}
	link := func(kind, id string) string {
		v := url.Values{"redirect_uri": {redirect}, "state": {state}, kind: {id}}
		return "/fake/login?" + v.Encode()
	}
	data := struct {
		Title, CorpID string
		AgentID       int64
		Members       []pageEntry
	}{Title: title, CorpID: f.opts.CorpID, AgentID: f.opts.AgentID}
	for _, m := range f.opts.Members {
		note := m.Position
		if m.Hidden {
			note = "outside the app's visible range"
		}
		data.Members = append(data.Members, pageEntry{ID: m.UserID, Name: m.Name, Note: note, Href: link("userid", m.UserID)})
	}
	for _, o := range f.opts.Outsiders {
		data.Members = append(data.Members, pageEntry{ID: o, Name: o, Note: "not a member", Href: link("openid", o)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, data)
}

// pickMember issues a code for the chosen person and redirects to
// redirect_uri?…&code=CODE&state=STATE.
func (f *Fake) pickMember(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if _, ok := f.redirectOK(q.Get("redirect_uri")); !ok {
		http.Error(w, "redirect_uri 需使用应用可信域名", http.StatusBadRequest)
		return
	}
	var c string
	if id := q.Get("userid"); id != "" {
		if _, known := f.member(id); !known {
			http.Error(w, "unknown member", http.StatusBadRequest)
			return
		}
		c = f.IssueCode(id)
	} else if id := q.Get("openid"); id != "" {
		c = f.IssueOutsiderCode(id)
	} else {
		http.Error(w, "pick someone", http.StatusBadRequest)
		return
	}
	f.redirectWithCode(w, r, q.Get("redirect_uri"), q.Get("state"), c)
}

// redirectWithCode sends the browser to redirect?…&code=CODE&state=STATE.
func (f *Fake) redirectWithCode(w http.ResponseWriter, r *http.Request, redirect, state, code string) {
	u, ok := f.redirectOK(redirect)
	if !ok {
		http.Error(w, "redirect_uri 需使用应用可信域名", http.StatusBadRequest)
		return
	}
	back := u.Query()
	back.Set("code", code)
	back.Set("state", state)
	u.RawQuery = back.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}
