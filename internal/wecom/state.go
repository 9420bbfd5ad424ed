package wecom

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// DefaultStateTTL is how long a login may take from redirect to callback.
// WeCom's code itself lives five minutes after the member approves; ten
// covers a slow QR scan before that, and no more is needed.
const DefaultStateTTL = 10 * time.Minute

// MinStateKeyBytes is the shortest signing key States accepts.
const MinStateKeyBytes = 32

const (
	nonceBytes = 16
	macBytes   = 16 // HMAC-SHA256 truncated to 128 bits: forging it is still 2^128 work
	stateBytes = nonceBytes + 8 + macBytes
	// maxReturnPath bounds the deep link a state is bound to.
	maxReturnPath = 1024
)

// stateEncoding is base32 without padding: A–Z and 2–7 only. WeCom allows
// a state of at most 128 bytes of a-zA-Z0-9; ours is 64 characters.
var stateEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// State errors, for errors.Is.
var (
	ErrStateInvalid  = errors.New("wecom: the login state is malformed or forged")
	ErrStateExpired  = errors.New("wecom: the login state has expired")
	ErrStateReplayed = errors.New("wecom: the login state was already used")
	ErrBadReturnPath = errors.New("wecom: the return path is not a same-origin relative path")
)

// NonceStore remembers the nonces of states already used, for as long as
// they could still be valid. Claim returns true the first time a nonce is
// claimed and false every later time within ttl; it is safe for concurrent
// use, and across nodes when it is shared (RedisNonces).
type NonceStore interface {
	Claim(ctx context.Context, nonce string, ttl time.Duration) (bool, error)
}

// States issues and checks the OAuth state of the login round trips: a
// random nonce, an expiry and an HMAC-SHA256 over both and the return path.
//
// The return path (the deep link to land on after signing in) travels in
// the redirect_uri, for example https://desk.example/h5/auth/callback?next=/h5/c/42,
// and WeCom hands it back untouched; the state binds it, so a callback
// whose next was changed is refused like a forged state. This keeps the
// state within WeCom's 128 alphanumeric characters whatever the path.
type States struct {
	key   []byte
	ttl   time.Duration
	store NonceStore
	now   func() time.Time
}

// NewStates returns States signing with key (at least MinStateKeyBytes; every
// node of a cluster needs the same one), valid for ttl (DefaultStateTTL if
// zero), single use through store. now defaults to time.Now.
func NewStates(key []byte, ttl time.Duration, store NonceStore, now func() time.Time) (*States, error) {
	if len(key) < MinStateKeyBytes {
		return nil, desk.Errorf(desk.EInvalid, "wecom: the state key must be at least %d bytes", MinStateKeyBytes)
	}
	if store == nil {
		return nil, desk.Errorf(desk.EInvalid, "wecom: a nonce store is required")
	}
	if ttl <= 0 {
		ttl = DefaultStateTTL
	}
	if now == nil {
		now = time.Now
	}
	return &States{key: append([]byte(nil), key...), ttl: ttl, store: store, now: now}, nil
}

// StateKeyFromSecret derives a state signing key from the app secret, so
// every node of a cluster shares one without another setting to deploy. The
// derivation is one-way: the key reveals nothing of the secret, and
// rotating the secret rotates the key (logins in flight then restart once).
func StateKeyFromSecret(secret Secret) []byte {
	m := hmac.New(sha256.New, []byte(secret.reveal()))
	m.Write([]byte("servicedesk/wecom/state-key/v1"))
	return m.Sum(nil)
}

// Issue returns a new state bound to returnPath, which must be a
// same-origin relative path (ValidReturnPath).
func (s *States) Issue(returnPath string) (string, error) {
	if !ValidReturnPath(returnPath) {
		return "", desk.Wrap(desk.EInvalid, ErrBadReturnPath, "the return path must be a path on this site")
	}
	var b [stateBytes]byte
	if _, err := rand.Read(b[:nonceBytes]); err != nil {
		return "", desk.Wrap(desk.EInternal, err, "random nonce")
	}
	binary.BigEndian.PutUint64(b[nonceBytes:], uint64(s.now().Add(s.ttl).Unix()))
	copy(b[nonceBytes+8:], s.mac(b[:nonceBytes+8], returnPath))
	return stateEncoding.EncodeToString(b[:]), nil
}

// Verify accepts state once, if this States issued it for returnPath and it
// has not expired. It refuses anything else with ErrStateInvalid (malformed,
// forged, or bound to another path), ErrBadReturnPath, ErrStateExpired or
// ErrStateReplayed, each a desk EUnauthorized error; a store failure is
// EUnavailable.
func (s *States) Verify(ctx context.Context, state, returnPath string) error {
	refuse := func(err error, msg string) error { return desk.Wrap(desk.EUnauthorized, err, msg) }
	if !ValidReturnPath(returnPath) {
		return refuse(ErrBadReturnPath, "the sign-in link is not valid; start again")
	}
	if len(state) != stateEncoding.EncodedLen(stateBytes) {
		return refuse(ErrStateInvalid, "the sign-in link is not valid; start again")
	}
	b, err := stateEncoding.DecodeString(state)
	if err != nil || len(b) != stateBytes {
		return refuse(ErrStateInvalid, "the sign-in link is not valid; start again")
	}
	if !hmac.Equal(b[nonceBytes+8:], s.mac(b[:nonceBytes+8], returnPath)) {
		return refuse(ErrStateInvalid, "the sign-in link is not valid; start again")
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[nonceBytes:])), 0)
	left := exp.Sub(s.now())
	if left <= 0 {
		return refuse(ErrStateExpired, "the sign-in took too long; start again")
	}
	// At least a second: Redis rounds a shorter expiry and the nonce must outlive the state.
	first, err := s.store.Claim(ctx, hex.EncodeToString(b[:nonceBytes]), max(left, time.Second))
	if err != nil {
		return desk.Wrap(desk.EUnavailable, err, "sign-in is unavailable; try again")
	}
	if !first {
		return refuse(ErrStateReplayed, "this sign-in link was already used; start again")
	}
	return nil
}

func (s *States) mac(nonceAndExpiry []byte, returnPath string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("servicedesk/wecom/state/v1\x00"))
	m.Write(nonceAndExpiry)
	m.Write([]byte(returnPath))
	return m.Sum(nil)[:macBytes]
}

// ValidReturnPath reports whether p is safe to redirect to after a login: a
// relative path on this origin ("/h5/c/42?x=1"), never a scheme, a host, a
// protocol-relative "//host" or "/\host" (browsers read a backslash as a
// slash), nor control characters.
func ValidReturnPath(p string) bool {
	if p == "" || len(p) > maxReturnPath || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

// MemoryNonces is a NonceStore for one process.
type MemoryNonces struct {
	mu  sync.Mutex
	m   map[string]time.Time
	now func() time.Time
}

var _ NonceStore = (*MemoryNonces)(nil)

// NewMemoryNonces returns an empty store; now defaults to time.Now.
func NewMemoryNonces(now func() time.Time) *MemoryNonces {
	if now == nil {
		now = time.Now
	}
	return &MemoryNonces{m: map[string]time.Time{}, now: now}
}

// Claim implements NonceStore. Expired nonces are swept as new ones come;
// only states with a valid signature reach the store, so it holds at most
// the logins of the last ttl.
func (m *MemoryNonces) Claim(_ context.Context, nonce string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for n, exp := range m.m {
		if !now.Before(exp) {
			delete(m.m, n)
		}
	}
	if _, used := m.m[nonce]; used {
		return false, nil
	}
	m.m[nonce] = now.Add(ttl)
	return true, nil
}
