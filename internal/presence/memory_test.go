package presence

import (
	"testing"

	"github.com/servicedesk/servicedesk/internal/desk"
)

func TestMemory(t *testing.T) {
	runContract(t, func(_ *testing.T, b desk.Bus, opts Options) Tracker {
		return NewMemory(b, opts)
	})
}

func TestMemoryReadsAreImmediate(t *testing.T) {
	// No Run: reads do not wait for the loop, only announcements do.
	tr := NewMemory((&recorder{}).bus(), Options{})
	tr.Connected("a1")
	wantStatus(t, tr, "a1", Online)
	if n := tr.OnlineCount(); n != 1 {
		t.Errorf("OnlineCount = %d, want 1", n)
	}
	tr.Disconnected("a1")
	wantStatus(t, tr, "a1", Offline)
}
