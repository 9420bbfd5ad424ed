package wecom

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	_ TokenCache = (*RedisTokenCache)(nil)
	_ NonceStore = (*RedisNonces)(nil)
)

// compareAndDelete deletes KEYS[1] only while it holds ARGV[1].
var compareAndDelete = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// RedisTokenCache is a TokenCache in Redis: the token under its key with a
// PX expiry, and a SET NX PX lease as the refresh lock.
type RedisTokenCache struct {
	client redis.UniversalClient
}

// NewRedisTokenCache returns a cache over client.
func NewRedisTokenCache(client redis.UniversalClient) *RedisTokenCache {
	return &RedisTokenCache{client: client}
}

// Get implements TokenCache.
func (r *RedisTokenCache) Get(ctx context.Context, key string) (string, time.Duration, error) {
	pipe := r.client.Pipeline()
	get := pipe.Get(ctx, key)
	ttl := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return "", 0, err
	}
	tok, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	return tok, ttl.Val(), nil
}

// Set implements TokenCache.
func (r *RedisTokenCache) Set(ctx context.Context, key, token string, ttl time.Duration) error {
	return r.client.Set(ctx, key, token, ttl).Err()
}

// Delete implements TokenCache.
func (r *RedisTokenCache) Delete(ctx context.Context, key, token string) error {
	return compareAndDelete.Run(ctx, r.client, []string{key}, token).Err()
}

// Lock implements TokenCache. The lease holds a random value, so a node
// whose lease ran out cannot release the next holder's.
func (r *RedisTokenCache) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	ok, err := r.client.SetNX(ctx, key, owner, ttl).Result()
	if err != nil || !ok {
		return func() {}, false, err
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = compareAndDelete.Run(ctx, r.client, []string{key}, owner).Err()
	}
	return release, true, nil
}

// RedisNonces is a NonceStore in Redis shared by every node: SET NX with
// the state's remaining lifetime, under "wecom:state:{nonce}".
type RedisNonces struct {
	client redis.UniversalClient
}

// NewRedisNonces returns a store over client.
func NewRedisNonces(client redis.UniversalClient) *RedisNonces {
	return &RedisNonces{client: client}
}

// Claim implements NonceStore.
func (r *RedisNonces) Claim(ctx context.Context, nonce string, ttl time.Duration) (bool, error) {
	return r.client.SetNX(ctx, "wecom:state:"+nonce, 1, ttl).Result()
}
