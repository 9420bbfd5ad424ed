package gateway

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/hub"
	"github.com/servicedesk/servicedesk/internal/tokenstore"
	"github.com/servicedesk/servicedesk/internal/wire"
)

// stores returns every token-store implementation the gateway runs on here.
func stores(t *testing.T) map[string]func(t *testing.T) desk.TokenStore {
	return map[string]func(t *testing.T) desk.TokenStore{
		"memory": func(t *testing.T) desk.TokenStore { return tokenstore.NewMemory(nil) },
		"redis": func(t *testing.T) desk.TokenStore {
			client, err := tokenstore.OpenRedis(redisURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			return tokenstore.NewRedis(client, time.Second)
		},
	}
}

func TestTokenSources(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			d := newTestDesk(t, open(t))
			tok := d.login(desk.RoleAgent, "a1")
			cases := []struct {
				name         string
				url          string
				subprotocols []string
				header       http.Header
				wantProto    string
			}{
				{"subprotocol", d.url(desk.RoleAgent, "a1"), []string{"bearer." + tok}, nil, "bearer." + tok},
				{"subprotocol among others", d.url(desk.RoleAgent, "a1"), []string{"v1.json", "bearer." + tok}, nil, "bearer." + tok},
				{"authorization header", d.url(desk.RoleAgent, "a1"), nil, http.Header{"Authorization": {"Bearer " + tok}}, ""},
				{"query parameter", d.url(desk.RoleAgent, "a1") + "?token=" + tok, nil, nil, ""},
				{"subprotocol wins over a wrong header", d.url(desk.RoleAgent, "a1"), []string{"bearer." + tok},
					http.Header{"Authorization": {"Bearer wrong"}}, "bearer." + tok},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c, resp, err := d.dialWith(tc.url, tc.subprotocols, tc.header)
					if err != nil {
						t.Fatalf("dial: %v", err)
					}
					if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != tc.wantProto {
						t.Errorf("selected subprotocol = %q, want %q", got, tc.wantProto)
					}
					c.send(`{"type":"ping"}`)
					if m := c.next(); m["type"] != "pong" {
						t.Errorf("got %v, want pong", m)
					}
				})
			}
		})
	}
}

func TestRejections(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			d := newTestDesk(t, open(t))
			agentTok := d.login(desk.RoleAgent, "a1")
			empTok := d.login(desk.RoleEmployee, "e1")
			cases := []struct {
				name   string
				role   desk.Role
				id     string
				offer  []string
				query  string
				reason string
			}{
				{"no token", desk.RoleAgent, "a1", nil, "", wire.ReasonMissingToken},
				{"empty bearer offer", desk.RoleAgent, "a1", []string{"bearer."}, "", wire.ReasonMissingToken},
				{"unknown token", desk.RoleAgent, "a1", []string{"bearer.nope"}, "", wire.ReasonInvalidToken},
				{"employee token on agent endpoint", desk.RoleAgent, "e1", []string{"bearer." + empTok}, "", wire.ReasonInvalidToken},
				{"another agent's token", desk.RoleAgent, "a2", []string{"bearer." + agentTok}, "", wire.ReasonAgentMismatch},
				{"another employee's token", desk.RoleEmployee, "e2", []string{"bearer." + empTok}, "", wire.ReasonEmployeeMismatch},
				{"invalid query token", desk.RoleEmployee, "e1", nil, "?token=nope", wire.ReasonInvalidToken},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c, _, err := d.dialWith(d.url(tc.role, tc.id)+tc.query, tc.offer, nil)
					if err != nil {
						t.Fatalf("handshake must complete before the 4001 close: %v", err)
					}
					code, reason := c.closed()
					if code != wire.CloseUnauthorized || reason != tc.reason {
						t.Errorf("closed with %d %q, want %d %q", code, reason, wire.CloseUnauthorized, tc.reason)
					}
				})
			}
			if n := d.hub.Count(); n != 0 {
				t.Errorf("%d rejected connections registered", n)
			}
			if !strings.Contains(d.logs.String(), "websocket rejected") {
				t.Error("rejections are not logged")
			}
		})
	}
}

func TestQueryTokenCanBeDisabled(t *testing.T) {
	d := newTestDesk(t, nil, func(o *Options, _ *hub.Options) { o.AllowQueryToken = false })
	tok := d.login(desk.RoleAgent, "a1")
	c, _, err := d.dialWith(d.url(desk.RoleAgent, "a1")+"?token="+tok, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := c.closed(); code != wire.CloseUnauthorized || reason != wire.ReasonMissingToken {
		t.Errorf("closed with %d %q, want 4001 %q", code, reason, wire.ReasonMissingToken)
	}
}

// TestStoreFailureFailsClosed points a Redis token store at a dead address
// and at a server that accepts but never answers: both must refuse with the
// seed's reason, promptly, and let nobody in.
func TestStoreFailureFailsClosed(t *testing.T) {
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hung.Close() })
	go func() {
		for {
			conn, err := hung.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() }) // hold it open, never answer
		}
	}()
	for name, addr := range map[string]string{"refused": "127.0.0.1:1", "hung": hung.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			client, err := tokenstore.OpenRedis("redis://" + addr + "/0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			d := newTestDesk(t, tokenstore.NewRedis(client, 300*time.Millisecond))
			start := time.Now()
			c, _, err := d.dialWith(d.url(desk.RoleAgent, "a1"), []string{"bearer.some-token"}, nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			code, reason := c.closed()
			if code != wire.CloseUnauthorized || reason != wire.ReasonStoreUnavailable {
				t.Errorf("closed with %d %q, want 4001 %q", code, reason, wire.ReasonStoreUnavailable)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("refusal took %v; a hung store must fail closed within its timeout", took)
			}
			if d.hub.Count() != 0 {
				t.Error("a connection was registered without a token check")
			}
		})
	}
}

func TestOrigin(t *testing.T) {
	cases := []struct {
		name    string
		dev     bool
		allowed []string
		origin  string
		want    int
	}{
		{"no origin (non-browser)", false, nil, "", http.StatusSwitchingProtocols},
		{"listed origin", false, []string{"https://desk.example.com"}, "https://desk.example.com", http.StatusSwitchingProtocols},
		{"unlisted origin", false, []string{"https://desk.example.com"}, "https://evil.example.com", http.StatusForbidden},
		{"localhost outside dev", false, nil, "http://localhost:5173", http.StatusForbidden},
		{"localhost in dev", true, nil, "http://localhost:5173", http.StatusSwitchingProtocols},
		{"loopback ip in dev", true, nil, "http://127.0.0.1:3000", http.StatusSwitchingProtocols},
		{"garbage origin", true, nil, "::::", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDesk(t, nil, func(o *Options, _ *hub.Options) {
				o.Dev, o.AllowedOrigins = tc.dev, tc.allowed
			})
			tok := d.login(desk.RoleAgent, "a1")
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			_, resp, _ := d.dialWith(d.url(desk.RoleAgent, "a1"), []string{"bearer." + tok}, h)
			if resp == nil || resp.StatusCode != tc.want {
				t.Fatalf("status = %v, want %d", resp, tc.want)
			}
		})
	}
	t.Run("same origin as the server", func(t *testing.T) {
		d := newTestDesk(t, nil)
		tok := d.login(desk.RoleAgent, "a1")
		_, resp, err := d.dialWith(d.url(desk.RoleAgent, "a1"), []string{"bearer." + tok}, http.Header{"Origin": {d.srv.URL}})
		if err != nil {
			t.Fatalf("same-origin page refused: %v %v", err, resp)
		}
	})
	t.Run("same host, another scheme", func(t *testing.T) {
		d := newTestDesk(t, nil)
		tok := d.login(desk.RoleAgent, "a1")
		// The server is http: an https page on its host is not one of ours.
		other := "https://" + strings.TrimPrefix(d.srv.URL, "http://")
		_, resp, _ := d.dialWith(d.url(desk.RoleAgent, "a1"), []string{"bearer." + tok}, http.Header{"Origin": {other}})
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status = %v, want 403", resp)
		}
	})
}

// TestLookupHonoursContext makes sure the gateway's own timeout bounds a
// store that ignores nothing but takes long.
func TestLookupHonoursContext(t *testing.T) {
	d := newTestDesk(t, slowStore{}, func(o *Options, _ *hub.Options) { o.StoreTimeout = 100 * time.Millisecond })
	c, _, err := d.dialWith(d.url(desk.RoleAgent, "a1"), []string{"bearer.x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := c.closed(); code != wire.CloseUnauthorized || reason != wire.ReasonStoreUnavailable {
		t.Errorf("closed with %d %q", code, reason)
	}
}

// slowStore answers only when its context ends, like a store stuck on a
// lock; it is not a mock of Redis but of a store's worst manners.
type slowStore struct{ desk.TokenStore }

func (slowStore) Lookup(ctx context.Context, _ desk.Role, _ string) (string, error) {
	<-ctx.Done()
	return "", desk.Wrap(desk.EUnavailable, ctx.Err(), "token store unavailable")
}
