package main

import (
	"flag"
	"fmt"
	"io"
	"time"
)

// drainConfig holds the parameters of one "loadtest drain" run.
type drainConfig struct {
	urls            []string // where the clients first connect, round robin
	drainURL        string   // the node that is sent SIGTERM
	drainPid        int
	reconnectURLs   []string // where closed clients reconnect, round robin
	redisURL        string
	clients         string // "agents" or "employees"
	agentUser       string
	agentPass       string
	n               int
	concurrency     int
	sources         int
	dialTimeout     time.Duration
	settle          time.Duration
	backoff         time.Duration
	resumeTimeout   time.Duration
	deadline        time.Duration
	messages        int
	messageInterval time.Duration
	pids            []int
	watchComms      []string
}

// backoffMax caps the delay between reconnect attempts, as the web
// client does.
const backoffMax = 10 * time.Second

// parseDrainConfig reads the drain subcommand's flags and validates them.
func parseDrainConfig(args []string, stderr io.Writer) (drainConfig, error) {
	var (
		c                                                    drainConfig
		rawURL, rawReconnect, rawPids, rawWatch, rawDrainURL string
	)
	fs := flag.NewFlagSet("loadtest drain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadtest drain --drain-pid PID [flags]   (against nodes started with --dev, sharing Redis and PostgreSQL)")
		fs.PrintDefaults()
	}
	fs.StringVar(&rawURL, "url", "ws://127.0.0.1:8000", "nodes the agent clients first connect to, separated by commas, round robin")
	fs.StringVar(&rawDrainURL, "drain-url", "", "the node that is drained: one of --url (default: the first)")
	fs.IntVar(&c.drainPid, "drain-pid", 0, "process id of the --drain-url node: it is sent SIGTERM")
	fs.StringVar(&rawReconnect, "reconnect-url", "", "nodes the closed clients reconnect to, separated by commas, round robin, as a load balancer would (default: --url without --drain-url)")
	fs.StringVar(&c.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis holding agent:token:{token} keys (--clients agents)")
	fs.StringVar(&c.clients, "clients", "agents", `who the clients are: "agents" (seeded tokens; all follow one queued conversation, which every agent may read) or "employees" (mock logins; each follows its own conversation, claimed by --agent-username)`)
	fs.StringVar(&c.agentUser, "agent-username", "demo", "with --clients employees: the agent who claims every conversation and writes during the drain")
	fs.StringVar(&c.agentPass, "agent-password", "demo", "its password")
	fs.IntVar(&c.n, "n", 1000, "clients")
	fs.IntVar(&c.concurrency, "concurrency", 64, "handshakes (and with --clients employees, setups) in flight at once before the drain")
	fs.IntVar(&c.sources, "sources", 1, "loopback source addresses to spread connections over (127.0.0.1..127.0.0.N)")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", 10*time.Second, "limit for one handshake or one REST call")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "wait between the last first resume and the SIGTERM, so presence announcements die down")
	fs.DurationVar(&c.backoff, "backoff", 500*time.Millisecond, "a closed client's first reconnect waits a uniform random delay in [backoff/2, backoff), doubling after each failed attempt up to 10s, as the web client does; 0 reconnects at once")
	fs.DurationVar(&c.resumeTimeout, "resume-timeout", 10*time.Second, "a reconnected client that has no resumed frame this long after its resume tries another connection")
	fs.DurationVar(&c.deadline, "deadline", time.Minute, "a client not resumed this long after its socket closed gives up and counts as failed")
	fs.IntVar(&c.messages, "messages", 5, "messages sent from the SIGTERM on, through a surviving node: by the employee in the shared conversation (agents), or by the agent in the conversations of clients on the drained node, one each (employees); every client must end with the last event of its conversation")
	fs.DurationVar(&c.messageInterval, "message-interval", 100*time.Millisecond, "gap between those messages")
	fs.StringVar(&rawPids, "pid", "", "server process ids whose CPU time is reported, separated by commas (the drained one shows as exited)")
	fs.StringVar(&rawWatch, "watch-comm", "", "also report the CPU time of the processes with these command names, separated by commas (e.g. redis-server,postgres)")
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
	c.drainURL = c.urls[0]
	if rawDrainURL != "" {
		d, err := parseNodeURLs("--drain-url", rawDrainURL)
		if err != nil {
			return c, err
		}
		if c.drainURL = d[0]; indexOf(c.urls, c.drainURL) < 0 {
			return c, fmt.Errorf("--drain-url %s is not one of --url", c.drainURL)
		}
	}
	if rawReconnect != "" {
		if c.reconnectURLs, err = parseNodeURLs("--reconnect-url", rawReconnect); err != nil {
			return c, err
		}
	} else {
		for _, u := range c.urls {
			if u != c.drainURL {
				c.reconnectURLs = append(c.reconnectURLs, u)
			}
		}
	}
	if c.pids, err = parsePids(rawPids, 0); err != nil {
		return c, err
	}
	c.watchComms = splitList(rawWatch)
	return c, c.validate()
}

// validate rejects values the run cannot honour.
func (c drainConfig) validate() error {
	switch {
	case c.clients != "agents" && c.clients != "employees":
		return fmt.Errorf("--clients must be agents or employees, not %q", c.clients)
	case c.drainPid <= 0:
		return fmt.Errorf("--drain-pid is required: the process id of the node at --drain-url")
	case len(c.reconnectURLs) == 0:
		return fmt.Errorf("no node left to reconnect to: give --url several nodes, or --reconnect-url")
	case indexOf(c.reconnectURLs, c.drainURL) >= 0:
		return fmt.Errorf("--reconnect-url must not name the drained node %s", c.drainURL)
	case c.n < 1 || c.concurrency < 1:
		return fmt.Errorf("--n and --concurrency must be at least 1")
	case c.sources < 1 || c.sources > 254:
		return fmt.Errorf("--sources must be between 1 and 254")
	case c.dialTimeout <= 0 || c.resumeTimeout <= 0 || c.deadline <= 0:
		return fmt.Errorf("--dial-timeout, --resume-timeout and --deadline must be positive")
	case c.settle < 0 || c.backoff < 0 || c.messages < 0 || c.messageInterval < 0:
		return fmt.Errorf("--settle, --backoff, --messages and --message-interval must not be negative")
	}
	return nil
}

// flags renders the parameters the figures depend on, for the report.
func (c drainConfig) flags() string {
	return fmt.Sprintf("--clients %s --n %d --concurrency %d --sources %d --settle %s --backoff %s --resume-timeout %s --deadline %s --messages %d --message-interval %s",
		c.clients, c.n, c.concurrency, c.sources, c.settle, c.backoff, c.resumeTimeout, c.deadline, c.messages, c.messageInterval)
}
