package main

import (
	"flag"
	"fmt"
	"io"
	"time"
)

// config holds the parameters of one load test run.
type config struct {
	urls         []string // the nodes; connection i goes to urls[i%len(urls)]
	pushURL      string   // the node that receives every push, and the sender's socket
	redisURL     string
	n            int
	pids         []int    // one per urls entry (0 where unknown), or none
	watchComms   []string // other processes whose CPU time is reported
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
	var (
		c                             config
		rawURL, rawPids, rawWatchComm string
	)
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadtest [flags]\n       loadtest messages [flags]   (see loadtest messages -h)\n       loadtest drain [flags]      (see loadtest drain -h)\n       loadtest floor [--addr host:port]")
		fs.PrintDefaults()
	}
	fs.StringVar(&rawURL, "url", "ws://127.0.0.1:8000", "server base URL, or several nodes' URLs separated by commas: connections are spread over them round robin; agents connect to {url}/ws/{agent_id}")
	fs.StringVar(&c.pushURL, "push-url", "", "the node every fan-out event is pushed to, and where the sender's socket connects (default: the first --url)")
	fs.StringVar(&c.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis holding agent:token:{token} keys")
	fs.IntVar(&c.n, "n", 1000, "number of receiving agent connections")
	fs.StringVar(&rawPids, "pid", "", "server process id for VmRSS and CPU time; with several --url, one per node in the same order, separated by commas (0 for unknown); empty skips the memory measurement")
	fs.StringVar(&rawWatchComm, "watch-comm", "", "also report the CPU time of the processes with these command names, separated by commas (e.g. redis-server,postgres)")
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
	fs.StringVar(&c.apiKey, "api-key", "loadtest-key-0123456789abcdef01234567", "the server's --api-key: fan-out events are sent with POST /api/push")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.urls, err = parseNodeURLs("--url", rawURL); err != nil {
		return c, err
	}
	if c.pushURL == "" {
		c.pushURL = c.urls[0]
	} else if push, err := parseNodeURLs("--push-url", c.pushURL); err != nil || len(push) != 1 {
		return c, fmt.Errorf("--push-url: want one ws:// or wss:// URL")
	} else {
		c.pushURL = push[0]
	}
	if c.pids, err = parsePids(rawPids, len(c.urls)); err != nil {
		return c, err
	}
	c.watchComms = splitList(rawWatchComm)
	return c, c.validate()
}

// validate rejects values the run cannot honour.
func (c config) validate() error {
	switch {
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
