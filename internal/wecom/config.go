package wecom

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// WeCom's own hosts, the defaults of Config's base URLs.
const (
	DefaultAPIBase   = "https://qyapi.weixin.qq.com"
	DefaultOAuthBase = "https://open.weixin.qq.com"
	DefaultSSOBase   = "https://login.work.weixin.qq.com"
)

// Defaults of Config's tunables.
const (
	// DefaultRequestTimeout bounds one HTTP round trip to WeCom. Its API
	// answers in well under a second; past five something is wrong and a
	// caller (a sign-in page, the notification outbox) should hear so.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultTokenMargin is how long before expires_in a token is replaced.
	// WeCom's tokens live 7,200 s; five minutes covers clock skew between
	// nodes and a call that starts just before the deadline.
	DefaultTokenMargin = 5 * time.Minute
	// DefaultMaxAttempts is the most tries of one call on -1, 45009, 45033
	// or a failed round trip. WeCom's error table advises retrying -1 "no
	// more than 3 times".
	DefaultMaxAttempts = 3
	// DefaultRetryBase is the first backoff step; each next step doubles,
	// and half of each step is random jitter so nodes do not retry in step.
	DefaultRetryBase = 250 * time.Millisecond
	// DefaultRetryBudget bounds the total backoff sleep of one call, so a
	// sign-in page never waits on WeCom for more than a few seconds.
	DefaultRetryBudget = 3 * time.Second
	// DefaultDepartmentTTL is how long department names are cached: they
	// change rarely, and the console shows them beside each conversation.
	DefaultDepartmentTTL = time.Hour
)

// Secret is the app secret. It prints, logs and marshals as "[redacted]", so
// passing a Config to a logger or fmt cannot leak it; only the gettoken
// request reads the real value.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Secret) GoString() string { return redacted }

// LogValue makes slog print "[redacted]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText makes encoders (JSON, YAML, slog's JSON handler) write
// "[redacted]".
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (s Secret) reveal() string             { return string(s) }

// Format makes every fmt verb, %#v and %x included, print "[redacted]".
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// Config configures a Client. CorpID, AgentID and Secret are required.
type Config struct {
	CorpID  string // 企业ID
	AgentID int64  // the self-built app's AgentId
	Secret  Secret // the app's Secret; never logged

	// Base URLs, overridable so tests and the local demo reach a fake.
	APIBase   string // default DefaultAPIBase
	OAuthBase string // default DefaultOAuthBase
	SSOBase   string // default DefaultSSOBase

	HTTPClient *http.Client // default: a client with no timeout of its own (RequestTimeout applies)
	Logger     *slog.Logger // default: discard
	// TokenCache shares the access token between nodes (RedisTokenCache);
	// nil keeps it in this process only.
	TokenCache TokenCache

	RequestTimeout time.Duration // default DefaultRequestTimeout
	TokenMargin    time.Duration // default DefaultTokenMargin
	MaxAttempts    int           // default DefaultMaxAttempts
	RetryBase      time.Duration // default DefaultRetryBase
	RetryBudget    time.Duration // default DefaultRetryBudget
	DepartmentTTL  time.Duration // default DefaultDepartmentTTL

	Now func() time.Time // default time.Now
}

// Validate reports a missing or malformed setting, naming it.
func (c Config) Validate() error {
	switch {
	case c.CorpID == "":
		return desk.Errorf(desk.EInvalid, "wecom: the corp id is required")
	case c.AgentID <= 0:
		return desk.Errorf(desk.EInvalid, "wecom: the agent id must be a positive number")
	case c.Secret == "":
		return desk.Errorf(desk.EInvalid, "wecom: the app secret is required")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.APIBase == "" {
		c.APIBase = DefaultAPIBase
	}
	if c.OAuthBase == "" {
		c.OAuthBase = DefaultOAuthBase
	}
	if c.SSOBase == "" {
		c.SSOBase = DefaultSSOBase
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.TokenMargin <= 0 {
		c.TokenMargin = DefaultTokenMargin
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RetryBase <= 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryBudget <= 0 {
		c.RetryBudget = DefaultRetryBudget
	}
	if c.DepartmentTTL <= 0 {
		c.DepartmentTTL = DefaultDepartmentTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}
