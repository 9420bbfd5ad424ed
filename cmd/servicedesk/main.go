// Command servicedesk runs the IT service desk: the REST API, the WebSocket
// gateway and the web pages, in one process.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // the desk's time zone must resolve on hosts without a zone database

	"github.com/redis/go-redis/v9"
	"golang.org/x/term"

	"github.com/servicedesk/servicedesk/internal/attachment"
	"github.com/servicedesk/servicedesk/internal/audit"
	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/canned"
	"github.com/servicedesk/servicedesk/internal/config"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/filestore"
	"github.com/servicedesk/servicedesk/internal/firstline"
	"github.com/servicedesk/servicedesk/internal/gateway"
	"github.com/servicedesk/servicedesk/internal/health"
	"github.com/servicedesk/servicedesk/internal/httpapi"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/kb"
	"github.com/servicedesk/servicedesk/internal/limits"
	"github.com/servicedesk/servicedesk/internal/metrics"
	"github.com/servicedesk/servicedesk/internal/notify"
	"github.com/servicedesk/servicedesk/internal/presence"
	"github.com/servicedesk/servicedesk/internal/reports"
	"github.com/servicedesk/servicedesk/internal/retention"
	"github.com/servicedesk/servicedesk/internal/settings"
	"github.com/servicedesk/servicedesk/internal/sla"
	"github.com/servicedesk/servicedesk/internal/staff"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
	"github.com/servicedesk/servicedesk/internal/web"
	"github.com/servicedesk/servicedesk/internal/wire"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "servicedesk:", err)
		os.Exit(1)
	}
}

// run is the composition root: it parses the settings, builds every part and
// serves until ctx ends. End-to-end tests call it exactly as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) >= 2 && args[0] == "agent" && args[1] == "add" {
		return runAgentAdd(ctx, args[2:], getenv, stdin, stdout, stderr)
	}
	if len(args) >= 1 && args[0] == "wecom-fake" {
		return runWeComFake(ctx, args[1:], stdout, stderr)
	}
	cfg, err := config.Parse("servicedesk", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr).With("node", cfg.NodeID)
	n, err := newNode(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer n.close()
	return n.serve(ctx, stdout)
}

// node is one running servicedesk process and everything it owns.
type node struct {
	cfg       config.Config
	log       *slog.Logger
	obs       *metrics.Metrics
	db        storage
	redis     *redis.Client // nil without --redis-url
	redisBus  *bus.Redis    // nil without --redis-url
	tokens    desk.TokenStore
	hub       *hub.Hub
	gateway   *gateway.Gateway
	bus       desk.Bus
	presence  presence.Tracker
	desks     *conversation.Service
	notifier  *notify.Sender // nil without WeCom
	files     *attachment.Service
	retention *retention.Service
	settings  *settings.Service
	sla       *sla.Service
	kb        *kb.Service
	assistant *firstline.Service // not Enabled without --llm-base-url
	health    *health.Health
	handler   http.Handler
}

// newNode opens the stores and wires the parts together. Nothing runs yet.
func newNode(ctx context.Context, cfg config.Config, log *slog.Logger) (*node, error) {
	n := &node{cfg: cfg, log: log, obs: metrics.New(cfg.NodeID)}
	var err error
	if n.db, err = openStore(ctx, cfg.DBPath, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	if cfg.RedisURL != "" {
		// Redis is not pinged here: if it is down, handshakes fail closed
		// and everything recovers by itself when it returns.
		if n.redis, err = tokenstore.OpenRedis(cfg.RedisURL); err != nil {
			n.db.Close()
			return nil, fmt.Errorf("redis: %w", err)
		}
		redis.SetLogger(redisLogger{log})
		n.tokens = tokenstore.NewRedis(n.redis, cfg.StoreTimeout)
	} else {
		// Without Redis the database keeps the tokens (hashed), so a
		// restart signs nobody out.
		n.tokens = n.db.Tokens(nil)
	}
	tokens := n.obs.TokenStore(n.tokens)

	n.hub = hub.New(hub.Options{
		Node:           cfg.NodeID,
		SendQueueBytes: cfg.SendQueueBytes,
		PingInterval:   cfg.PingInterval,
		Observer:       n.obs,
		// A connection that missed an event reads it back with its own
		// access rights, exactly as a resume would.
		Fill: func(ctx context.Context, viewer desk.Principal, conv string, after int64) ([]hub.Replayed, bool, error) {
			return gateway.Replay(ctx, n.desks, viewer, conv, after)
		},
		OnAgentOnline: func(id string, online bool) {
			if online {
				n.presence.Connected(id)
				n.desks.DispatchSoon()
			} else {
				n.presence.Disconnected(id)
			}
		},
	}, log)
	deliver := func(ev desk.Event) { n.hub.Deliver(ev) }
	checks := []health.Check{{Name: "database", Run: n.db.Ping}}
	popts := presence.Options{OnChange: func() { n.desks.QueueChanged() }, Log: log}
	if n.redis != nil {
		n.redisBus = bus.NewRedis(n.redis, bus.RedisOptions{
			NodeID: cfg.NodeID, Log: log,
			// A deaf node would miss other nodes' events: send its clients
			// to reconnect (here when Redis is back, or to another node) and
			// resume from the database.
			OnLost: func(err error) {
				log.Error("event bus lost; closing connections", "error", err)
				n.hub.CloseAll(wire.CloseServiceRestart, wire.ReasonBusUnavailable)
			},
			OnRecovered: func() { log.Info("event bus recovered") },
			OnReceive:   n.obs.BusTrip,
		}, deliver)
		n.bus = n.obs.Bus(n.redisBus)
		n.presence = presence.NewRedis(n.redis, n.bus, presence.RedisOptions{Options: popts, NodeID: cfg.NodeID})
		checks = append(checks,
			health.Check{Name: "token_store", Run: n.tokens.(*tokenstore.Redis).Ping},
			health.Check{Name: "bus", Run: n.redisBus.Check})
	} else {
		n.bus = n.obs.Bus(bus.NewMemory(deliver))
		n.presence = presence.NewMemory(n.bus, popts)
	}
	n.health = health.New(checks...)
	auditLog := audit.New(n.db, nil)
	if n.settings, err = deskSettings(ctx, cfg, n.db, auditLog, log); err != nil {
		n.close()
		return nil, err
	}
	n.sla = sla.NewService(n.db, n.db, auditLog, log)
	if err := n.sla.Load(ctx); err != nil {
		log.Warn("service-level policies unreadable; none apply until the next reload", "error", err)
	}
	if n.kb, err = kb.New(kb.Config{Store: n.db, Agents: n.db, Audit: auditLog, Images: n.db, Log: log}); err != nil {
		n.close()
		return nil, err
	}
	n.desks = conversation.New(conversation.Config{
		Store: timedStore{n.db, n.obs}, Agents: n.db, Bus: n.bus, Presence: n.presence, Log: log, MaxBodyBytes: cfg.MaxBodyBytes,
		// Between nodes a publish can fail or a node die after its commit:
		// the outbox makes sure the events get out all the same.
		Outbox: n.redisBus != nil, PublishWait: cfg.StoreTimeout, Writers: writers(cfg),
		NotifyDelay: notifyDelay(cfg), Reach: n.db, Attachments: n.db, MaxOpen: cfg.MaxOpenConversations, Schedule: schedule{n.settings}, Audit: auditLog,
		Policies: n.sla, SLAStore: n.db,
		PendingResolveDays: cfg.PendingResolveDays, SearchBackfill: n.db,
	})
	if n.assistant, err = newAssistant(cfg, n, log); err != nil {
		n.close()
		return nil, err
	}
	if n.files, err = openFiles(ctx, cfg, n.db, log); err != nil {
		n.close()
		return nil, err
	}
	authCfg := auth.Config{Agents: n.db, Tokens: n.tokens, Bus: n.bus, TokenTTL: cfg.TokenTTL, Log: log}
	if n.redis != nil {
		authCfg.Redis = n.redis // login failures count on every node together
	}
	authSvc := auth.New(authCfg)
	if cfg.Dev {
		if err := authSvc.EnsureDemoAgent(ctx); err != nil {
			n.close()
			return nil, fmt.Errorf("create demo agent: %w", err)
		}
	} else if err := authSvc.DisableDemoAgent(ctx); err != nil {
		n.close()
		return nil, fmt.Errorf("disable demo agent: %w", err)
	}

	proxies, err := httpapi.ParseProxies(cfg.TrustedProxies)
	if err != nil {
		n.close()
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	// One budget per user for frames and REST writes, whatever the
	// number of their sockets.
	perUser := limits.NewBuckets(cfg.MsgRate, cfg.MsgBurst)
	mux := http.NewServeMux()
	n.gateway = gateway.New(gateway.Options{
		Frames:          perUser,
		SocketsPerUser:  limits.NewCounter[desk.Principal](cfg.MaxSocketsPerUser),
		SocketsPerAddr:  limits.NewCounter[string](cfg.MaxSocketsPerAddr),
		Dev:             cfg.Dev,
		AllowedOrigins:  cfg.AllowedOrigins,
		AllowQueryToken: cfg.AllowQueryToken,
		StoreTimeout:    cfg.StoreTimeout,
		PingInterval:    cfg.PingInterval,
		MaxMessageBytes: cfg.MaxMessageBytes,
		MsgRate:         cfg.MsgRate,
		MsgBurst:        cfg.MsgBurst,
		AgentDisabled:   authSvc.AgentDisabled,
		Accepting:       n.busHealthy,
		Observer:        n.obs,
		TokenRecheck:    cfg.TokenRecheck,
	}, tokens, n.bus, n.desks, n.hub, log)
	n.gateway.Routes(mux)
	n.retention = retention.New(retention.Config{
		Store: n.db, Files: n.files, Tokens: n.tokens, Audit: auditLog, Days: cfg.RetentionDays, Log: log,
	})
	api := &httpapi.API{
		Auth: authSvc, Tokens: tokens, StoreTimeout: cfg.StoreTimeout, Conversations: n.desks, Dev: cfg.Dev, Log: log,
		WeCom: cfg.WeCom.Enabled(), MaxBodyBytes: cfg.MaxBodyBytes, AgentDisabled: authSvc.AgentDisabled,
		Proxies: proxies, Writes: perUser, Creates: limits.NewBuckets(cfg.NewConversationsHour/3600, newConversationBurst),
		Files: n.files, UploadRate: limits.NewBuckets(uploadsPerMinute/60, desk.MaxAttachments+1),
		Canned: canned.New(n.db, n.db, auditLog, nil), Audit: auditLog, Staff: staff.New(n.db, authSvc, auditLog),
		Retention: n.retention, Settings: n.settings, SLA: n.sla, KB: n.kb, Assistant: n.assistant,
		Reports: reports.NewService(n.db, n.db, n.db, n.reportClock), ReportZone: func() *time.Location { z, _ := n.reportClock(); return z },
		Push: httpapi.Push{Key: cfg.APIKey, Bus: n.bus, Reach: n.hub.Reach,
			Participants: func(r *http.Request, id string) ([]desk.Principal, error) {
				return n.desks.ActiveParticipants(r.Context(), id)
			}},
	}
	api.Routes(mux)
	if cfg.WeCom.Enabled() {
		if err := n.wireWeCom(ctx, authSvc, mux, api); err != nil {
			n.close()
			return nil, err
		}
	}
	web.Routes(mux)
	n.health.Routes(mux)
	// Metrics tell who is connected and how busy the desk is: on the public
	// port only with the API key; without one, only on --metrics-addr.
	if r, ok := n.db.(interface{ Reruns() int64 }); ok {
		n.obs.StoreReruns(r.Reruns)
	}
	if cfg.APIKey != "" {
		mux.Handle("GET /metrics", api.RequireKey(n.obs.Handler()))
	}
	n.handler = httpapi.Logged(mux, log, proxies)
	return n, nil
}

// busHealthy says whether this node hears the other nodes; while it does
// not, new connections are turned away rather than left deaf.
func (n *node) busHealthy() bool { return n.redisBus == nil || n.redisBus.Healthy() }

// serve runs the node until ctx ends, then drains it: readiness fails, the
// listener closes, sockets are told to reconnect elsewhere (1012), and
// the writer finishes what it was given before the bus and stores close.
func (n *node) serve(ctx context.Context, stdout io.Writer) error {
	cfg, log := n.cfg, n.log
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           n.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
		msrv := &http.Server{Handler: n.obs.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	printBanner(stdout, cfg, ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "dev", cfg.Dev, "store", storeName(cfg))

	// Background parts stop in layers, each after what depends on it: the
	// hub and the writer first, then presence (its last sync announces
	// this node's agents offline), then the bus.
	var inner, outer group
	inner.Go(n.hub.Run)
	inner.Go(n.gateway.Run)
	inner.Go(n.desks.Run)
	if n.notifier != nil {
		inner.Go(n.notifier.Run)
	}
	inner.Go(n.files.Run)
	inner.Go(n.retention.Run)
	inner.Go(n.settings.Run)
	inner.Go(n.sla.Run)
	inner.Go(n.kb.Run)
	outer.Go(n.presence.Run)
	if n.redisBus != nil {
		outer.Go(func(ctx context.Context) { n.redisBus.Run(ctx) })
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		inner.Stop()
		outer.Stop()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("draining", "timeout", cfg.ShutdownTimeout.String())
	n.health.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	herr := srv.Shutdown(sctx) // stop accepting; finish in-flight requests
	werr := n.hub.Shutdown(sctx, wire.CloseServiceRestart, wire.ReasonServerRestarting)
	n.assistant.Close() // its answers need the writer: stop them first
	inner.Stop()
	outer.Stop()
	<-serveErr
	if err := errors.Join(herr, werr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func (n *node) close() {
	if n.redis != nil {
		n.redis.Close()
	}
	n.db.Close()
}

// group runs goroutines under one context and stops them together.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (g *group) Go(f func(context.Context)) {
	if g.ctx == nil {
		g.ctx, g.cancel = context.WithCancel(context.Background())
	}
	g.wg.Go(func() { f(g.ctx) })
}

func (g *group) Stop() {
	if g.cancel != nil {
		g.cancel()
	}
	g.wg.Wait()
}

// timedStore reports the desk's commits and hot reads to the metrics.
type timedStore struct {
	desk.ConversationStore
	obs *metrics.Metrics
}

func (s timedStore) Update(ctx context.Context, fn func(desk.ConversationTx) error) error {
	start := time.Now()
	err := s.ConversationStore.Update(ctx, fn)
	s.obs.StoreOp("commit", time.Since(start))
	return err
}

func (s timedStore) Events(ctx context.Context, id string, after int64, limit int, private bool) ([]desk.ConvEvent, error) {
	start := time.Now()
	evs, err := s.ConversationStore.Events(ctx, id, after, limit, private)
	s.obs.StoreOp("events", time.Since(start))
	return evs, err
}

func (s timedStore) ListConversations(ctx context.Context, q desk.ConversationQuery) ([]desk.ConversationSummary, error) {
	start := time.Now()
	rows, err := s.ConversationStore.ListConversations(ctx, q)
	s.obs.StoreOp("list", time.Since(start))
	return rows, err
}

// BatchSize passes on the store's choice of how many commands the writer
// commits at once (see conversation.Config.Store): hidden behind the
// wrapper, SQLite's writer would commit PostgreSQL's 64.
func (s timedStore) BatchSize() int {
	if b, ok := s.ConversationStore.(interface{ BatchSize() int }); ok {
		return b.BatchSize()
	}
	return 0
}

// redisLogger sends go-redis's own messages (reconnects, dial failures)
// to the structured log instead of bare stderr.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn("redis client", "detail", fmt.Sprintf(format, v...))
}

// storage is everything the desk keeps in its database.
type storage interface {
	desk.AgentStore
	desk.ConversationStore
	desk.NotificationStore
	AgentByWeComUserID(ctx context.Context, userID string) (desk.Agent, error)
	BindAgentWeCom(ctx context.Context, agentID, userID string) error
	AgentWeComUserID(ctx context.Context, agentID string) (string, error)
	WeComAgentIDs(ctx context.Context) ([]string, error)
	desk.AttachmentStore
	Secret(ctx context.Context, name string) ([]byte, error)
	canned.Store
	audit.Store
	staff.Store
	settings.Store
	sla.Store
	kb.Store
	kb.Images
	firstline.Store
	conversation.SLAStore
	reports.Store
	ResolvedBefore(ctx context.Context, before time.Time, limit int) ([]string, error)
	EmployeeConversationIDs(ctx context.Context, employeeID string) ([]string, error)
	PurgeConversation(ctx context.Context, id string, resolvedBefore time.Time) error
	DeleteEmployee(ctx context.Context, id string) error
	conversation.BackfillSource
	Tokens(now func() time.Time) desk.TokenStore
	Ping(ctx context.Context) error
	Close() error
}

// deskSettings holds the business hours and automatic replies: the
// flags' until an admin saves them in the console, the stored ones after.
func deskSettings(ctx context.Context, cfg config.Config, db storage, auditLog *audit.Log, log *slog.Logger) (*settings.Service, error) {
	s, err := settings.New(settings.Config{
		Store: db, Agents: db, Audit: auditLog, Log: log,
		Defaults: settings.Schedule{
			Enabled: cfg.BusinessHours != "", Week: cfg.BusinessHours, TimeZone: cfg.TimeZone,
			Holidays: cfg.Holidays, Workdays: cfg.Workdays,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("--business-hours, --time-zone, --holidays, --workdays: %w", err)
	}
	if err := s.Load(ctx); err != nil {
		log.Warn("stored settings unreadable; the flags apply", "error", err)
	}
	return s, nil
}

// reportClock is the desk's time zone and working time as the reports
// count them: the business hours in force, or the configured zone and
// calendar time when the desk keeps none.
func (n *node) reportClock() (*time.Location, reports.WorkingTime) {
	if c := n.settings.Hours(); c != nil {
		return c.Location(), c
	}
	if z, err := time.LoadLocation(n.cfg.TimeZone); err == nil {
		return z, nil
	}
	return time.FixedZone("CST", 8*3600), nil
}

// schedule lets the conversations read the settings in force.
type schedule struct{ s *settings.Service }

func (s schedule) Hours() conversation.Hours {
	if c := s.s.Hours(); c != nil {
		return c
	}
	return nil // not a typed nil: no hours means always open
}

func (s schedule) NoticeText(kind string) map[string]string { return s.s.NoticeText(kind) }

// uploadsPerMinute is one person's upload budget: a message's nine
// screenshots at once, a steady one every few seconds after.
const uploadsPerMinute = 20

// openFiles opens where attachments' bytes go (the S3 bucket, or the
// directory beside the database) and the service that takes uploads.
func openFiles(ctx context.Context, cfg config.Config, db storage, log *slog.Logger) (*attachment.Service, error) {
	var files attachment.Files
	if cfg.Files.S3Endpoint != "" {
		s3, err := filestore.OpenS3(ctx, filestore.S3Config{
			Endpoint: cfg.Files.S3Endpoint, Bucket: cfg.Files.S3Bucket, Region: cfg.Files.S3Region,
			AccessKey: cfg.Files.S3AccessKey, SecretKey: cfg.Files.S3SecretKey,
		})
		if err != nil {
			return nil, err
		}
		files = s3
	} else {
		dir, err := filestore.OpenDir(cfg.Files.Dir)
		if err != nil {
			return nil, err
		}
		files = dir
	}
	return attachment.New(ctx, attachment.Config{
		Files: files, Store: db, MaxBytes: cfg.Files.MaxBytes, DailyQuota: cfg.Files.DailyQuota, Log: log,
	})
}

// openStore opens PostgreSQL when a URL is given, else the SQLite file.
func openStore(ctx context.Context, path, url string) (storage, error) {
	if url != "" {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return pgStorage{db}, nil
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// pgStorage gives the pool's Close the error result storage asks for.
type pgStorage struct{ *postgres.DB }

func (p pgStorage) Close() error { p.DB.Close(); return nil }

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newConversationBurst is how many conversations an employee may start
// at once before --new-conversations-per-hour paces them.
const newConversationBurst = 5

// writers is how many writer goroutines the desk runs: SQLite has one
// write connection, PostgreSQL overlaps several transactions.
func writers(cfg config.Config) int {
	if cfg.DatabaseURL != "" {
		return postgres.DefaultWriters
	}
	return 1
}

// storeName says where data and tokens live, for the start-up log line.
func storeName(cfg config.Config) string {
	data := "sqlite"
	if cfg.DatabaseURL != "" {
		data = "postgres"
	}
	tokens := data
	if cfg.RedisURL != "" {
		tokens = "redis"
	}
	return data + "+" + tokens
}

func printBanner(w io.Writer, cfg config.Config, addr net.Addr) {
	url := "http://" + displayAddr(addr)
	fmt.Fprintf(w, "servicedesk listening on %s\n", url)
	fmt.Fprintf(w, "  agent console: %s/agent/\n  employee page: %s/h5/\n", url, url)
	fmt.Fprintf(w, "  agents:    %s/ws/{agent_id}\n  employees: %s/ws/h5/{employee_id}\n", wsURL(url), wsURL(url))
	if cfg.Dev {
		fmt.Fprintf(w, "dev mode: log in as agent demo / demo:\n")
		fmt.Fprintf(w, "  curl -s %s/api/agents/login -H 'Content-Type: application/json' -d '{\"username\":\"demo\",\"password\":\"demo\"}'\n", url)
		fmt.Fprintf(w, "  employees: curl -s %s/api/h5/mock-login -H 'Content-Type: application/json' -d '{\"employee_id\":\"zhangsan\",\"name\":\"张三\"}'\n", url)
	}
}

func wsURL(httpURL string) string { return "ws" + strings.TrimPrefix(httpURL, "http") }

// displayAddr turns a wildcard listen address into one a person can open.
func displayAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// runAgentAdd creates an agent account in the configured database, so a
// real deployment needs no dev mode and no default credential.
func runAgentAdd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("servicedesk agent add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("username", "", "login name (required)")
	name := fs.String("name", "", "display name (required)")
	dbPath := fs.String("db", config.DefaultDBPath, "SQLite database file (also "+config.EnvPrefix+"DB)")
	dbURL := fs.String("database-url", "", "PostgreSQL URL instead of --db (also "+config.EnvPrefix+"DATABASE_URL)")
	wecomUser := fs.String("wecom-userid", "", "the WeCom member (userid) this agent signs in as with WeCom's QR login")
	admin := fs.Bool("admin", false, "make the agent an admin, who manages the desk from the console (the first one is made this way)")
	if v := getenv(config.EnvPrefix + "DB"); v != "" {
		*dbPath = v
	}
	*dbURL = getenv(config.EnvPrefix + "DATABASE_URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *username == "" || *name == "" {
		fs.Usage()
		return errors.New("agent add: --username and --name are required")
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return fmt.Errorf("agent add: %w", err)
	}
	db, err := openStore(ctx, *dbPath, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := auth.New(auth.Config{Agents: db, Log: slog.New(slog.NewTextHandler(stderr, nil))})
	a, err := svc.CreateAgent(ctx, *username, *name, password)
	if err != nil {
		return fmt.Errorf("agent add: %w", err)
	}
	if *wecomUser != "" {
		if err := db.BindAgentWeCom(ctx, a.ID, *wecomUser); err != nil {
			return fmt.Errorf("agent add: bind WeCom member: %w", err)
		}
	}
	role := desk.AgentRoleAgent
	if *admin {
		if err := db.SetAgentRole(ctx, a.ID, desk.AgentRoleAdmin); err != nil {
			return fmt.Errorf("agent add: make admin: %w", err)
		}
		role = desk.AgentRoleAdmin
	}
	fmt.Fprintf(stdout, "created %s %s (username %s, id %s)\n", role, a.Name, a.Username, a.ID)
	return nil
}

// readPassword prompts without echo on a terminal and reads one line
// otherwise, so scripts can pipe the password in.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(pw), err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
