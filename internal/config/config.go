// Package config holds servicedesk's settings: one typed struct, defaults as
// named constants with their reasons, flags overriding SERVICEDESK_*
// environment variables, and Validate run once at start.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Defaults. Each says its unit and why it is what it is.
const (
	// DefaultAddr is the seed's port, so its front ends' proxy settings keep working.
	DefaultAddr = ":8000"
	// DefaultDevAddr is where --dev listens unless --addr says: loopback.
	DefaultDevAddr = "127.0.0.1:8000"
	// DefaultDBPath keeps data beside the binary's working directory, created on first start.
	DefaultDBPath = "./data/servicedesk.db"
	// DefaultTokenTTL is one working day: agents log in once per shift.
	DefaultTokenTTL = 12 * time.Hour
	// DefaultStoreTimeout bounds every token-store call. The seed waited
	// forever on a hung Redis; two seconds fails closed while a healthy
	// store answers in well under a millisecond.
	DefaultStoreTimeout = 2 * time.Second
	// DefaultPingInterval matches Centrifugo's and sits under the 60 s idle
	// timeout of common proxies (nginx proxy_read_timeout), so a quiet
	// connection is never cut by a middlebox.
	DefaultPingInterval = 25 * time.Second
	// DefaultMaxMessageBytes (64 KiB) is far above any chat frame and low
	// enough that a hostile client cannot make us buffer much.
	DefaultMaxMessageBytes = 64 << 10
	// DefaultSendQueueBytes (1 MiB) lets a client on a poor mobile link fall
	// seconds behind without being dropped; past it, it is closed as slow.
	DefaultSendQueueBytes = 1 << 20
	// DefaultMsgRate (frames per second per connection) and DefaultMsgBurst
	// leave room for typing events on every keystroke and a burst of sends
	// after a reconnect, while a flooding client is cut off at once.
	DefaultMsgRate  = 20.0
	DefaultMsgBurst = 60
	// DefaultMaxBodyBytes bounds a message or note. WeCom's own text
	// messages stop at 2,048 bytes; twice that fits a pasted error log.
	DefaultMaxBodyBytes = 4096
	// DefaultMaxSocketsPerUser: a person with a phone, two browsers and a
	// few tabs each stays far below; one client holding hundreds does not.
	DefaultMaxSocketsPerUser = 20
	// DefaultMaxSocketsPerAddr: a whole office behind one NAT address
	// must fit; one machine opening sockets by the thousand must not.
	DefaultMaxSocketsPerAddr = 2000
	// DefaultMaxOpenConversations: see conversation.DefaultMaxOpen.
	DefaultMaxOpenConversations = 5
	// DefaultNewConversationsHour: an employee starts a few requests a
	// day; ten an hour (after a burst of five) is far above and stops a
	// script filling the queue.
	DefaultNewConversationsHour = 10
	// DefaultTokenRecheck: see gateway.DefaultTokenRecheck.
	DefaultTokenRecheck = 30 * time.Second
	// MinAPIKeyBytes: the operator API key guards pushes, kicks and
	// disabling agents; shorter than 32 bytes it could be guessed.
	MinAPIKeyBytes = 32
	// DefaultShutdownTimeout bounds a graceful stop; orchestrators usually
	// send SIGKILL 30 s after SIGTERM.
	DefaultShutdownTimeout = 10 * time.Second
)

// Config is every setting of the server.
type Config struct {
	Addr           string
	Dev            bool
	DBPath         string
	DatabaseURL    string
	RedisURL       string
	AllowedOrigins []string
	// TrustedProxies are the reverse proxies (addresses, CIDR ranges)
	// whose X-Forwarded-For and X-Forwarded-Proto are believed.
	TrustedProxies []string
	// MetricsAddr, when set, serves /metrics on a listener of its own,
	// without the API key: for a Prometheus on the same host or network.
	MetricsAddr     string
	AllowQueryToken bool
	TokenTTL        time.Duration
	StoreTimeout    time.Duration
	PingInterval    time.Duration
	MaxMessageBytes int64
	SendQueueBytes  int
	MsgRate         float64
	MsgBurst        int
	ShutdownTimeout time.Duration
	TokenRecheck    time.Duration
	MaxBodyBytes    int
	// Per-user limits (per node): sockets per user and per client
	// address, open conversations per employee, new conversations per hour.
	MaxSocketsPerUser    int
	MaxSocketsPerAddr    int
	MaxOpenConversations int
	NewConversationsHour float64
	APIKey               string
	NodeID               string
	LogLevel             string
	LogFormat            string
	WeCom                WeCom
	Files                Files
	LLM                  LLM
	// RetentionDays: resolved conversations older than this are deleted
	// with everything about them; 0 keeps everything.
	RetentionDays int
	// BusinessHours ("mon-fri 09:00-18:00"), in TimeZone, with Holidays
	// and Workdays (调休) as dates: when set, a request out of hours or
	// with no agent online is told when to expect an answer.
	BusinessHours, TimeZone string
	Holidays, Workdays      []string
	// PendingResolveDays: a conversation pending on the employee this many
	// days without news is resolved (business days with BusinessHours).
	PendingResolveDays int
}

// EnvPrefix is prepended to a flag's name, upper-cased with "-" as "_", to
// form its environment variable: --redis-url ↔ SERVICEDESK_REDIS_URL.
const EnvPrefix = "SERVICEDESK_"

// Parse reads the server's settings from args, falling back to getenv, then
// to the defaults, and validates them. It returns flag.ErrHelp after
// printing usage for -h/--help.
func Parse(name string, args []string, getenv func(string) string, output io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	var origins, proxies string
	fs.StringVar(&c.Addr, "addr", DefaultAddr, "listen address (host:port)")
	fs.BoolVar(&c.Dev, "dev", false, "development mode: demo agent demo/demo, mock employee login, localhost origins allowed")
	fs.StringVar(&c.DBPath, "db", DefaultDBPath, "SQLite database file (its folder is created on first start)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://user@host:5432/db); when set, data lives there instead of --db")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis URL (redis://host:6379/0); when set, tokens live in Redis, otherwise in process")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated browser origins allowed to open WebSockets (e.g. https://desk.example.com); same-origin pages are always allowed")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this address of its own, without the API key (e.g. 127.0.0.1:9090); on the main port /metrics needs the API key")
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated addresses or CIDR ranges of our own reverse proxies: only from them is X-Forwarded-For (client address) and X-Forwarded-Proto believed")
	fs.BoolVar(&c.AllowQueryToken, "allow-query-token", true, "accept the deprecated ?token= query parameter on WebSocket URLs (old clients)")
	fs.DurationVar(&c.TokenTTL, "token-ttl", DefaultTokenTTL, "lifetime of a login token")
	fs.DurationVar(&c.StoreTimeout, "store-timeout", DefaultStoreTimeout, "timeout of each token-store call; past it, handshakes fail closed")
	fs.DurationVar(&c.PingInterval, "ping-interval", DefaultPingInterval, "WebSocket ping interval; a peer silent for two intervals is closed")
	fs.Int64Var(&c.MaxMessageBytes, "max-message-bytes", DefaultMaxMessageBytes, "largest inbound WebSocket message; larger ones close the connection with 1009")
	fs.IntVar(&c.SendQueueBytes, "send-queue-bytes", DefaultSendQueueBytes, "outbound bytes queued per connection before it is closed as slow (1013)")
	fs.Float64Var(&c.MsgRate, "msg-rate", DefaultMsgRate, "frames per second one user may send over all their sockets, REST writes included; more closes the socket with 1008 (REST: 429)")
	fs.IntVar(&c.MsgBurst, "msg-burst", DefaultMsgBurst, "inbound frames allowed in a burst above --msg-rate")
	fs.IntVar(&c.MaxBodyBytes, "max-body-bytes", DefaultMaxBodyBytes, "largest message or note body, in bytes")
	fs.IntVar(&c.MaxSocketsPerUser, "max-sockets-per-user", DefaultMaxSocketsPerUser, "WebSockets one user may hold on a node; more close with 1008")
	fs.IntVar(&c.MaxSocketsPerAddr, "max-sockets-per-addr", DefaultMaxSocketsPerAddr, "WebSockets one client address may hold on a node; more close with 1008")
	fs.IntVar(&c.MaxOpenConversations, "max-open-conversations", DefaultMaxOpenConversations, "queued or open conversations one employee may have; a new one past it is refused (409)")
	fs.Float64Var(&c.NewConversationsHour, "new-conversations-per-hour", DefaultNewConversationsHour, "new conversations one employee may start per hour, after a burst of 5 (429 with Retry-After beyond)")
	fs.DurationVar(&c.TokenRecheck, "token-recheck", DefaultTokenRecheck, "how often live WebSockets' tokens are looked up again; an expired or externally deleted token closes its sockets (4001) within this long")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "longest graceful shutdown after SIGINT/SIGTERM")
	fs.StringVar(&c.APIKey, "api-key", "", "shared secret for POST /api/push (X-API-Key); empty turns the endpoint off. "+
		"Prefer "+EnvPrefix+"API_KEY_FILE naming a file that holds it: flags show in ps")
	fs.StringVar(&c.NodeID, "node-id", "", "this node's name in logs, metrics and connection ids (default: random)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	c.WeCom.flags(fs)
	c.Files.flags(fs)
	c.LLM.flags(fs)
	var holidays, workdays string
	fs.StringVar(&c.BusinessHours, "business-hours", "", `the desk's working week, e.g. "mon-fri 09:00-18:00" or "mon-fri 09:00-12:00,13:30-18:00; sat 10:00-14:00"; when set, a request out of hours or with nobody online is told when to expect an answer`)
	fs.StringVar(&c.TimeZone, "time-zone", "Asia/Shanghai", "the desk's time zone (IANA name)")
	fs.StringVar(&holidays, "holidays", "", "comma-separated closed dates (2026-10-01,2026-10-02)")
	fs.StringVar(&workdays, "workdays", "", "comma-separated make-up workdays (调休) on closed weekdays, with Monday's hours")
	fs.IntVar(&c.PendingResolveDays, "pending-resolve-days", 0, "resolve a conversation waiting on the employee after this many days without news (business days with --business-hours), warning them a day before; 0 never")
	fs.IntVar(&c.RetentionDays, "retention-days", 0, "delete resolved conversations (messages, notes, files, ratings, search entries) this many days after they were resolved; 0 keeps them")
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: %s [flags]\n       %s agent add --username U --name N   (password from stdin or prompt)\n\nEvery flag can also be set as %s<FLAG>, e.g. --redis-url as SERVICEDESK_REDIS_URL; flags win.\n\nFlags:\n", name, name, EnvPrefix)
		fs.PrintDefaults()
	}
	if err := applyEnv(fs, getenv); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	addrGiven := false
	fs.Visit(func(f *flag.Flag) { addrGiven = addrGiven || f.Name == "addr" })
	if c.Dev && !addrGiven {
		// The demo account and the mock login let anyone in: in dev mode
		// only this machine may reach them, unless asked otherwise.
		c.Addr = DefaultDevAddr
	}
	if c.APIKey == "" {
		key, err := secretEnv(getenv, "API_KEY")
		if err != nil {
			return c, err
		}
		c.APIKey = key
	}
	if err := c.WeCom.secret(getenv); err != nil {
		return c, err
	}
	if err := c.Files.credentials(getenv); err != nil {
		return c, err
	}
	if err := c.LLM.key(getenv); err != nil {
		return c, err
	}
	if c.Files.Dir == "" {
		c.Files.Dir = filepath.Join(filepath.Dir(c.DBPath), "files")
	}
	c.AllowedOrigins = splitList(origins)
	c.Holidays, c.Workdays = splitList(holidays), splitList(workdays)
	c.TrustedProxies = splitList(proxies)
	if c.NodeID == "" {
		var b [3]byte
		rand.Read(b[:])
		c.NodeID = "n" + hex.EncodeToString(b[:])
	}
	return c, c.Validate()
}

// applyEnv sets each flag from its environment variable before the command
// line is parsed, so flags given explicitly still win.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		key := EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(key); v != "" && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", key, e)
			}
		}
	})
	return err
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, strings.TrimRight(p, "/"))
		}
	}
	return out
}

// Validate reports every setting that cannot work, all at once.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Addr != "", "--addr must not be empty")
	check(c.DBPath != "", "--db must not be empty")
	check(c.TokenTTL >= time.Minute, "--token-ttl must be at least 1m")
	check(c.StoreTimeout > 0, "--store-timeout must be positive")
	check(c.PingInterval >= 10*time.Millisecond, "--ping-interval must be at least 10ms")
	check(c.MaxMessageBytes >= 256, "--max-message-bytes must be at least 256")
	check(c.SendQueueBytes >= 1024, "--send-queue-bytes must be at least 1024")
	check(c.MsgRate > 0, "--msg-rate must be positive")
	check(c.MsgBurst >= 1, "--msg-burst must be at least 1")
	check(c.ShutdownTimeout > 0, "--shutdown-timeout must be positive")
	check(c.TokenRecheck >= 10*time.Millisecond, "--token-recheck must be at least 10ms")
	check(c.MaxSocketsPerUser >= 1 && c.MaxSocketsPerAddr >= 1, "--max-sockets-per-user and --max-sockets-per-addr must be at least 1")
	check(c.MaxOpenConversations >= 1 && c.NewConversationsHour > 0, "--max-open-conversations and --new-conversations-per-hour must be positive")
	check(c.MaxBodyBytes >= 1 && int64(c.MaxBodyBytes) < c.MaxMessageBytes, "--max-body-bytes must be positive and below --max-message-bytes")
	check(len(c.NodeID) <= 32 && strings.Trim(c.NodeID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "",
		"--node-id must be at most 32 letters, digits or - _ .")
	check(c.APIKey == "" || len(c.APIKey) >= MinAPIKeyBytes,
		"the API key must be at least %d bytes (32 random bytes, e.g. from openssl rand -hex 32)", MinAPIKeyBytes)
	check(validLevel(c.LogLevel), "--log-level must be debug, info, warn or error")
	check(c.LogFormat == "text" || c.LogFormat == "json", "--log-format must be text or json")
	for _, p := range c.TrustedProxies {
		_, errA := netip.ParseAddr(p)
		_, errP := netip.ParsePrefix(p)
		check(errA == nil || errP == nil, "--trusted-proxies: %q is not an address or a CIDR range", p)
	}
	for _, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "",
			"--allowed-origins: %q is not an origin like https://desk.example.com", o)
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		check(err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql"), "--database-url must be a postgres:// URL")
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		check(err == nil && (u.Scheme == "redis" || u.Scheme == "rediss"), "--redis-url must be a redis:// or rediss:// URL")
	}
	if err := c.WeCom.validate(c.Dev); err != nil {
		errs = append(errs, err)
	}
	if err := c.LLM.validate(); err != nil {
		errs = append(errs, err)
	}
	check(c.RetentionDays >= 0, "--retention-days must not be negative")
	check(c.PendingResolveDays >= 0, "--pending-resolve-days must not be negative")
	if err := c.Files.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validLevel(s string) bool {
	switch s {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}
