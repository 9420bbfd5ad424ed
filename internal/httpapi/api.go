// Package httpapi is the desk's JSON-over-HTTP surface: login, the
// development mock login, logout and the conversations. WebSocket
// endpoints live in gateway.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/canned"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/firstline"
	"github.com/servicedesk/servicedesk/internal/kb"
	"github.com/servicedesk/servicedesk/internal/limits"
	"github.com/servicedesk/servicedesk/internal/reports"
	"github.com/servicedesk/servicedesk/internal/retention"
	"github.com/servicedesk/servicedesk/internal/settings"
	"github.com/servicedesk/servicedesk/internal/sla"
	"github.com/servicedesk/servicedesk/internal/staff"
)

// defaultStoreTimeout bounds each token lookup when API.StoreTimeout is
// zero. It matches config's default, so a caller that forgets the field
// gets the documented behaviour.
const defaultStoreTimeout = 2 * time.Second

// API serves the JSON endpoints. Its fields must be set before Routes.
type API struct {
	Auth *auth.Service
	// Dev enables the mock employee login, which hands out tokens to anyone
	// who asks and so must never be reachable in production.
	Dev bool
	Log *slog.Logger
	// Tokens authenticates the conversation endpoints' bearer tokens.
	Tokens desk.TokenStore
	// StoreTimeout bounds each token lookup; past it the request fails
	// closed with 503. Zero means defaultStoreTimeout.
	StoreTimeout time.Duration
	// Conversations serves the conversation endpoints; when nil they are
	// not registered and mock login does not record employees' names.
	Conversations *conversation.Service
	// Push serves POST /api/push when its Key is set.
	Push Push
	// WeCom says WeCom sign-in is configured, and MaxBodyBytes is the
	// message limit: the pages ask (GET /api/meta) before signing in.
	WeCom        bool
	MaxBodyBytes int
	// AgentDisabled is asked on every agent request, so a disabled agent
	// is refused whatever issued their token (auth.Service.AgentDisabled
	// answers from memory).
	AgentDisabled func(ctx context.Context, id string) (bool, error)
	// Writes, when set, is each user's budget for REST writes, the same
	// buckets as their socket frames; Creates their budget for starting
	// conversations.
	Writes, Creates *limits.Buckets
	// Proxies are the reverse proxies whose forwarded headers are believed.
	Proxies Proxies
	// Files, when set, takes uploads and serves attachments; UploadRate
	// is each user's budget of uploads.
	Files      Files
	UploadRate *limits.Buckets
	// Canned serves canned replies and Audit the admins' audit log, when set.
	Canned *canned.Service
	Audit  *audit.Log
	// Staff, when set, serves the admin area's agents; Retention the
	// export and erasure of an employee's data.
	Staff *staff.Service
	// Settings, when set, serves the desk's business hours and automatic
	// replies: agents read them, admins change them.
	Settings *settings.Service
	// SLA, when set, serves the service-level policies.
	SLA *sla.Service
	// Reports, when set, serves the reports; ReportZone is the desk's
	// time zone, where report days start.
	Reports    *reports.Service
	ReportZone func() *time.Location
	Retention  *retention.Service
	// KB, when set, serves the knowledge base: agents write articles,
	// admins publish them, employees read and search them.
	KB *kb.Service
	// Assistant is the optional AI assistant (nil or not Enabled: none).
	Assistant *firstline.Service
	// Profiles, with WeCom, refreshes an employee's profile older than a
	// day when an agent looks at it.
	Profiles Profiles
	// keyFailures throttles wrong operator API keys per client address.
	keyFailures *auth.Limiter
}

// Wrong operator API keys allowed per client address in keyWindow.
const (
	maxKeyFailures = 10
	keyWindow      = 15 * time.Minute
)

// Routes registers the API's endpoints on mux.
func (a *API) Routes(mux *http.ServeMux) {
	a.keyFailures = auth.NewLimiter(maxKeyFailures, keyWindow, nil)
	mux.HandleFunc("GET /api/meta", a.meta)
	mux.HandleFunc("POST /api/agents/login", a.login)
	if a.Dev {
		// Not registered at all otherwise, so production answers a plain 404
		// and does not even admit the endpoint exists.
		mux.HandleFunc("POST /api/h5/mock-login", a.mockLogin)
	}
	mux.HandleFunc("POST /api/logout", a.logout)
	if a.Conversations != nil {
		a.conversationRoutes(mux)
		if a.Files != nil {
			a.attachmentRoutes(mux)
		}
		if a.Canned != nil && a.Audit != nil {
			a.cannedRoutes(mux)
		}
		if a.Staff != nil {
			a.staffRoutes(mux)
		}
		if a.Retention != nil {
			a.retentionRoutes(mux)
		}
		if a.Settings != nil {
			a.settingsRoutes(mux)
		}
		if a.SLA != nil {
			a.slaRoutes(mux)
		}
		if a.Reports != nil {
			a.reportRoutes(mux)
		}
		if a.KB != nil {
			a.kbRoutes(mux)
		}
		a.assistantRoutes(mux)
	}
	if a.Push.Key != "" {
		mux.HandleFunc("POST /api/push", a.withKey(a.push))
		a.adminRoutes(mux)
	}
}

// clientAddr is the caller's IP address, for rate limits and logs: the
// peer's, or the forwarded one behind a trusted proxy (Proxies).
func (a *API) clientAddr(r *http.Request) string { return a.Proxies.ClientAddr(r) }
