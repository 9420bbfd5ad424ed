//go:build !linux

package gateway

import "time"

// poller is Linux's (poller_linux.go); elsewhere each parked reader waits
// in a goroutine of its own.
type poller struct{}

func newPoller(time.Duration) *poller { return nil }

func (p *poller) hold(*reader) bool    { return false }
func (p *poller) release(*reader) bool { return false }
