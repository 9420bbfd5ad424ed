package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"
)

// config holds the parameters of one load test run.
type config struct {
	url          string
	redisURL     string
	n            int
	pid          int
	concurrency  int
	sources      int
	settle       time.Duration
	pacedEvents  int
	interval     time.Duration
	burstEvents  int
	skipFanout   bool
	hold         time.Duration
	noSeed       bool
	dialTimeout  time.Duration
	drainTimeout time.Duration
	apiKey       string
}

// parseConfig reads flags into a config and validates it.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadtest [flags]\n       loadtest messages [flags]   (see loadtest messages -h)\n       loadtest floor [--addr host:port]")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.url, "url", "ws://127.0.0.1:8000", "server base URL; agents connect to {url}/ws/{agent_id}")
	fs.StringVar(&c.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis holding agent:token:{token} keys")
	fs.IntVar(&c.n, "n", 1000, "number of receiving agent connections")
	fs.IntVar(&c.pid, "pid", 0, "server process id for VmRSS; 0 skips the memory measurement")
	fs.IntVar(&c.concurrency, "concurrency", 64, "handshakes in flight at once")
	fs.IntVar(&c.sources, "sources", 1, "loopback source addresses to spread connections over (127.0.0.1..127.0.0.N)")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "wait after the last handshake before reading memory")
	fs.IntVar(&c.pacedEvents, "paced-events", 100, "typing events in the paced fan-out run")
	fs.DurationVar(&c.interval, "interval", 100*time.Millisecond, "gap between paced events")
	fs.IntVar(&c.burstEvents, "burst-events", 200, "typing events in the burst fan-out run, sent back to back")
	fs.BoolVar(&c.skipFanout, "skip-fanout", false, "stop after the memory and handshake measurements")
	fs.DurationVar(&c.hold, "hold", 0, "keep the connections open this long at the end")
	fs.BoolVar(&c.noSeed, "no-seed", false, "do not write tokens to Redis (for the floor server)")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", 10*time.Second, "limit for one handshake")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Second, "end a fan-out run after this long without a delivery")
	fs.StringVar(&c.apiKey, "api-key", "loadtest-key", "the server's --api-key: fan-out events are sent with POST /api/push")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

// validate rejects values the run cannot honour.
func (c config) validate() error {
	u, err := url.Parse(c.url)
	switch {
	case err != nil:
		return fmt.Errorf("--url: %w", err)
	case u.Scheme != "ws" && u.Scheme != "wss":
		return fmt.Errorf("--url: scheme must be ws or wss, got %q", u.Scheme)
	case c.n < 1:
		return fmt.Errorf("--n must be at least 1")
	case c.concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1")
	case c.sources < 1 || c.sources > 254:
		return fmt.Errorf("--sources must be between 1 and 254")
	case c.pacedEvents < 0 || c.burstEvents < 0:
		return fmt.Errorf("event counts must not be negative")
	case c.interval <= 0 || c.dialTimeout <= 0 || c.drainTimeout <= 0:
		return fmt.Errorf("durations must be positive")
	}
	return nil
}
