package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// tokenTTL bounds how long seeded tokens outlive a run that is killed
// before it can delete them.
const tokenTTL = time.Hour

// seedBatch is how many commands go into one Redis pipeline round trip.
const seedBatch = 1000

// newTokens returns one random token per agent id.
func newTokens(ids []string) []string {
	tokens := make([]string, len(ids))
	for i := range tokens {
		tokens[i] = rand.Text()
	}
	return tokens
}

// seedTokens writes agent:token:{token} → agent id for every pair, the way
// the login service does, and returns a function that deletes them again.
func seedTokens(ctx context.Context, redisURL string, ids, tokens []string) (cleanup func(context.Context) error, err error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	rdb := redis.NewClient(opt)
	keys := make([]string, len(tokens))
	for i, t := range tokens {
		keys[i] = "agent:token:" + t
	}
	for lo := 0; lo < len(keys); lo += seedBatch {
		hi := min(lo+seedBatch, len(keys))
		pipe := rdb.Pipeline()
		for i := lo; i < hi; i++ {
			pipe.Set(ctx, keys[i], ids[i], tokenTTL)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			rdb.Close()
			return nil, fmt.Errorf("seed tokens: %w", err)
		}
	}
	return func(ctx context.Context) error {
		defer rdb.Close()
		for lo := 0; lo < len(keys); lo += seedBatch {
			if err := rdb.Del(ctx, keys[lo:min(lo+seedBatch, len(keys))]...).Err(); err != nil {
				return fmt.Errorf("delete tokens: %w", err)
			}
		}
		return nil
	}, nil
}
