// Package signin is signing in with WeCom (企业微信): employees through the
// OAuth2 web login of the desk's self-built app when they open the H5 page
// inside WeCom, agents through WeCom's QR web login (SSO) in the console.
// Both end with exactly the token a password or mock login issues, handed
// to the page through a one-time ticket.
package signin

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/wecom"
)

// Defaults.
const (
	// TicketTTL is how long a finished sign-in waits for its page: the
	// redirect is followed at once, a minute covers a slow phone.
	TicketTTL = time.Minute
	// callTimeout bounds one sign-in's calls to WeCom and our stores.
	callTimeout = 10 * time.Second
)

// Directory is what sign-in needs of WeCom (*wecom.Client).
type Directory interface {
	AuthorizeURL(redirectURI, state string) string
	SSOLoginURL(redirectURI, state string) string
	UserID(ctx context.Context, code string) (string, error)
	User(ctx context.Context, userID string) (wecom.User, error)
	DepartmentPath(ctx context.Context, id int64) ([]wecom.Department, error)
}

// States sign and check the OAuth state (*wecom.States).
type States interface {
	Issue(returnPath string) (string, error)
	Verify(ctx context.Context, state, returnPath string) error
}

// Issuer issues the desk's tokens (*auth.Service).
type Issuer interface {
	Issue(ctx context.Context, role desk.Role, id, how string) (string, time.Duration, error)
}

// Employees records and reads employees' profiles (*conversation.Service).
type Employees interface {
	RecordEmployee(ctx context.Context, e desk.Employee) error
	StoredEmployee(ctx context.Context, id string) (desk.Employee, error)
}

// ProfileMaxAge is how long a profile read from the directory is kept
// before it is read again: a name, department or position changes seldom,
// and the directory's API is rate-limited per app.
const ProfileMaxAge = 24 * time.Hour

// profileRetry spaces attempts to refresh one profile that failed (a
// member WeCom does not know, the API down), so an agent opening the
// panel again and again does not become an API call each time.
const profileRetry = time.Hour

// Agents finds, creates and disables agent accounts bound to WeCom members.
type Agents interface {
	AgentByWeComUserID(ctx context.Context, userID string) (desk.Agent, error)
	BindAgentWeCom(ctx context.Context, agentID, userID string) error
	SetAgentDisabled(ctx context.Context, id string, disabled bool) error
}

// Provisioner creates the agent account of a WeCom member who qualifies
// (see Config.AgentDepartment), returning it bound.
type Provisioner interface {
	CreateAgent(ctx context.Context, username, name, password string) (desk.Agent, error)
}

// Config wires a Service.
type Config struct {
	WeCom     Directory
	States    States
	Tickets   Tickets
	Issuer    Issuer
	Employees Employees
	Agents    Agents
	// PublicURL is the desk's external origin (https://desk.example.com),
	// from which the callback URLs WeCom redirects to are built.
	PublicURL string
	// AgentDepartment, when set, lets any member of that WeCom department
	// (or below it) sign in to the console, creating their agent account
	// on first sign-in; a member who left it is disabled at their next
	// sign-in. Unset, only agents bound by an administrator sign in.
	AgentDepartment int64
	Provision       Provisioner
	Log             *slog.Logger
	Now             func() time.Time
}

// Service runs the sign-in flows.
type Service struct {
	cfg Config
	// tried: when a stale profile was last asked for, by employee id.
	mu    sync.Mutex
	tried map[string]time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{cfg: cfg, tried: map[string]time.Time{}}
}

// Routes registers the sign-in endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /auth/wecom/h5", s.start(flowEmployee))
	mux.HandleFunc("GET /auth/wecom/h5/callback", s.callback(flowEmployee))
	mux.HandleFunc("GET /auth/wecom/agent", s.start(flowAgent))
	mux.HandleFunc("GET /auth/wecom/agent/callback", s.callback(flowAgent))
	mux.HandleFunc("POST /api/auth/ticket", s.exchange)
}

// flow is one of the two sign-ins.
type flow struct {
	role     desk.Role
	path     string // of the start endpoint; the callback is path + "/callback"
	page     string // where the browser lands, with #ticket=…
	loginURL func(d Directory, redirect, state string) string
}

var (
	flowEmployee = flow{role: desk.RoleEmployee, path: "/auth/wecom/h5", page: "/h5/",
		loginURL: func(d Directory, redirect, state string) string { return d.AuthorizeURL(redirect, state) }}
	flowAgent = flow{role: desk.RoleAgent, path: "/auth/wecom/agent", page: "/agent/",
		loginURL: func(d Directory, redirect, state string) string { return d.SSOLoginURL(redirect, state) }}
)

// start sends the browser to WeCom with a signed state that carries where
// to return ("next", a page route such as "/c/cv_…").
func (s *Service) start(f flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := r.URL.Query().Get("next")
		if next == "" || !wecom.ValidReturnPath(next) {
			next = "/"
		}
		s.redirectToWeCom(w, r, f, next, r.URL.Query().Get("retried") == "1")
	}
}

func (s *Service) redirectToWeCom(w http.ResponseWriter, r *http.Request, f flow, next string, retried bool) {
	state, err := s.cfg.States.Issue(next)
	if err != nil {
		s.fail(w, r, f, err)
		return
	}
	q := url.Values{"next": {next}}
	if retried {
		q.Set("retried", "1")
	}
	redirect := s.cfg.PublicURL + f.path + "/callback?" + q.Encode()
	http.Redirect(w, r, f.loginURL(s.cfg.WeCom, redirect, state), http.StatusFound)
}

// callback finishes a sign-in: the state must be ours and unused, the code
// WeCom's, the member one of the corp's; then the token is issued and the
// browser sent to its page with a one-time ticket.
func (s *Service) callback(f flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
		defer cancel()
		q := r.URL.Query()
		next, code, retried := q.Get("next"), q.Get("code"), q.Get("retried") == "1"
		if !wecom.ValidReturnPath(next) {
			s.refuse(w, r, http.StatusBadRequest, pageBadLink)
			return
		}
		if err := s.cfg.States.Verify(ctx, q.Get("state"), next); err != nil {
			s.cfg.Log.Warn("sign-in refused", "reason", "bad state", "role", f.role, "error", err)
			if desk.ErrorCode(err) == desk.EUnavailable {
				s.fail(w, r, f, err)
				return
			}
			s.refuse(w, r, http.StatusBadRequest, pageBadLink)
			return
		}
		if code == "" {
			// The member declined, or WeCom showed its own error page and
			// sent the browser back without a code.
			s.refuse(w, r, http.StatusUnauthorized, pageNoCode)
			return
		}
		userID, err := s.cfg.WeCom.UserID(ctx, code)
		switch {
		case errors.Is(err, wecom.ErrCodeInvalid) && !retried:
			// A code reused (a reload) or older than five minutes: one
			// fresh round trip through WeCom, never a loop.
			s.redirectToWeCom(w, r, f, next, true)
			return
		case errors.Is(err, wecom.ErrCodeInvalid):
			s.refuse(w, r, http.StatusUnauthorized, pageNoCode)
			return
		case errors.Is(err, wecom.ErrNotMember):
			s.cfg.Log.Info("sign-in refused", "reason", "not a member", "role", f.role)
			s.refuse(w, r, http.StatusForbidden, pageNotMember)
			return
		case err != nil:
			s.fail(w, r, f, err)
			return
		}
		if err := desk.ValidateID(f.role, userID); err != nil {
			s.cfg.Log.Warn("sign-in refused", "reason", "userid not usable as an id", "role", f.role)
			s.refuse(w, r, http.StatusForbidden, pageNotMember)
			return
		}
		var sess Session
		if f.role == desk.RoleEmployee {
			sess, err = s.signInEmployee(ctx, userID)
		} else {
			sess, err = s.signInAgent(ctx, userID)
		}
		if errors.Is(err, errNotAgent) {
			s.refuse(w, r, http.StatusForbidden, pageNotAgent)
			return
		}
		if err != nil {
			s.fail(w, r, f, err)
			return
		}
		ticket := rand.Text()
		if err := s.cfg.Tickets.Put(ctx, ticket, sess, TicketTTL); err != nil {
			s.fail(w, r, f, err)
			return
		}
		http.Redirect(w, r, f.page+"#"+url.Values{"ticket": {ticket}, "next": {next}}.Encode(), http.StatusFound)
	}
}

// signInEmployee records the member's profile (read from the directory
// when the stored one is missing or older than ProfileMaxAge) and issues
// their token.
func (s *Service) signInEmployee(ctx context.Context, userID string) (Session, error) {
	e, err := s.cfg.Employees.StoredEmployee(ctx, userID)
	if err != nil && desk.ErrorCode(err) != desk.ENotFound {
		return Session{}, err
	}
	if err != nil || !s.fresh(e) {
		if e, err = s.readProfile(ctx, userID); err != nil {
			return Session{}, err
		}
	}
	token, ttl, err := s.cfg.Issuer.Issue(ctx, desk.RoleEmployee, userID, "wecom")
	if err != nil {
		return Session{}, err
	}
	return Session{Role: desk.RoleEmployee, ID: userID, Name: e.Name, Token: token, ExpiresIn: int64(ttl.Seconds())}, nil
}

func (s *Service) fresh(e desk.Employee) bool {
	return e.Name != "" && s.cfg.Now().Sub(e.UpdatedAt) < ProfileMaxAge
}

// readProfile reads a member's profile from the directory and records it.
func (s *Service) readProfile(ctx context.Context, userID string) (desk.Employee, error) {
	u, err := s.cfg.WeCom.User(ctx, userID)
	if err != nil {
		return desk.Employee{}, err
	}
	e := desk.Employee{ID: userID, Name: u.Name, Position: u.Position, Department: s.departmentPath(ctx, u)}
	if err := s.cfg.Employees.RecordEmployee(ctx, e); err != nil {
		return desk.Employee{}, err
	}
	e.UpdatedAt = s.cfg.Now().UTC()
	return e, nil
}

// FreshProfile returns e, or, when it is older than ProfileMaxAge, the
// member's profile read again from the directory (at most once an hour
// per employee while that fails; then e as it was). The console shows it
// beside the conversation.
func (s *Service) FreshProfile(ctx context.Context, e desk.Employee) desk.Employee {
	if s.fresh(e) || e.ID == "" {
		return e
	}
	now := s.cfg.Now()
	s.mu.Lock()
	if last, ok := s.tried[e.ID]; ok && now.Sub(last) < profileRetry {
		s.mu.Unlock()
		return e
	}
	s.tried[e.ID] = now
	for id, at := range s.tried { // keep the map to the last hour's attempts
		if now.Sub(at) >= profileRetry {
			delete(s.tried, id)
		}
	}
	s.mu.Unlock()
	fresh, err := s.readProfile(ctx, e.ID)
	if err != nil {
		s.cfg.Log.Warn("refresh employee profile from WeCom", "employee_id", e.ID, "error", err)
		return e
	}
	return fresh
}

// departmentPath names the member's main department from the top; a
// directory that will not say leaves it empty rather than fail the sign-in.
func (s *Service) departmentPath(ctx context.Context, u wecom.User) string {
	dept := u.MainDepartment
	if dept == 0 && len(u.Department) > 0 {
		dept = u.Department[0]
	}
	if dept == 0 {
		return ""
	}
	path, err := s.cfg.WeCom.DepartmentPath(ctx, dept)
	if err != nil {
		s.cfg.Log.Warn("read department path", "error", err)
		return ""
	}
	names := make([]string, len(path))
	for i, d := range path {
		names[i] = d.Name
	}
	return strings.Join(names, "/")
}

var errNotAgent = errors.New("signin: WeCom member has no agent account")

// signInAgent finds the agent bound to the member, or, with AgentDepartment
// set, provisions one; a provisioned agent who left the department is
// disabled.
func (s *Service) signInAgent(ctx context.Context, userID string) (Session, error) {
	a, err := s.cfg.Agents.AgentByWeComUserID(ctx, userID)
	if err != nil && desk.ErrorCode(err) != desk.ENotFound {
		return Session{}, err
	}
	found := err == nil
	if s.cfg.AgentDepartment != 0 {
		in, u, err := s.inAgentDepartment(ctx, userID)
		if err != nil {
			return Session{}, err
		}
		switch {
		case !in && found:
			if err := s.cfg.Agents.SetAgentDisabled(ctx, a.ID, true); err != nil {
				return Session{}, err
			}
			s.cfg.Log.Info("agent disabled: no longer in the agents' WeCom department", "agent_id", a.ID)
			return Session{}, errNotAgent
		case in && !found:
			if a, err = s.provision(ctx, userID, u.Name); err != nil {
				return Session{}, err
			}
			found = true
		}
	}
	if !found {
		s.cfg.Log.Info("sign-in refused", "reason", "no agent bound to this member", "role", desk.RoleAgent)
		return Session{}, errNotAgent
	}
	token, ttl, err := s.cfg.Issuer.Issue(ctx, desk.RoleAgent, a.ID, "wecom")
	if err != nil {
		return Session{}, err
	}
	return Session{Role: desk.RoleAgent, ID: a.ID, Name: a.Name, Token: token, ExpiresIn: int64(ttl.Seconds())}, nil
}

// inAgentDepartment reports whether the member belongs to AgentDepartment
// or a department below it.
func (s *Service) inAgentDepartment(ctx context.Context, userID string) (bool, wecom.User, error) {
	u, err := s.cfg.WeCom.User(ctx, userID)
	if desk.ErrorCode(err) == desk.ENotFound {
		return false, u, nil // left the company
	}
	if err != nil {
		return false, u, err
	}
	if u.Status > 1 { // 2 disabled, 4 not activated, 5 left
		return false, u, nil
	}
	for _, d := range u.Department {
		path, err := s.cfg.WeCom.DepartmentPath(ctx, d)
		if err != nil {
			return false, u, err
		}
		for _, p := range path {
			if p.ID == s.cfg.AgentDepartment {
				return true, u, nil
			}
		}
	}
	return false, u, nil
}

// provision creates and binds the agent account of a qualifying member.
// The password is random and never shown: such agents sign in with WeCom.
func (s *Service) provision(ctx context.Context, userID, name string) (desk.Agent, error) {
	if s.cfg.Provision == nil {
		return desk.Agent{}, errNotAgent
	}
	a, err := s.cfg.Provision.CreateAgent(ctx, "wx."+strings.ToLower(userID), name, rand.Text()+rand.Text())
	if err != nil {
		return desk.Agent{}, err
	}
	if err := s.cfg.Agents.BindAgentWeCom(ctx, a.ID, userID); err != nil {
		return desk.Agent{}, err
	}
	s.cfg.Log.Info("agent provisioned from WeCom", "agent_id", a.ID)
	return a, nil
}

// exchange trades a one-time ticket for its session.
func (s *Service) exchange(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ticket string `json:"ticket"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil || req.Ticket == "" || len(req.Ticket) > 64 {
		writeJSONError(w, http.StatusBadRequest, desk.EInvalid, "body must be {\"ticket\": \"…\"}")
		return
	}
	sess, err := s.cfg.Tickets.Take(r.Context(), req.Ticket)
	switch desk.ErrorCode(err) {
	case "":
	case desk.ENotFound:
		writeJSONError(w, http.StatusUnauthorized, desk.EUnauthorized, desk.ErrorMessage(err))
		return
	default:
		s.cfg.Log.Warn("sign-in ticket store", "error", err)
		writeJSONError(w, http.StatusServiceUnavailable, desk.EUnavailable, "sign-in temporarily unavailable; try again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	json.NewEncoder(w).Encode(sess)
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// fail answers a failure that is not the user's: WeCom or our stores are
// down, or the app is misconfigured, in which case the log names the
// setting to fix.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, f flow, err error) {
	if ce, ok := wecom.AsConfigError(err); ok {
		s.cfg.Log.Error("WeCom sign-in misconfigured", "setting", ce.Setting, "role", f.role, "error", err)
		s.refuse(w, r, http.StatusServiceUnavailable, pageMisconfigured)
		return
	}
	s.cfg.Log.Warn("sign-in failed", "role", f.role, "error", err)
	s.refuse(w, r, http.StatusServiceUnavailable, pageUnavailable)
}
