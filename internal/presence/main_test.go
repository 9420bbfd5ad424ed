package presence

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a tracker's loop outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-redis keeps a pool reaper per client until Close, which the
		// tests' cleanups call; the reaper may still be winding down.
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"),
	)
}
