// Package wecomfake is a fake WeCom (企业微信) for tests and the local demo:
// the server API of a self-built app (gettoken, auth/getuserinfo, user/get,
// department/get, message/send) with WeCom's response shapes and errcodes,
// and the OAuth authorize and web-login (SSO) pages, which let a person
// pick a demo member and redirect back to redirect_uri with code and state.
//
// Switches make it misbehave the way WeCom does: tokens expiring mid-run,
// codes used twice or too late, rate limiting, a slow or a down API, and
// any errcode on the next calls of a path. Counters and the list of
// delivered messages are there for assertions.
package wecomfake

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fake limits, as WeCom documents them.
const (
	// DefaultTokenTTL is gettoken's expires_in.
	DefaultTokenTTL = 7200 * time.Second
	// CodeTTL is how long an OAuth code may be exchanged.
	CodeTTL = 5 * time.Minute
	// MessagesPerMinute is how many app messages one member receives per
	// minute from one app; WeCom drops the rest silently.
	MessagesPerMinute = 30
)

// Member is a member of the fake corp.
type Member struct {
	UserID         string
	Name           string
	Department     []int64
	MainDepartment int64
	Position       string
	Status         int // 1 active (the default), 2 disabled, 4 inactive, 5 left
	// Hidden puts the member outside the app's visible range: user/get
	// answers 60011 and messages to them 81013.
	Hidden bool
}

// Department is a department of the fake corp.
type Department struct {
	ID       int64
	Name     string
	NameEn   string
	ParentID int64
	Order    int64
	Hidden   bool // outside the app's visible range: department/get answers 60011
}

// Options configure a Fake.
type Options struct {
	CorpID      string
	AgentID     int64
	Secret      string
	Members     []Member
	Departments []Department
	// Outsiders are WeChat users who are not members: signing in as one
	// yields a code whose getuserinfo answer has openid and
	// external_userid, no userid.
	Outsiders []string
}

// Message is an app message the fake accepted and delivered.
type Message struct {
	ToUser                 string
	MsgType                string
	AgentID                int64
	Title                  string
	Description            string
	URL                    string
	BtnTxt                 string
	EnableDuplicateCheck   int
	DuplicateCheckInterval int64
	At                     time.Time
}

// Fake is a fake WeCom. Serve it with Start, or mount it (it is an
// http.Handler) anywhere; Transport reaches it without a network.
type Fake struct {
	opts Options
	mux  *http.ServeMux

	mu           sync.Mutex
	tokenTTL     time.Duration
	tokens       map[string]time.Time // token → expiry
	issued       []string
	codes        map[string]*code
	calls        map[string]int
	failures     map[string][]int // path → errcodes for its next calls
	rateLimited  bool
	latency      time.Duration
	down         bool
	legacyUserID bool
	trusted      string // trusted redirect host[:port]; empty trusts any
	autoLogin    string // member the login pages sign in at once, as WeCom's own client does
	messages     []Message
	perUser      map[string][]time.Time
	dropped      map[string]int
	dupes        map[string]time.Time // request body → duplicate check window end
	deduplicated int
}

type code struct {
	userID, openID string
	issued         time.Time
	used           bool
}

// New returns a fake with opts.
func New(opts Options) *Fake {
	f := &Fake{
		opts:     opts,
		tokenTTL: DefaultTokenTTL,
		tokens:   map[string]time.Time{},
		codes:    map[string]*code{},
		calls:    map[string]int{},
		failures: map[string][]int{},
		perUser:  map[string][]time.Time{},
		dropped:  map[string]int{},
		dupes:    map[string]time.Time{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/gettoken", f.getToken)
	mux.HandleFunc("GET /cgi-bin/auth/getuserinfo", f.authed(f.getUserInfo))
	mux.HandleFunc("GET /cgi-bin/user/get", f.authed(f.getUser))
	mux.HandleFunc("GET /cgi-bin/department/get", f.authed(f.getDepartment))
	mux.HandleFunc("POST /cgi-bin/message/send", f.authed(f.sendMessage))
	mux.HandleFunc("GET /connect/oauth2/authorize", f.authorizePage)
	mux.HandleFunc("GET /wwlogin/sso/login", f.ssoPage)
	mux.HandleFunc("GET /fake/login", f.pickMember)
	f.mux = mux
	return f
}

// ServeHTTP serves the fake's API and pages.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down, latency := f.down, f.latency
	if strings.HasPrefix(r.URL.Path, "/cgi-bin/") {
		f.calls[r.URL.Path]++
	}
	f.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if down && strings.HasPrefix(r.URL.Path, "/cgi-bin/") {
		// What a dead upstream looks like through WeCom's gateway.
		http.Error(w, "<html><body>502 Bad Gateway</body></html>", http.StatusBadGateway)
		return
	}
	f.mux.ServeHTTP(w, r)
}

// ExpireTokens makes every token issued so far expired: the next API call
// with one answers 42001.
func (f *Fake) ExpireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t := range f.tokens {
		f.tokens[t] = time.Time{}
	}
}

// SetTokenTTL sets expires_in for tokens issued from now on.
func (f *Fake) SetTokenTTL(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenTTL = d
}

// FailNext makes the next n calls of path (e.g. "/cgi-bin/message/send")
// answer errcode, after the token check.
func (f *Fake) FailNext(path string, errcode, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures[path] = append(f.failures[path], errcode)
	}
}

// SetRateLimited makes every API call but gettoken answer 45033 while on.
func (f *Fake) SetRateLimited(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rateLimited = on
}

// SetLatency delays every answer by d: a slow API.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// SetDown makes every API call answer HTTP 502 with an HTML page.
func (f *Fake) SetDown(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = on
}

// SetLegacyUserIDField makes getuserinfo answer "UserId", as older
// WeCom versions and documents do, instead of "userid".
func (f *Fake) SetLegacyUserIDField(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.legacyUserID = on
}

// SetTrustedDomain makes the login pages refuse a redirect_uri on another
// host[:port], as WeCom does for a domain not configured as trusted, and
// getuserinfo answer 50001 for codes issued to such a redirect.
func (f *Fake) SetTrustedDomain(hostport string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trusted = hostport
}

// SetAutoLogin makes both login pages sign userID in at once and redirect
// back, with no page to click: what the WeCom client does for the member
// using it. Empty restores the page.
func (f *Fake) SetAutoLogin(userID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.autoLogin = userID
}

// IssueCode returns a fresh OAuth code for a member, as if they had just
// signed in.
func (f *Fake) IssueCode(userID string) string {
	return f.issueCode(&code{userID: userID})
}

// IssueOutsiderCode returns a code for a non-member with openid.
func (f *Fake) IssueOutsiderCode(openID string) string {
	return f.issueCode(&code{openID: openID})
}

func (f *Fake) issueCode(c *code) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.issued = time.Now()
	s := randomString(24)
	f.codes[s] = c
	return s
}

// ExpireCodes ages every outstanding code past CodeTTL.
func (f *Fake) ExpireCodes() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.codes {
		c.issued = c.issued.Add(-2 * CodeTTL)
	}
}

// Calls returns how many times path was called.
func (f *Fake) Calls(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

// TokenCalls returns how many times gettoken was called.
func (f *Fake) TokenCalls() int { return f.Calls("/cgi-bin/gettoken") }

// IssuedTokens returns every access token the fake handed out.
func (f *Fake) IssuedTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.issued...)
}

// Messages returns the messages delivered, oldest first.
func (f *Fake) Messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.messages...)
}

// MessagesTo returns how many messages were delivered to userID.
func (f *Fake) MessagesTo(userID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.messages {
		if strings.EqualFold(m.ToUser, userID) {
			n++
		}
	}
	return n
}

// Dropped returns how many messages to userID were accepted but dropped
// for passing MessagesPerMinute, as WeCom drops them: silently.
func (f *Fake) Dropped(userID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped[strings.ToLower(userID)]
}

// Deduplicated returns how many messages the duplicate check suppressed.
func (f *Fake) Deduplicated() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deduplicated
}

func (f *Fake) member(userID string) (Member, bool) {
	for _, m := range f.opts.Members {
		if strings.EqualFold(m.UserID, userID) {
			return m, true
		}
	}
	return Member{}, false
}

func randomString(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
