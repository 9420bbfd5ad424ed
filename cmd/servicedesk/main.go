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

	"golang.org/x/term"

	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/bus"
	"github.com/servicedesk/servicedesk/internal/config"
	"github.com/servicedesk/servicedesk/internal/conversation"
	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/gateway"
	"github.com/servicedesk/servicedesk/internal/httpapi"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/store/postgres"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
	"github.com/servicedesk/servicedesk/internal/web"
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
	cfg, err := config.Parse("servicedesk", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	db, err := openStore(ctx, cfg.DBPath, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()

	tokens, closeTokens, err := openTokenStore(cfg)
	if err != nil {
		return err
	}
	defer closeTokens()

	var desks *conversation.Service // the hub reports agents coming online to it
	h := hub.New(hub.Options{
		SendQueueBytes:  cfg.SendQueueBytes,
		PingInterval:    cfg.PingInterval,
		OnAgentsChanged: func() { desks.QueueChanged() },
	}, log)
	events := bus.NewMemory(func(ev desk.Event) { h.Deliver(ev) })
	desks = conversation.New(conversation.Config{
		Store: db, Agents: db, Bus: events, AgentsOnline: h.AgentsOnline, Log: log, MaxBodyBytes: cfg.MaxBodyBytes,
	})
	authSvc := auth.New(auth.Config{Agents: db, Tokens: tokens, Bus: events, TokenTTL: cfg.TokenTTL, Log: log})
	if cfg.Dev {
		if err := authSvc.EnsureDemoAgent(ctx); err != nil {
			return fmt.Errorf("create demo agent: %w", err)
		}
	}

	mux := http.NewServeMux()
	gateway.New(gateway.Options{
		Dev:             cfg.Dev,
		AllowedOrigins:  cfg.AllowedOrigins,
		AllowQueryToken: cfg.AllowQueryToken,
		StoreTimeout:    cfg.StoreTimeout,
		PingInterval:    cfg.PingInterval,
		MaxMessageBytes: cfg.MaxMessageBytes,
		MsgRate:         cfg.MsgRate,
		MsgBurst:        cfg.MsgBurst,
		AgentDisabled:   db.AgentDisabled,
	}, tokens, events, desks, h, log).Routes(mux)
	(&httpapi.API{
		Auth: authSvc, Tokens: tokens, StoreTimeout: cfg.StoreTimeout, Conversations: desks, Dev: cfg.Dev, Log: log,
		Push: httpapi.Push{Key: cfg.APIKey, Bus: events, Reach: h.Reach,
			Participants: func(r *http.Request, id string) ([]desk.Principal, error) {
				return desks.ActiveParticipants(r.Context(), id)
			}},
	}).Routes(mux)

	web.Routes(mux)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printBanner(stdout, cfg, ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "dev", cfg.Dev, "token_store", storeName(cfg))

	// The hub and the desk's writer outlive ctx: they stop only after the
	// servers have, so in-flight requests still commit.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	var background sync.WaitGroup
	background.Add(2)
	go func() { defer background.Done(); h.Run(bgCtx) }()
	go func() { defer background.Done(); desks.Run(bgCtx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Stop accepting first, so no handshake lands after the hub has closed.
	herr := srv.Shutdown(sctx)
	werr := h.Shutdown(sctx, hub.CloseServiceRestart, "server restarting")
	stopBackground()
	background.Wait()
	<-serveErr
	if err := errors.Join(herr, werr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// storage is everything the desk keeps in its database.
type storage interface {
	desk.AgentStore
	desk.ConversationStore
	Close() error
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

// openTokenStore picks Redis when configured, else the in-process store.
// Redis is not pinged here: if it is down, handshakes fail closed and
// recover by themselves when it returns.
func openTokenStore(cfg config.Config) (desk.TokenStore, func(), error) {
	if cfg.RedisURL == "" {
		return tokenstore.NewMemory(nil), func() {}, nil
	}
	client, err := tokenstore.OpenRedis(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	return tokenstore.NewRedis(client, cfg.StoreTimeout), func() { client.Close() }, nil
}

func storeName(cfg config.Config) string {
	if cfg.RedisURL != "" {
		return "redis"
	}
	return "memory"
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
	fmt.Fprintf(stdout, "created agent %s (username %s, id %s)\n", a.Name, a.Username, a.ID)
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
