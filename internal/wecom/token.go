package wecom

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// TokenCache shares the access token between the desk's nodes, so a cluster
// asks WeCom for one token per lifetime rather than one per node (gettoken
// is rate limited, and every fetch of a new token is logged by WeCom).
//
// Contract: Get of a missing key returns ("", 0, nil). Set stores token for
// ttl. Delete removes the key only while it still holds token, so a node
// invalidating a stale token never deletes the fresh one another node just
// stored. Lock takes a short lease that only one node holds at a time; ok is
// false when another node holds it; release frees it if still held. Errors
// mean the cache itself failed: the client then fetches on its own rather
// than stop working. All methods are safe for concurrent use.
type TokenCache interface {
	Get(ctx context.Context, key string) (token string, ttl time.Duration, err error)
	Set(ctx context.Context, key, token string, ttl time.Duration) error
	Delete(ctx context.Context, key, token string) error
	Lock(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
}

const (
	// refreshTimeout bounds one refresh, cache and lock included. It runs
	// detached from the caller that started it, whose context may be short;
	// every waiter still leaves when its own context ends.
	refreshTimeout = 15 * time.Second
	// lockTTL is the refresh lease across nodes: a gettoken round trip plus
	// backoff fits well inside it, and a node that dies holding it blocks
	// the others no longer than this.
	lockTTL = 10 * time.Second
	// lockPoll is how often a node that did not get the lease looks for the
	// token the leaseholder stores.
	lockPoll = 100 * time.Millisecond
)

// tokenSource holds the app's access token: cached until shortly before it
// expires, refreshed by one flight at a time in this process, and through
// TokenCache by one node at a time in the cluster.
type tokenSource struct {
	c     *Client
	cache TokenCache
	key   string

	mu      sync.Mutex
	token   string
	expires time.Time
	bad     string // the last token WeCom rejected: never adopt it again from the cache
	flight  *flight
}

type flight struct {
	done  chan struct{}
	token string
	err   error
}

func newTokenSource(c *Client) *tokenSource {
	return &tokenSource{
		c:     c,
		cache: c.cfg.TokenCache,
		key:   "wecom:access_token:" + c.cfg.CorpID + ":" + strconv.FormatInt(c.cfg.AgentID, 10),
	}
}

// get returns a valid token, waiting for the one refresh in flight if
// there is none.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	if t.token != "" && t.c.cfg.Now().Before(t.expires) {
		tok := t.token
		t.mu.Unlock()
		return tok, nil
	}
	f := t.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		t.flight = f
		// Detached from the caller's cancellation (the others wait on it
		// too) but keeping its values, for the log handler.
		go t.refresh(context.WithoutCancel(ctx), f)
	}
	t.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", desk.Wrap(desk.EUnavailable, ctx.Err(), "WeCom is unreachable")
	}
}

// invalidate forgets bad, here and in the shared cache, unless a newer
// token already replaced it.
func (t *tokenSource) invalidate(ctx context.Context, bad string) {
	t.mu.Lock()
	if t.token == bad {
		t.token = ""
	}
	t.bad = bad
	t.mu.Unlock()
	if t.cache != nil {
		if err := t.cache.Delete(ctx, t.key, bad); err != nil {
			t.c.log.WarnContext(ctx, "wecom token cache delete failed", "error", err.Error())
		}
	}
}

func (t *tokenSource) refresh(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	tok, life, err := t.obtain(ctx)
	t.mu.Lock()
	if err == nil {
		t.token, t.expires = tok, t.c.cfg.Now().Add(life)
	}
	t.flight = nil
	t.mu.Unlock()
	f.token, f.err = tok, err
	close(f.done)
}

// obtain returns a token and how long to use it: from the shared cache when
// another node has one, otherwise from WeCom under the cluster's lease. A
// node without the lease polls the cache and retakes the lease if its
// holder gave up; past the lease's life it fetches on its own rather than
// fail.
func (t *tokenSource) obtain(ctx context.Context) (string, time.Duration, error) {
	if t.cache == nil {
		return t.fetch(ctx)
	}
	deadline := t.c.cfg.Now().Add(lockTTL)
	for {
		if tok, life, ok := t.cached(ctx); ok {
			return tok, life, nil
		}
		release, ok, err := t.cache.Lock(ctx, t.key+":lock", lockTTL)
		if err != nil {
			t.c.log.WarnContext(ctx, "wecom token cache unavailable, fetching without it", "error", err.Error())
			return t.fetch(ctx)
		}
		if ok {
			return t.fetchShared(ctx, release)
		}
		if !t.c.cfg.Now().Before(deadline) {
			return t.fetch(ctx)
		}
		if err := sleep(ctx, lockPoll); err != nil {
			return "", 0, desk.Wrap(desk.EUnavailable, err, "WeCom is unreachable")
		}
	}
}

// fetchShared fetches under the lease and stores the token for the other
// nodes.
func (t *tokenSource) fetchShared(ctx context.Context, release func()) (string, time.Duration, error) {
	defer release()
	// Another node may have stored a token between our look and our lease.
	if tok, life, ok := t.cached(ctx); ok {
		return tok, life, nil
	}
	tok, life, err := t.fetch(ctx)
	if err != nil {
		return "", 0, err
	}
	if err := t.cache.Set(ctx, t.key, tok, life); err != nil {
		t.c.log.WarnContext(ctx, "wecom token cache store failed", "error", err.Error())
	}
	return tok, life, nil
}

// cached reads the shared cache, skipping a token this node saw rejected.
func (t *tokenSource) cached(ctx context.Context) (string, time.Duration, bool) {
	tok, ttl, err := t.cache.Get(ctx, t.key)
	if err != nil {
		t.c.log.WarnContext(ctx, "wecom token cache read failed", "error", err.Error())
		return "", 0, false
	}
	t.mu.Lock()
	bad := t.bad
	t.mu.Unlock()
	if tok == "" || tok == bad || ttl <= 0 {
		return "", 0, false
	}
	return tok, ttl, true
}

// fetch asks WeCom for a new token (GET /cgi-bin/gettoken) and returns it
// with its usable lifetime: expires_in less the margin.
func (t *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	q := url.Values{"corpid": {t.c.cfg.CorpID}, "corpsecret": {t.c.cfg.Secret.reveal()}}
	if err := t.c.do(ctx, http.MethodGet, "/cgi-bin/gettoken", q, nil, &out); err != nil {
		return "", 0, err
	}
	if out.AccessToken == "" || out.ExpiresIn <= 0 {
		return "", 0, desk.Errorf(desk.EUnavailable, "WeCom answered gettoken without a token")
	}
	ttl := time.Duration(out.ExpiresIn) * time.Second
	life := ttl - min(t.c.cfg.TokenMargin, ttl/2)
	t.c.log.InfoContext(ctx, "wecom access token fetched", "expires_in", out.ExpiresIn)
	return out.AccessToken, life, nil
}
