package signin

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Session is what a finished sign-in hands the page: its token and who it
// belongs to.
type Session struct {
	Role      desk.Role `json:"role"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Token     string    `json:"token"`
	ExpiresIn int64     `json:"expires_in"` // seconds
}

// Tickets hold a finished sign-in for the page to collect once. The
// browser comes back from WeCom by a redirect, and a token must never ride
// in a URL (history, proxies, referrers): the redirect carries a one-time
// ticket in its fragment instead, and the page trades it for the session.
//
// Contract: Take returns the session put under ticket once, and ENotFound
// for a ticket unknown, taken or expired; a failure of the store itself is
// EUnavailable.
type Tickets interface {
	Put(ctx context.Context, ticket string, s Session, ttl time.Duration) error
	Take(ctx context.Context, ticket string) (Session, error)
}

var errNoTicket = desk.Errorf(desk.ENotFound, "sign-in ticket unknown, used or expired; sign in again")

// MemoryTickets keeps tickets in this process: enough for one node, where
// the callback and the page's exchange reach the same process.
type MemoryTickets struct {
	mu  sync.Mutex
	m   map[string]memTicket
	now func() time.Time
}

type memTicket struct {
	s       Session
	expires time.Time
}

// NewMemoryTickets returns an empty ticket store.
func NewMemoryTickets() *MemoryTickets {
	return &MemoryTickets{m: map[string]memTicket{}, now: time.Now}
}

// Put stores s under ticket, dropping expired tickets on the way.
func (t *MemoryTickets) Put(_ context.Context, ticket string, s Session, ttl time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, v := range t.m {
		if !now.Before(v.expires) {
			delete(t.m, k)
		}
	}
	t.m[ticket] = memTicket{s: s, expires: now.Add(ttl)}
	return nil
}

// Take returns and forgets the session under ticket.
func (t *MemoryTickets) Take(_ context.Context, ticket string) (Session, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[ticket]
	delete(t.m, ticket)
	if !ok || !t.now().Before(v.expires) {
		return Session{}, errNoTicket
	}
	return v.s, nil
}

// RedisTickets keep tickets in Redis, so a page can collect its session
// from any node: GETDEL makes the collection single.
type RedisTickets struct{ client redis.UniversalClient }

// NewRedisTickets returns a ticket store on client.
func NewRedisTickets(client redis.UniversalClient) *RedisTickets {
	return &RedisTickets{client: client}
}

func ticketKey(ticket string) string { return "servicedesk:signin:" + ticket }

// Put stores s under ticket for ttl.
func (t *RedisTickets) Put(ctx context.Context, ticket string, s Session, ttl time.Duration) error {
	b, err := json.Marshal(s)
	if err != nil {
		return desk.Wrap(desk.EInternal, err, "encode session")
	}
	if err := t.client.Set(ctx, ticketKey(ticket), b, ttl).Err(); err != nil {
		return desk.Wrap(desk.EUnavailable, err, "sign-in store unavailable")
	}
	return nil
}

// Take returns and deletes the session under ticket.
func (t *RedisTickets) Take(ctx context.Context, ticket string) (Session, error) {
	b, err := t.client.GetDel(ctx, ticketKey(ticket)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, errNoTicket
	}
	if err != nil {
		return Session{}, desk.Wrap(desk.EUnavailable, err, "sign-in store unavailable")
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return Session{}, desk.Wrap(desk.EInternal, err, "decode session")
	}
	return s, nil
}
