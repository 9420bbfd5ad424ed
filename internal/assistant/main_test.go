package assistant

import (
	"testing"

	"go.uber.org/goleak"
)

// Every stream's watchdog, request and stalled fake reply must be gone
// when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
