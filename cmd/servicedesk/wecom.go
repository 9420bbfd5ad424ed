package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/servicedesk/servicedesk/internal/auth"
	"github.com/servicedesk/servicedesk/internal/config"
	"github.com/servicedesk/servicedesk/internal/httpapi"
	"github.com/servicedesk/servicedesk/internal/notify"
	"github.com/servicedesk/servicedesk/internal/signin"
	"github.com/servicedesk/servicedesk/internal/wecom"
	"github.com/servicedesk/servicedesk/internal/wecom/wecomfake"
)

// notifyDelay is when cards about events fall due; 0 (none owed) without
// WeCom.
func notifyDelay(cfg config.Config) time.Duration {
	if !cfg.WeCom.Enabled() {
		return 0
	}
	return cfg.WeCom.NotifyDelay
}

// wireWeCom adds WeCom sign-in to mux and sets up the card sender.
func (n *node) wireWeCom(ctx context.Context, authSvc *auth.Service, mux *http.ServeMux, api *httpapi.API) error {
	client, si, err := n.signIn(ctx, authSvc)
	if err != nil {
		return err
	}
	si.Routes(mux)
	api.Profiles = si // before the server starts, so no request reads it half-set
	n.notifier = notify.New(notify.Config{
		Store: n.db, Cards: client, Presence: n.presence, Conns: n.hub,
		PublicURL: n.cfg.WeCom.PublicURL, Log: n.log,
	})
	return nil
}

// signIn builds WeCom sign-in: the API client (its access token shared
// through Redis when there is one), signed single-use OAuth states and
// one-time tickets, on Redis with several nodes and in process otherwise.
func (n *node) signIn(ctx context.Context, authSvc *auth.Service) (*wecom.Client, *signin.Service, error) {
	cfg := n.cfg.WeCom
	wc := wecom.Config{
		CorpID: cfg.CorpID, AgentID: cfg.AgentID, Secret: wecom.Secret(cfg.Secret),
		APIBase: cfg.APIBase, OAuthBase: cfg.OAuthBase, SSOBase: cfg.SSOBase, Logger: n.log,
	}
	var nonces wecom.NonceStore = wecom.NewMemoryNonces(nil)
	var tickets signin.Tickets = signin.NewMemoryTickets()
	if n.redis != nil {
		wc.TokenCache = wecom.NewRedisTokenCache(n.redis)
		nonces = wecom.NewRedisNonces(n.redis)
		tickets = signin.NewRedisTickets(n.redis)
	}
	client, err := wecom.New(wc)
	if err != nil {
		return nil, nil, fmt.Errorf("wecom: %w", err)
	}
	states, err := wecom.NewStates(wecom.StateKeyFromSecret(wc.Secret), 0, nonces, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("wecom: %w", err)
	}
	// A wrong secret or an untrusted IP is said at start, naming the
	// setting, rather than at the first employee's sign-in; WeCom being
	// unreachable right now does not keep the desk from starting.
	if err := client.Check(ctx); err != nil {
		if ce, ok := wecom.AsConfigError(err); ok {
			n.log.Error("WeCom misconfigured", "setting", ce.Setting, "error", err)
		} else {
			n.log.Warn("WeCom not reachable at start", "error", err)
		}
	}
	return client, signin.New(signin.Config{
		WeCom: client, States: states, Tickets: tickets, Issuer: authSvc, Employees: n.desks,
		Agents: n.db, Provision: authSvc, AgentDepartment: cfg.AgentDepartment,
		PublicURL: cfg.PublicURL, Log: n.log,
	}), nil
}

// runWeComFake serves a fake WeCom with a demo company on a loopback port,
// so the whole sign-in can be tried on one machine (README, "WeCom").
func runWeComFake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("servicedesk wecom-fake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8900", "listen address of the fake WeCom")
	if err := fs.Parse(args); err != nil {
		return err
	}
	err := wecomfake.Run(ctx, *addr, stdout, slog.New(slog.NewTextHandler(stderr, nil)))
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
